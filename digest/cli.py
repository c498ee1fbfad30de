"""The command line: parse, call, report. The work is done by the modules each command imports."""

from __future__ import annotations

import inspect
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from digest import __version__, config, i18n
from digest.i18n import N_, _, ngettext
from digest.model import Collected

if TYPE_CHECKING:
    from digest import letterfolder, pipeline
    from digest.audience import bounces
    from digest.audience.joining import Signups
    from digest.delivery import smtp

CONFIG_HELP = "The configuration file (default: sources.toml in the current folder)."
STORE = "\0store"  # what --list stands for when given no file: the subscriber store


def _parse_date(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(_("{value!r} is not a date; write it as YYYY-MM-DD, e.g. 2025-11-20").format(
                                     value=value)) from None


F = TypeVar("F", bound=Callable[..., Any])

config_option = click.option("-c", "--config", "config_path", type=click.Path(path_type=Path),
                             default="sources.toml", show_default=True, help=CONFIG_HELP)


def date_option(help_text: str) -> Callable[[F], F]:
    """The --date option every command that picks a letter shares."""
    return click.option("--date", "letter_date", callback=_parse_date, metavar="YYYY-MM-DD", help=help_text)


def _letter_day(cfg: config.Config, letter_date: date | None) -> date:
    """The issue's date: --date, else [letter] date, else today (the clock is read here, never in a stage)."""
    return letter_date or cfg.letter.date or date.today()


class Digest(click.Group):
    """digest's command group: it chooses the interface language before click reads the command line."""

    def main(self, args: Sequence[str] | None = None, *rest: Any, **options: Any) -> Any:
        """Speak the chosen language (--lang, DIGEST_LANG, sources.toml, the locale), then run the command."""
        from digest import i18n

        i18n.use(i18n.choose_for_command(list(sys.argv[1:] if args is None else args)))
        i18n.translate_click()
        translate_helps(self)
        return super().main(args, *rest, **options)


def help_texts(command: click.Command) -> Iterator[tuple[click.Command | click.Parameter, str]]:
    """Every help text of `command` and its subcommands, as written in the code (the catalogue's messages)."""
    source = getattr(command, "source_help", None) or command.help
    if source:
        yield command, inspect.cleandoc(source)
    for param in command.params:
        text = getattr(param, "source_help", None) or getattr(param, "help", None)
        if text:
            yield param, text
    for sub in getattr(command, "commands", {}).values():
        yield from help_texts(sub)


def translate_helps(command: click.Command) -> None:
    """Show the help texts of every command and option in the interface language (the source kept aside)."""
    for owner, text in list(help_texts(command)):
        owner.source_help = text  # type: ignore[union-attr]
        owner.help = _(text)


def _set_language(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """--lang was read before click parsed the line (Digest.main); here it is only checked."""


@click.group(cls=Digest, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="digest")
@click.option("--lang", type=click.Choice(["fr", "en"]), expose_value=False, is_eager=True, callback=_set_language,
              help="The interface language (default: DIGEST_LANG, [letter] interface, the locale, the letter's).")
def main() -> None:
    """Build the e-mail letter from the sources named in sources.toml.

    \b
    A month's letter, step by step:
      digest draft            write issues/<YYYY-MM>.toml to edit (édito, pins, exclusions)
      digest preview          the editorial desk: make the letter in the browser
      digest check            the pre-send report (exit 1 on any error)
      digest build            write outbox/<date>/ (letter.html, .txt, .eml, digest.json)
      digest send --to ME     a test send to yourself
      digest send --list subscribers.csv    the real send, exactly once (it asks first)
      digest publish DEST     the public files of every letter, to put on the web server
      digest letters          where each letter stands: built, tested, sending, sent, published
    Each command's --help tells more.
    """


@main.command()
@config_option
@date_option("The issue's date (default: [letter] date, else today). Names the outbox folder.")
@click.option("-o", "--outbox", "out", type=click.Path(path_type=Path),
              help="Where to write the letter (default: outbox/ beside sources.toml).")
@click.option("--strict", is_flag=True, help="Fail (exit 1, nothing written) when there is any warning.")
@click.option("--include-sent", is_flag=True,
              help="Keep items that an earlier letter in OUTBOX already carried (left out by default).")
@click.option("--offline", is_flag=True, help="Read web sources from the cache alone (their last good copies).")
@click.option("--force", is_flag=True, help="Build again a letter whose list send has begun (some have the old one).")
def build(config_path: Path, letter_date: date | None, out: Path | None, strict: bool, include_sent: bool,
          offline: bool, force: bool) -> None:
    """Collect, select, render and write the letter to OUTBOX/<date>/.

    Writes letter.html (the e-mail), letter.txt (its text twin), letter.mjml, letter.eml (ready to send)
    and digest.json (what was selected). A source that fails is a warning; the rest is still built.
    """
    from digest import pipeline
    from digest.delivery import journal

    cfg = config.load(config_path)
    today = _letter_day(cfg, letter_date)
    out = out or cfg.outbox
    _guard_rebuild(cfg, out, today, force)
    click.echo(_("Building “{title}” for {value} from {config_path}").format(
                   title=cfg.letter.title, value=i18n.day(today), config_path=config_path))
    with SourceLines(len(cfg.sources)) as on_source:
        built = pipeline.build(cfg, today, out, strict=strict, on_source=on_source, include_sent=include_sent,
                               offline=offline, sends=journal.sends(cfg))
    _print_report(built)


def _guard_rebuild(cfg: config.Config, out: Path, day: date, force: bool) -> None:
    """Refuse to build again a letter whose list send began, unless --force (then say who has the old one)."""
    from digest import letterfolder
    from digest.delivery import journal

    for note in journal.migrate(cfg, out, day):  # the folder is about to be replaced: its journal must not go
        click.echo(_("note: {note}").format(note=note))
    sent = letterfolder.may_rebuild(day, force, journal.sends(cfg))
    if sent:
        click.echo(_("warning: {sent} subscriber(s) got the earlier version of {value}; the rest of the list send "
                     "will carry this one").format(sent=sent, value=i18n.day(day)), err=True)


def _print_source(result: Collected) -> None:
    click.echo(_source_line(result))


def _source_line(result: Collected) -> str:
    status = _("failed") if result.failed else ngettext("{count} item", "{count} items", len(result.items)).format(
        count=len(result.items))
    origin = f"  {result.origin}" if result.origin and not result.failed else ""
    return _("  read {source:<24} {status:>10}  ({value:.0f} ms){origin}").format(
               source=result.source, status=status, value=result.seconds * 1000, origin=origin)


class SourceLines:
    """Prints each source as it completes; on a terminal, a progress bar stays below the lines."""

    def __init__(self, total: int) -> None:
        self.bar = (click.progressbar(length=total, label="Collecting", show_pos=True, show_eta=False)
                    if total and sys.stdout.isatty() else None)
        self.total = total
        self.done = 0

    def __enter__(self) -> SourceLines:
        if self.bar is not None:
            self.bar.render_progress()
        return self

    def __call__(self, result: Collected) -> None:
        self.done += 1
        if self.bar is None:
            _print_source(result)
            return
        click.echo("\r\033[K" + _source_line(result))  # erase the bar, print the line, draw the bar again
        self.bar.update(1)
        if self.done >= self.total:
            self._remove_bar()

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self._remove_bar()

    def _remove_bar(self) -> None:
        """Erase the bar and show the cursor again (click hides it while a bar is drawn)."""
        click.echo("\r\033[K\033[?25h", nl=False)
        self.bar = None


STAGES = {"collect": N_("collect"), "select": N_("select"), "render": N_("render"), "write": N_("write")}


def _print_report(built: pipeline.Built) -> None:
    prepared, letter = built.prepared, built.letter
    if prepared.issue.path:
        click.echo(_("Issue file: {path} ({count} featured, {count2} pinned, {count3} excluded)").format(
                       path=prepared.issue.path, count=len(letter.featured), count2=len(prepared.issue.pin),
                       count3=len(prepared.issue.exclude)))
    click.echo(_("Sections:"))
    for section in letter.sections:
        sources = ", ".join(f"{name} {n}" for name, n in Counter(i.source for i in section.items).items())
        click.echo(_("  {title} ({id}): {count} kept, from {sources}").format(
                       title=section.title, id=section.id, count=len(section.items), sources=sources))
    for note in prepared.notes:
        click.echo(_("  note: {note}").format(note=note))
    for problem in built.warnings:
        click.echo(_("warning: {problem}").format(problem=problem), err=True)
    if built.written:
        click.echo(_("Written to {parent}/:").format(parent=built.written[0].path.parent))
        for written in built.written:
            name = os.path.relpath(written.path, built.written[0].path.parent)  # ../index.html too
            click.echo(_("  {name:<12} {value:7.1f} KB").format(name=name, value=written.size / 1024))
    timings = " · ".join(f"{_(STAGES.get(stage, stage))} {seconds * 1000:.0f} ms"
                         for stage, seconds in built.timings.items())
    click.echo(_("Time: {timings} · total {value:.0f} ms").format(
                   timings=timings, value=sum(built.timings.values()) * 1000))
    if built.written:
        click.echo(_("Open {path} in a browser to preview it.").format(path=built.written[0].path))


@main.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--templates", "with_templates", is_flag=True,
              help="Also copy the stock templates into FOLDER/templates/ to edit them.")
def init(folder: Path, with_templates: bool) -> None:
    """Start a letter in FOLDER: a commented sources.toml, issues/exemple.toml and sample data.

    A first `digest build` there works offline. Existing files are never overwritten. The templates stay
    inside digest until --templates copies them for editing; a copied template overrides the stock one.
    """
    from digest import starter

    created = starter.create(folder, date.today(), with_templates)
    for written in created.written:
        click.echo(_("  wrote {relpath}").format(relpath=os.path.relpath(written.path, folder)))
    for path in created.kept:
        click.echo(_("  kept  {relpath} (already there, not overwritten)").format(
            relpath=os.path.relpath(path, folder)))
    click.echo(_("Next: cd {folder} && digest build   (then digest preview to see it in a browser)").format(
                   folder=folder))


@main.command()
@config_option
@date_option("The issue's date (default: [letter] date, else today). Names the issue file's month.")
@click.option("-o", "--outbox", "out", type=click.Path(path_type=Path),
              help="Where earlier letters are (default: outbox/ beside sources.toml): their items are not listed.")
def draft(config_path: Path, letter_date: date | None, out: Path | None) -> None:
    """Write issues/<YYYY-MM>.toml listing every item the build would send; never overwrites one.

    Each item is a commented line to copy into pin, featured or exclude, or into an [[override]].
    """
    from digest import issuefile, pipeline
    from digest.delivery import journal
    from digest.edit import draft as drafting

    cfg = config.load(config_path)
    today = _letter_day(cfg, letter_date)
    path = issuefile.path_for(cfg, today)
    if path.exists():
        raise drafting.DraftExists(_("{path} already exists; edit it, or move it away to draft a new one").format(
                                       path=path))
    prepared = pipeline.prepare(cfg, today, out or cfg.outbox, sends=journal.sends(cfg))
    for note in prepared.notes:
        click.echo(_("  note: {note}").format(note=note))
    for problem in prepared.warnings:
        click.echo(_("warning: {problem}").format(problem=problem), err=True)
    written = drafting.write_new(path, drafting.draft_text(prepared.letter))
    click.echo(_("Wrote {path} with {count} items; edit it, then run digest build.").format(
                   path=written.path, count=len(prepared.letter.items)))


@main.command()
@config_option
@date_option("The issue's date (default: [letter] date, else today).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="The port to listen on (0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on; anything but loopback shows the letter to your network.")
@click.option("--no-open", is_flag=True, help="Do not open the page in a web browser.")
def preview(config_path: Path, letter_date: date | None, port: int, host: str, no_open: bool) -> None:
    """The editorial desk: make the month's letter in the browser, saved as issues/<YYYY-MM>.toml.

    Every candidate item per section with its actions (exclude, pin, feature, edit, add), the subject,
    preheader and editorial, the letter at desktop and phone widths and in dark mode, the pre-send report and
    a test send. Each change is written to the issue file at once; a change to any input file rebuilds the
    letter. Nothing is written to the outbox. Ctrl-C stops it. It prints (and opens) an address with a one-time
    key: the desk opens only in the browser that visits it (a cookie), never for another user of the machine.
    """
    from digest.review import check, desk
    from digest.review import preview as review  # the server's modules load only for this command

    config.load(config_path)  # a broken configuration stops here, with its usual message
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(_("warning: listening on {host}: anyone who can reach this machine can read and change the "
                     "letter").format(host=host), err=True)

    def ready(url: str) -> None:
        snapshot = session.snapshot
        state = (_("error: {error}").format(error=snapshot.error) if snapshot.error else
                 check.summary(snapshot.findings))
        click.echo(_("Preview of {config_path} at {url} ({state})\nWatching its files; Ctrl-C to stop.").format(
                       config_path=config_path, url=url, state=state))
        if not no_open:
            import webbrowser  # only the preview opens a browser

            webbrowser.open(url)

    session = review.Preview(config_path, letter_date, log=lambda line: click.echo(f"  {line}"))
    desk.serve(session, host, port, ready)
    click.echo(_("Preview stopped."))


@main.command(name="check")
@config_option
@date_option("The issue's date (default: [letter] date, else today).")
@click.option("--links", is_flag=True, help="Also fetch every link and image, and list the broken ones.")
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds to wait for each link with --links.")
@click.option("--allow-private", is_flag=True,
              help="With --links, also fetch links to loopback, private and link-local addresses.")
@click.option("--accept", "accepted_keys", multiple=True, metavar="KEY",
              help="Do not list warnings of this kind (e.g. css-border-radius); repeat for more.")
@click.option("-v", "--verbose", is_flag=True, help="Give each finding's detail, and list the accepted ones.")
def check_command(config_path: Path, letter_date: date | None, links: bool, timeout: float, allow_private: bool,
                  accepted_keys: tuple[str, ...], verbose: bool) -> None:
    """The pre-send report: build the letter (nothing written) and list what is wrong with it, errors first.

    Warnings accepted in check-accept.toml beside the template (or with --accept) are only counted.
    Exit code 1 when there is any error, 0 when there are only warnings or nothing.
    """
    from digest.review import accept, check, linkcheck

    cfg = config.load(config_path)
    accepted = accept.load(cfg.letter.templates, accepted_keys)
    today = _letter_day(cfg, letter_date)
    built, findings = check.build_and_check(cfg, today)
    click.echo(_("Checking “{subject}” for {value} ({value2:.1f} KB of HTML, {count} items)").format(
                   subject=built.rendered.subject, value=i18n.day(today),
                   value2=len(built.rendered.html.encode('utf-8')) / 1024, count=len(built.letter.items)))
    if links:
        results, broken = linkcheck.check(built.rendered.html, timeout=timeout, allow_private=allow_private)
        click.echo(_("Fetched {count} links and images: {count2} broken").format(
            count=len(results), count2=len(broken)))
        findings = check.ordered([*broken, *findings])
    shown, hidden = accept.split(findings, accepted)
    listed = [(f, f.line()) for f in shown]
    listed += [(f, _("accepted") + " " + f.line().split(" ", 1)[1].lstrip()) for f in hidden] if verbose else []
    for finding, line in listed:
        click.echo(line)
        if verbose and finding.detail:
            click.echo(f"{'':9}{finding.detail}")
    also = ""
    if hidden and not verbose:
        also = " " + (_("({count} accepted in {file}; -v lists them)") if accepted.file else
                      _("({count} accepted; -v lists them)")).format(count=len(hidden), file=accepted.file)
    click.echo(check.summary(shown) + also + ".")
    if (list_line := check.audience(cfg)) is not None:
        click.echo(list_line)
    if check.errors(findings):
        raise SystemExit(1)


@main.command(name="sources")
@config_option
@click.option("--check", is_flag=True, help="Read every source now (as a build does) before printing the table.")
def sources_command(config_path: Path, check: bool) -> None:
    """The health of every source: last success, HTTP status, items, newest item, failures, last error.

    Recorded by each build (or --check) in the cache folder. A source with nothing new for longer than its
    section's window_days is flagged stale.
    """
    from datetime import UTC
    from zoneinfo import ZoneInfo

    from digest.collectors import health

    cfg = config.load(config_path)
    if check:
        from digest import pipeline

        with SourceLines(len(cfg.sources)) as on_source:
            results = pipeline.collect(cfg, cfg.letter.date or date.today(), on_source)
        for problem in (p for r in results for p in r.problems):
            click.echo(_("warning: {problem}").format(problem=problem), err=True)
    rows = health.rows(cfg, health.load(cfg.cache_dir), datetime.now(UTC))
    click.echo(health.table(rows, ZoneInfo(cfg.letter.timezone)))


@main.command(name="send")
@config_option
@date_option("The letter to send (default: the newest built letter whose list send is not complete).")
@click.option("-o", "--outbox", "out", type=click.Path(path_type=Path),
              help="Where the built letter is (default: outbox/ beside sources.toml).")
@click.option("--to", "to", multiple=True, metavar="ADDRESS",
              help="A test send to this address, subject prefixed [TEST]; repeat for more. Not journalled.")
@click.option("--list", "list_path", is_flag=False, flag_value=STORE, metavar="[SUBSCRIBERS.CSV]",
              help="The real send, to every subscriber of this CSV not yet sent to; without a file, to the "
                   "subscribed addresses of the subscriber store.")
@click.option("--dry-run", is_flag=True, help="Write each copy to <private_dir>/<date>/dry-run/ instead of sending.")
@click.option("--status", is_flag=True, help="Show the issue's send journal: sent, failed, pending, unknown.")
@click.option("--resend-unknown", is_flag=True,
              help="Also send to those whose earlier transaction ended with no answer (they may get it twice).")
@click.option("--yes", is_flag=True, help="Answer yes to the question a list send asks first (for scripts).")
@click.option("--allow-stale", is_flag=True, help="Send even though a file the letter was built from changed since.")
def send_command(config_path: Path, letter_date: date | None, out: Path | None, to: tuple[str, ...],
                 list_path: str | None, dry_run: bool, status: bool, resend_unknown: bool, yes: bool,
                 allow_stale: bool) -> None:
    """Send the built letter: a test with --to, the real send with --list, exactly once per subscriber.

    The letter is --date's, else the newest built letter whose list send is not complete ([letter] date is
    for building only); it is named before anything is sent. A list send shows what it will send and asks
    first. Every transaction is recorded before and after in <private_dir>/<date>/send-journal.sqlite: after
    a crash or a network failure, run the same command again and only those not yet sent get it. Exit codes:
    0 done, 1 some recipients still to send (pending, deferred, unknown, server unreachable), 2 a user's error.
    """
    from digest.delivery import journal, listsend, smtp

    if sum(map(bool, (to, list_path, status))) != 1:
        raise click.UsageError(_("give exactly one of --to ADDRESS, --list [SUBSCRIBERS.CSV] or --status"))
    cfg = config.load(config_path)
    outbox = out or cfg.outbox
    chosen = _which_letter(cfg, outbox, letter_date, sent_ok=list_path is None or dry_run)
    day = chosen.day
    for note in journal.migrate(cfg, outbox, day):
        click.echo(_("note: {note}").format(note=note))
    if status:
        _print_status(journal.folder_for(cfg, day), day)
        _print_letter_stats(cfg, day)
        return
    _refuse_stale(cfg, chosen, allow_stale)
    job = smtp.load_job(cfg, day, outbox, test=bool(to))
    if to:
        _send_test(job, to, dry_run)
    else:
        assert list_path is not None
        listsend.send_to_list(job, chosen, None if list_path == STORE else Path(list_path), dry_run,
                              resend_unknown, yes)


def _which_letter(cfg: config.Config, outbox: Path, given: date | None, *, sent_ok: bool) -> letterfolder.LetterState:
    """The letter a command acts on, named (with the other candidates when it chose among several)."""
    from digest import letterfolder
    from digest.delivery import journal

    choice = letterfolder.choose(cfg, outbox, given, journal.sends(cfg), sent_ok=sent_ok)
    click.echo(_("Letter {title}: {state} ({reason})").format(
                   title=choice.letter.title(), state=choice.letter.state, reason=choice.reason))
    if choice.others:
        click.echo(_("  also not sent: ") + ", ".join(o.title() for o in choice.others)
                   + _("; give --date YYYY-MM-DD to act on one of them"))
    return choice.letter


def _refuse_stale(cfg: config.Config, letter: letterfolder.LetterState, allow_stale: bool) -> None:
    """DigestError (exit 2) when a file the letter was built from changed since, unless --allow-stale."""
    from digest import letterfolder

    changed = letterfolder.refuse_stale(cfg, letter, allow_stale)
    if changed:
        click.echo(_("warning: used as built although these files changed since: {value}").format(
                       value=', '.join(changed)), err=True)


def _send_test(job: smtp.Job, to: tuple[str, ...], dry_run: bool) -> None:
    from digest import letterfolder
    from digest.delivery import listsend, personalize, smtp

    recipients = personalize.recipients_of(to)
    if dry_run:
        paths = smtp.dry_run(job.personalizer, recipients, job.private / "dry-run")
        click.echo(_("Dry run: {count} test copies written to {value}/").format(
                       count=len(paths), value=job.private / 'dry-run'))
        return
    connection = smtp.connection_for(job.cfg)
    click.echo(_("Test send of “[TEST] {subject}” to {value} via {host}:{port}").format(
                   subject=job.letter.subject, value=', '.join(r.email for r in recipients), host=connection.smtp.host,
                   port=connection.smtp.port))
    report = smtp.send_test(job.personalizer, recipients, connection)
    listsend.print_report(report)
    if report.sent:
        letterfolder.note(job.cfg, job.letter.date, "tested")
    if report.sent < len(recipients):
        raise SystemExit(1)


def _print_status(folder: Path, day: date) -> None:
    from digest.delivery import journal

    found = journal.status(folder)
    if found is None:
        click.echo(_("No list send of {value} yet ({folder} has no send journal).").format(
                       value=i18n.day(day), folder=folder))
        return
    counts, rows = found
    click.echo(_("Send journal of {value} ({value2}):").format(
        value=i18n.day(day), value2=folder / journal.FILE_NAME))
    click.echo("  " + " · ".join(f"{state} {count}" for state, count in counts.items()))
    for row in rows:
        words = f"{row.code} {row.response}" if row.code else (row.response or "")
        click.echo(f"  {row.state:<9} {row.email}  {words}".rstrip())
    if counts["unknown"]:
        click.echo(_("Unknown: their transaction was under way when a run stopped; `--resend-unknown` sends again."))


@main.command(name="export")
@config_option
@date_option("The letter to export (default: the newest built letter whose list send is not complete).")
@click.option("-o", "--outbox", "out", type=click.Path(path_type=Path),
              help="Where the built letter is (default: outbox/ beside sources.toml).")
@click.option("--esp", required=True, type=click.Choice(["brevo", "mailchimp"]),
              help="The e-mail service whose merge tags replace our unsubscribe and web-version links.")
@click.option("--allow-stale", is_flag=True, help="Export even though a file the letter was built from changed since.")
def export_command(config_path: Path, letter_date: date | None, out: Path | None, esp: str, allow_stale: bool) -> None:
    """Write the built letter's HTML and text with an e-mail service's merge tags, ready to paste there."""
    from digest.delivery import export

    cfg = config.load(config_path)
    outbox = out or cfg.outbox
    chosen = _which_letter(cfg, outbox, letter_date, sent_ok=True)
    _refuse_stale(cfg, chosen, allow_stale)
    letter = chosen.letter
    for written in export.export(letter, esp):
        click.echo(_("Wrote {path} ({value:.1f} KB)").format(path=written.path, value=written.size / 1024))
    click.echo(_("Paste the .html into {name}'s HTML editor; its own unsubscribe and web-version links are in "
                 "place of ours.").format(name=export.SERVICES[esp].name))


@main.command(name="letters")
@config_option
@click.option("-o", "--outbox", "out", type=click.Path(path_type=Path),
              help="Where the letters are (default: outbox/ beside sources.toml).")
def letters_command(config_path: Path, out: Path | None) -> None:
    """One line per letter of the outbox: date, subject, state, when built, whether its inputs changed since.

    States: built, tested (a --to send went), sending (list send begun, someone still pending, deferred or
    unknown), sent (with its counts), and published.
    """
    from digest import letterfolder
    from digest.delivery import journal

    cfg = config.load(config_path)
    found = letterfolder.every(cfg, out or cfg.outbox, journal.sends(cfg))
    if not found:
        click.echo(_("No letter in {value} yet; digest build writes one.").format(value=out or cfg.outbox))
    for letter in found:
        changed = letterfolder.changed(cfg, letter.folder, letter.day)
        inputs_word = (_("inputs unknown") if changed is None else
                       _("changed since: {files}").format(files=", ".join(changed)) if changed else
                       _("inputs unchanged"))
        click.echo(_("{title}  {state}  built {astimezone:%Y-%m-%d %H:%M}  {inputs_word}").format(
                       title=letter.title(), state=letter.state, astimezone=letter.built.astimezone(),
                       inputs_word=inputs_word))


@main.command(name="publish")
@config_option
@click.argument("dest", type=click.Path(path_type=Path))
@date_option("Also publish this letter although its list send has not begun (a letter put on the web first).")
@click.option("-o", "--outbox", "out", type=click.Path(path_type=Path),
              help="Where the letters are (default: outbox/ beside sources.toml).")
@click.option("--dry-run", is_flag=True, help="List what would be copied to DEST; copy nothing.")
@click.option("--allow-stale", is_flag=True,
              help="Publish the --date letter even though a file it was built from changed since.")
def publish_command(config_path: Path, dest: Path, letter_date: date | None, out: Path | None, dry_run: bool,
                    allow_stale: bool) -> None:
    """Copy the public files of the letters the list received (letter.html, letter.txt, agenda/) into DEST, and
    the archive's index.html listing what DEST holds.

    A letter never sent to the list (a trial, an abandoned draft) is published only when named with --date.
    Nothing private goes (no journal, no copy, no address); each letter's folder in DEST is replaced whole,
    so a reader never sees half a letter. Then put DEST on the web server, e.g. with rsync.
    """
    from digest import letterfolder
    from digest.delivery import journal
    from digest.errors import DigestError
    from digest.web import feed, publish

    cfg = config.load(config_path)
    outbox = out or cfg.outbox
    states = letterfolder.every(cfg, outbox, journal.sends(cfg))
    days = {s.day.isoformat() for s in states if s.began}
    if letter_date is not None:
        chosen = letterfolder.choose(cfg, outbox, letter_date, journal.sends(cfg), sent_ok=True).letter
        if not chosen.began:
            _refuse_stale(cfg, chosen, allow_stale)
        days.add(chosen.day.isoformat())
    if not days:
        raise DigestError(_("no letter of {outbox} has been sent to the list yet: nothing to publish. `digest "
                            "publish DEST --date YYYY-MM-DD` publishes a letter before its send").format(outbox=outbox))
    from digest.contribute.moderate import images_dir

    plan = publish.plan(outbox, days, images_dir(cfg))
    click.echo(_("Letters: ") + ", ".join(s.title() for s in reversed(states) if s.day.isoformat() in days))
    if dry_run:
        for name in plan.names():
            click.echo(_("  would copy {name}").format(name=name))
        click.echo(_("Dry run: {count} file(s) of {count2} letter(s) would go to {dest}/").format(
                       count=len(plan.names()), count2=len(plan.folders), dest=dest))
        return
    archive = letterfolder.Archive(cfg.letter.title, cfg.letter.language, cfg.letter.address,
                                   cfg.subscribe.url, feed.FILE)
    written = publish.publish(plan, dest, archive, feed.for_letters(cfg, states, dest, days))
    for day in plan.folders:
        letterfolder.note(cfg, date.fromisoformat(day), "published")
    click.echo(_("Published {count} letter(s), {count2} file(s), to {dest}/; now copy it to the web server, e.g. "
                 "rsync -a {dest}/ server:/var/www/lettre/").format(
                   count=len(plan.folders), count2=len(written), dest=dest))


@main.command(name="discard")
@config_option
@click.argument("day", metavar="DATE", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("-o", "--outbox", "out", type=click.Path(path_type=Path),
              help="Where the letters are (default: outbox/ beside sources.toml).")
def discard_command(config_path: Path, day: datetime, out: Path | None) -> None:
    """Take a letter that was never sent to the list (a trial build, an abandoned draft) out of the outbox.

    It is moved, not deleted, into the private folder's discarded/ and can be moved back. A letter whose list
    send began is refused: it is part of the list's history.
    """
    from digest import letterfolder
    from digest.delivery import journal

    cfg = config.load(config_path)
    outbox = out or cfg.outbox
    moved = letterfolder.discard(cfg, outbox, day.date(), journal.sends(cfg))
    letterfolder.write_index(outbox, letterfolder.Archive(cfg.letter.title, cfg.letter.language, cfg.letter.address))
    click.echo(_("Letter {value} moved out of {outbox} into {moved}.\nTo bring it back: mv {moved} {path}").format(
                   value=day.date().isoformat(), outbox=outbox, moved=moved,
                   path=letterfolder.path(outbox, day.date())))


def _print_letter_stats(cfg: config.Config, day: date) -> None:
    """What the store recorded about this letter's recipients afterwards (digest serve, digest bounces)."""
    from digest.audience.subscribers import Store

    if not cfg.subscribers_path.is_file():
        return
    with Store(cfg.subscribers_path) as store:
        stats = store.letter(day.isoformat())
    click.echo(_("Since: unsubscribed {unsubscribed} · bounced {bounced} · temporary failures {soft_bounces} · "
                 "complained {complained}").format(
                   unsubscribed=stats.unsubscribed, bounced=stats.bounced, soft_bounces=stats.soft_bounces,
                   complained=stats.complained))


@main.group(name="subscribers")
def subscribers_group() -> None:
    """The subscriber store (subscribers.sqlite beside sources.toml): import, export, add, remove, list, stats,
    erase. `digest send --list` with no file sends to its subscribed addresses."""


def _store(config_path: Path, create: bool = False) -> Signups:
    """The subscriber store of the configuration (with its sign-ups and consent record); made only by the
    commands that add to it."""
    from digest.audience.joining import Signups
    from digest.errors import DigestError

    path = config.load(config_path).subscribers_path
    if not create and not path.exists():
        raise DigestError(_("no subscriber store at {path} yet: `digest subscribers import FILE.csv` or `digest "
                            "subscribers add ADDRESS` makes it").format(path=path))
    return Signups(path)


@subscribers_group.command(name="import")
@config_option
@click.argument("csv_path", metavar="FILE.csv", type=click.Path(path_type=Path))
@click.option("--resubscribe", is_flag=True,
              help="Subscribe again those of the file who unsubscribed or bounced (never those who complained).")
@click.option("--consent", default="", metavar="TEXT",
              help='Where these people gave their consent, e.g. "formulaire papier AG 2025" (kept with each).')
def subscribers_import(config_path: Path, csv_path: Path, resubscribe: bool, consent: str) -> None:
    """Add or update the store from a CSV (the same columns as for --list; other columns are kept as fields)."""
    from digest.audience.subscribers import now

    with _store(config_path, create=True) as store:
        began = now()
        report = store.import_csv(csv_path, resubscribe=resubscribe)
        store.record_import(began, " ".join(consent.split()), csv_path.name)
    click.echo(_("{csv_path}: {added} added, {updated} updated, {unchanged} unchanged, {count} invalid, {count2} "
                 "not subscribed again, {count3} merged").format(
                   csv_path=csv_path, added=report.added, updated=report.updated, unchanged=report.unchanged,
                   count=len(report.invalid), count2=len(report.kept_out), count3=len(report.merged)))
    for line, kept, email in report.merged:
        click.echo(_("  line {line}: {email} is the address of line {kept} (case aside): line {kept} kept, this "
                     "row left out").format(line=line, email=email, kept=kept))
    for rejected in report.invalid:
        click.echo(_("  line {line}: {email!r} invalid: {reason}").format(
                       line=rejected.line, email=rejected.email, reason=rejected.reason))
    for rejected in report.kept_out:
        click.echo(_("  line {line}: {email} not subscribed again: {reason}").format(
                       line=rejected.line, email=rejected.email, reason=rejected.reason))


@subscribers_group.command(name="export")
@config_option
@click.argument("csv_path", metavar="[FILE.csv]", required=False, type=click.Path(path_type=Path))
def subscribers_export(config_path: Path, csv_path: Path | None) -> None:
    """Write every address with its status and fields as CSV (to FILE.csv, else to the terminal)."""
    from digest.files import PRIVATE, write_atomic

    with _store(config_path) as store:
        text = store.export_csv()  # with when, how and to which wording each consent was given
    if csv_path is None:
        click.echo(text, nl=False)
        return
    # With a BOM: the team's spreadsheet reads UTF-8. Owner only, whatever the umask: it holds every address.
    written = write_atomic(csv_path, text.encode("utf-8-sig"), mode=PRIVATE)
    click.echo(_("Wrote {path} ({value} addresses)").format(path=written.path, value=text.count(chr(10)) - 1), err=True)


@subscribers_group.command(name="add")
@config_option
@click.argument("address")
@click.option("--name", default="", help="The name the greeting uses.")
@click.option("--consent", default="", metavar="TEXT", help='How the person asked, e.g. "courriel du 3 mars".')
def subscribers_add(config_path: Path, address: str, name: str, consent: str) -> None:
    """Subscribe ADDRESS (again, if it had left)."""
    with _store(config_path, create=True) as store:
        changed = store.add(address, name)
        if changed:
            store.record(address, "added", "subscribers add", " ".join(consent.split()))
    click.echo(_("{address}: subscribed").format(
        address=address) if changed else _("{address}: already subscribed").format(address=address))


@subscribers_group.command(name="remove")
@config_option
@click.argument("address")
def subscribers_remove(config_path: Path, address: str) -> None:
    """Unsubscribe ADDRESS (the row stays, so that an import does not add it back)."""
    with _store(config_path) as store:
        if store.get(address) is None:
            raise click.UsageError(_("{address} is not in the store").format(address=address))
        changed = store.unsubscribe(address, "digest subscribers remove")
    click.echo(_("{address}: unsubscribed").format(
        address=address) if changed else _("{address}: already not subscribed").format(address=address))


@subscribers_group.command(name="list")
@config_option
@click.option("--status", type=click.Choice(["subscribed", "unsubscribed", "bounced", "complained"]),
              help="Only the addresses with this status.")
def subscribers_list(config_path: Path, status: str | None) -> None:
    """Every address with its status and since when."""
    with _store(config_path) as store:
        rows = store.rows(status)
    for row in rows:
        why = f"  {row.reason}" + (f" ({row.letter})" if row.letter else "")
        click.echo(f"{row.email:<40} {_status(row.status):<14} {row.changed[:10]}"
                   f"{why if row.status != 'subscribed' else ''}")
    click.echo(_("{count} address(es)").format(count=len(rows)), err=True)


STATUSES = {"subscribed": N_("subscribed"), "unsubscribed": N_("unsubscribed"), "bounced": N_("bounced"),
            "complained": N_("complained"), "erased": N_("erased"), "pending": N_("pending")}


def _status(status: str) -> str:
    """A subscriber's status as the reader reads it."""
    return _(STATUSES[status]) if status in STATUSES else status


@subscribers_group.command(name="stats")
@config_option
def subscribers_stats(config_path: Path) -> None:
    """How many addresses have each status, sign-ups per week, and unsubscribes, bounces and complaints per
    letter."""
    with _store(config_path) as store:
        counts, letters, weeks, pending = store.counts(), store.letters(), store.weeks(), store.pending_count()
    click.echo(" · ".join(f"{_status(status)} {count}" for status, count in counts.items())
               + _(" · pending {pending}").format(pending=pending))
    if weeks:
        click.echo(f"{_('week'):<10} {_('sign-ups'):>8} {_('confirmed'):>9} {_('rate'):>5} {_('left'):>5}")
    for week in weeks:
        rate = f"{100 * week.confirmed / week.asked:.0f}%" if week.asked else "-"
        click.echo(f"{week.week:<10} {week.asked:>8} {week.confirmed:>9} {rate:>5} {week.left:>5}")
    if letters:
        click.echo(f"{_('letter'):<12} {_('unsubscribed'):>12} {_('bounced'):>8} {_('temporary'):>10} "
                   f"{_('complained'):>10}")
    for stats in letters:
        click.echo(f"{stats.letter:<12} {stats.unsubscribed:>12} {stats.bounced:>8} {stats.soft_bounces:>10} "
                   f"{stats.complained:>10}")


@subscribers_group.command(name="consent")
@config_option
@click.argument("address")
def subscribers_consent(config_path: Path, address: str) -> None:
    """The consent history of ADDRESS: when, by which means, to which wording, from where; and its leaves."""
    with _store(config_path) as store:
        history, wordings = store.history(address), store.wordings()
    if not history:
        raise click.UsageError(_("{address}: nothing in the store").format(address=address))
    for record in history:
        where = f" from {record.origin}" if record.origin else ""
        ip = f" IP {record.ip}" if record.ip else ""
        detail = f" ({record.detail})" if record.detail and record.detail != record.means else ""
        click.echo(_("{at}  {what:<12} via {means}{detail}{where}{ip}").format(
                       at=record.at, what=record.what, means=record.means, detail=detail, where=where, ip=ip))
        if record.wording:
            click.echo(_("{value:27}wording {wording}: « {value2} »").format(
                           value='', wording=record.wording, value2=wordings.get(record.wording, '?')))


@subscribers_group.command(name="purge")
@config_option
def subscribers_purge(config_path: Path) -> None:
    """Delete the sign-ups never confirmed within [subscribe] pending_days (digest serve also does it hourly)."""
    days = config.load(config_path).subscribe.pending_days
    with _store(config_path) as store:
        gone = store.purge(days)
    click.echo(_("{gone} sign-up(s) not confirmed within {days} days deleted").format(gone=gone, days=days))


@main.group(name="contributions")
def contributions_group() -> None:
    """The news member authorities sent through the contribution form: list, show, accept into the letter being
    made, refuse with a message. The desk does the same (its "Contributions" panel)."""


@contributions_group.command(name="list")
@config_option
@click.option("--status", type=click.Choice(["unconfirmed", "proposed", "accepted", "refused"]),
              help="Only the contributions in this state (default: all).")
def contributions_list(config_path: Path, status: str | None) -> None:
    """One line per contribution: number, state, received, authority (member or not), title."""
    from digest.contribute.store import Contributions

    cfg = config.load(config_path)
    found = []
    if cfg.subscribers_path.is_file():  # a listing makes no store
        with Contributions(cfg.subscribers_path) as store:
            found = store.listed(status)
    for item in found:
        who = _("member: {name}").format(name=item.member) if item.member else _("not verified")
        click.echo(f"{item.id:>4}  {_(CONTRIBUTION_STATES[item.status]):<12} {item.received[:10]}  "
                   f"{item.authority} ({who})  “{item.title}”")
    click.echo(ngettext("{count} contribution", "{count} contributions", len(found)).format(count=len(found)),
               err=True)


CONTRIBUTION_STATES = {"unconfirmed": N_("awaiting confirmation"), "proposed": N_("to decide"),
                       "accepted": N_("accepted into a letter"), "refused": N_("refused by the team")}


@contributions_group.command(name="show")
@config_option
@click.argument("number", type=int)
def contributions_show(config_path: Path, number: int) -> None:
    """Everything a contribution says, and who sent it."""
    from digest.contribute.store import Contributions
    from digest.errors import DigestError

    cfg = config.load(config_path)
    with Contributions(cfg.subscribers_path) as store:
        found = store.get_contribution(number)
    if found is None:
        raise DigestError(_("no contribution has the number {number}").format(number=number))
    lines = [(_("state"), _(CONTRIBUTION_STATES[found.status])), (_("authority"), found.authority),
             (_("sent by"), f"{found.contact} <{found.email}>"),
             (_("member"), found.member or _("not verified")), (_("received"), found.received),
             (_("title"), found.title), (_("link"), found.link), (_("date"), found.day), (_("place"), found.place),
             (_("event's start"), found.start), (_("photo"), found.alt)]
    for label, value in lines:
        if value:
            click.echo(f"{label:<16} {value}")
    click.echo("\n" + found.text)


@contributions_group.command(name="accept")
@config_option
@date_option("The letter the item goes into (default: [letter] date, else today): its issue file.")
@click.argument("number", type=int)
@click.option("--title", default="", help="The item's title, if the team changes it.")
@click.option("--text", default="", help="The item's text, if the team changes it.")
def contributions_accept(config_path: Path, letter_date: date | None, number: int, title: str, text: str) -> None:
    """Put a proposed contribution into the issue file as an [[item]] of [contribute] section (an event, with a
    start, of the agenda); its picture goes with the letter; its contact is told."""
    from digest.contribute import moderate

    cfg = config.load(config_path)
    agenda = next((s.id for s in cfg.sections if s.kind == "agenda"), None)
    path = moderate.accept(cfg, _letter_day(cfg, letter_date), number, title=title, text=text, agenda=agenda)
    click.echo(_("Contribution {number} is in {path}; its contact will be told.").format(number=number, path=path))


@contributions_group.command(name="refuse")
@config_option
@click.argument("number", type=int)
@click.option("--message", "note", required=True, help="What the contact is told (why, what to send instead).")
def contributions_refuse(config_path: Path, number: int, note: str) -> None:
    """Refuse a proposed contribution; its contact receives the message."""
    from digest.contribute import moderate

    moderate.refuse(config.load(config_path), number, note)
    click.echo(_("Contribution {number} refused; its contact will be told.").format(number=number))


@main.command(name="subscribe-form")
@config_option
def subscribe_form(config_path: Path) -> None:
    """Print the subscribe form as HTML to paste into a page of the association's site (it posts to
    [subscribe] url, which `digest serve` answers)."""
    from digest.errors import DigestError
    from digest.web import subscribe

    cfg = config.load(config_path)
    if cfg.subscribe.url is None:
        raise DigestError(_("{path}: no [subscribe] url; add it (the form's address, served by digest serve)").format(
                              path=cfg.path))
    with i18n.speaking(cfg.letter.language):  # the form speaks to subscribers, in the letter's language
        click.echo(subscribe.snippet(cfg.subscribe.url, cfg.subscribe.consent, cfg.subscribe.privacy_url), nl=False)
    if not cfg.subscribe.allowed_origins:
        click.echo(_("warning: [subscribe] allowed_origins is empty: the form posted from another site is refused; "
                     'add that site\'s address, e.g. allowed_origins = ["https://www.example.org"]'), err=True)
    if cfg.subscribe.privacy_url is None:
        click.echo(_("warning: no [subscribe] privacy_url: the form does not link to the privacy notice"), err=True)


@subscribers_group.command(name="erase")
@config_option
@click.argument("address")
def subscribers_erase(config_path: Path, address: str) -> None:
    """Delete everything about ADDRESS (store, send journals, dry-run copies), keeping only a hash so that an
    import cannot add it back: the right to erasure."""
    from digest.audience.subscribers import Store, erase_from_journals

    cfg = config.load(config_path)
    with Store(cfg.subscribers_path) as store:
        found = store.erase(address)
    # The private folder ([letter] private_dir), and the outbox for what an older digest left there.
    files = erase_from_journals([cfg.outbox, cfg.private_dir], address)
    click.echo(_("{address}: erased from the store").format(
        address=address) if found else _("{address}: not in the store (hash kept)").format(
                                                                     address=address))
    for path in files:
        click.echo(_("  erased from {path}").format(path=path))


@main.command(name="serve")
@config_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on: loopback behind the site's web server (a reverse proxy).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="The port to listen on.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="How many processes answer (each a uvicorn worker).")
@click.option("--site", type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="Also serve this folder of published letters (web versions, agenda .ics files).")
def serve_command(config_path: Path, host: str, port: int, workers: int, site: Path | None) -> None:
    """The public side: the unsubscribe page at the path of unsubscribe_url (one-click POST included), the
    subscribe form at the path of [subscribe] url (its confirmation mails sent by each worker) and, with --site,
    the published letters. Nothing else. Ctrl-C stops it."""
    from digest.web import public

    settings = public.settings_from(config_path, site)  # a broken configuration or a missing secret stops here
    public.check_port(host, port)  # a busy port: one clear line, exit 2
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(_("warning: listening on {host}; put the site's web server in front (see docs/serve.md)").format(
                       host=host), err=True)
    form = _(" and the subscribe form ({path})").format(path=settings.joining.path) if settings.joining else ""
    click.echo(_("Serving the unsubscribe page{form} on http://{host}:{port} ({workers} worker(s)); Ctrl-C to "
                 "stop.").format(
                   form=form, host=host, port=port, workers=workers))
    public.run(config_path, site, host, port, workers)


@main.command(name="bounces")
@config_option
@click.option("--maildir", type=click.Path(path_type=Path, file_okay=False), help="Read this Maildir folder.")
@click.option("--mbox", type=click.Path(path_type=Path, dir_okay=False), help="Read this mbox file.")
@click.option("--imap", metavar="imaps://USER@HOST/FOLDER", help="Read this IMAP folder.")
@click.option("--password-env", default="DIGEST_IMAP_PASSWORD", show_default=True,
              help="The environment variable that holds the IMAP password.")
def bounces_command(config_path: Path, maildir: Path | None, mbox: Path | None, imap: str | None,
                    password_env: str) -> None:
    """Read the bounce mailbox: failures mark addresses bounced, complaints complained, mails to the
    unsubscribe address unsubscribe their sender. Each message understood is moved to digest-done."""
    from digest.audience import bounces
    from digest.audience.subscribers import Store
    from digest.delivery import smtp
    from digest.files import private_files

    if sum(map(bool, (maildir, mbox, imap))) != 1:
        raise click.UsageError(_("give exactly one of --maildir DIR, --mbox FILE or --imap imaps://user@host/INBOX"))
    cfg = config.load(config_path)
    verp = bool(cfg.smtp and cfg.smtp.verp)
    secret = smtp.secret(cfg)  # VERP ids, Message-IDs and tokens are signed with it: the only proofs of a copy
    with private_files(), Store(cfg.subscribers_path) as store:  # the done folders hold addresses
        rules = bounces.rules_for(store, secret, smtp.list_id_of(cfg), cfg.smtp.return_path if cfg.smtp else None,
                                  cfg.letter.unsubscribe_mailto, cfg.returns.authserv_id, verp=verp)
        if imap:
            password = os.environ.get(password_env, "")
            if not password:
                raise click.UsageError(_("export {password_env}=... (the IMAP password) first").format(
                                           password_env=password_env))
            box = bounces.ImapMailbox(imap, password)
            try:
                summary = bounces.process(box, store, rules)
            finally:
                box.close()
        else:
            with bounces.FileMailbox(maildir or mbox or Path(), "maildir" if maildir else "mbox").opened() as files:
                summary = bounces.process(files, store, rules)
    _print_bounces(summary)


def _print_bounces(summary: bounces.Summary) -> None:
    from digest.audience.bounces import UNPROVEN

    words = {"bounced": "bounced", "soft": "temporary failure", "complained": "complained",
             "unsubscribe": "unsubscribed (mail)"}
    for finding, changed in summary.done:
        click.echo(f"  {finding.email:<40} {words[finding.kind]}" + ("" if changed else _(" (no change)"))
                   + (_("  letter {letter}").format(letter=finding.letter) if finding.letter else ""))
    for finding in summary.not_in_store:
        click.echo(_("  {email:<40} {words}: not in the store, nothing changed").format(
                       email=finding.email, words=words[finding.kind]))
    if summary.unproven:
        click.echo(_("{count} unproven message(s), nothing changed; moved to {UNPROVEN} for a person to read (a "
                     "report changes a subscriber only if it proves which copy it answers):").format(
                       count=len(summary.unproven), UNPROVEN=UNPROVEN))
    for unproven in summary.unproven:
        click.echo(_("  from {value} « {subject} »: {reason}").format(
                       value=unproven.sender or '?', subject=unproven.subject, reason=unproven.reason))
    click.echo(_("{count} address(es) processed, {count2} not in the store, {count3} unproven, {delayed} notice(s) "
                 "that are not bounces, {already} seen before, {not_understood} not understood (left in place), "
                 "{too_large} too large").format(
                   count=len(summary.done), count2=len(summary.not_in_store), count3=len(summary.unproven),
                   delayed=summary.delayed, already=summary.already, not_understood=summary.not_understood,
                   too_large=summary.too_large))
