"""The letter's commands: build, init, draft, preview (the desk), check, sources, letters, discard."""

from __future__ import annotations

import os
import shutil
import sys
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from digest import config, hosts, i18n
from digest.cli.common import config_option, date_option, letter_day, loaded
from digest.i18n import N_, _, ngettext
from digest.model import Collected

if TYPE_CHECKING:
    from digest import pipeline


@click.command()
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

    cfg = loaded(config_path)
    today = letter_day(cfg, letter_date)
    out = out or cfg.outbox
    _guard_rebuild(cfg, out, today, force)
    click.echo(_("Building “{title}” for {day} from {config_path}").format(
                   title=cfg.letter.title, day=i18n.day(today), config_path=config_path))
    with SourceLines(len(cfg.sources)) as on_source:
        built = pipeline.build(cfg, today, out, strict=strict, on_source=on_source, include_sent=include_sent,
                               offline=offline, sends=journal.sends(cfg))
    _print_report(built)
    if built.prepared.proposals:
        from digest import proposals
        from digest.errors import DigestError

        try:
            waiting = len(proposals.waiting(cfg, built.prepared.proposals))
        except DigestError as exc:  # the letter is built: a store that cannot be opened is a warning here
            click.echo(_("warning: {problem}").format(problem=exc.format_message()), err=True)
            waiting = 0
        if waiting:
            click.echo(ngettext("{count} article of the members' sites waits for a decision: digest proposals",
                                "{count} articles of the members' sites wait for a decision: digest proposals",
                                waiting).format(count=waiting))


def _guard_rebuild(cfg: config.Config, out: Path, day: date, force: bool) -> None:
    """Refuse to build again a letter whose list send began, unless --force (then say who has the old one)."""
    from digest import letterfolder
    from digest.delivery import journal

    for note in journal.migrate(cfg, out, day):  # the folder is about to be replaced: its journal must not go
        click.echo(_("note: {note}").format(note=note))
    sent = letterfolder.may_rebuild(day, force, journal.sends(cfg))
    if sent:
        click.echo(_("warning: {sent} subscriber(s) got the earlier version of {day}; the rest of the list send "
                     "will carry this one").format(sent=sent, day=i18n.day(day)), err=True)


def _print_source(result: Collected) -> None:
    click.echo(_source_line(result))


def _source_line(result: Collected) -> str:
    status = _("failed") if result.failed else ngettext("{count} item", "{count} items", len(result.items)).format(
        count=len(result.items))
    origin = f"  {result.origin}" if result.origin and not result.failed else ""
    return _("  read {source:<24} {status:>10}  ({milliseconds:.0f} ms){origin}").format(
               source=result.source, status=status, milliseconds=result.seconds * 1000, origin=origin)


class SourceLines:
    """Prints each source as it completes; on a terminal, a progress bar stays below the lines."""

    def __init__(self, total: int) -> None:
        self.bar = (click.progressbar(length=total, label=_("Collecting"), show_pos=True, show_eta=False)
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


def _source_name(name: str) -> str:
    """A source as the report names it: its name, or the issue file for the items written there by hand."""
    from digest.issuefile import ISSUE_SOURCE

    return _("the issue file") if name == ISSUE_SOURCE else name


def _print_report(built: pipeline.Built) -> None:
    prepared, letter = built.prepared, built.letter
    if prepared.issue.path:
        click.echo(_("Issue file: {path} ({featured} featured, {pinned} pinned, {excluded} excluded)").format(
                       path=prepared.issue.path, featured=len(letter.featured), pinned=len(prepared.issue.pin),
                       excluded=len(prepared.issue.exclude)))
    click.echo(_("Sections:"))
    for section in letter.sections:
        counted = Counter(i.source for i in section.items)
        sources = ", ".join(f"{_source_name(name)} ({n})" for name, n in counted.items())
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
            click.echo(_("  {name:<12} {size_kb:>7} KB").format(name=name, size_kb=i18n.decimal(written.size / 1024)))
    timings = " · ".join(f"{_(STAGES.get(stage, stage))} {seconds * 1000:.0f} ms"
                         for stage, seconds in built.timings.items())
    click.echo(_("Time: {timings} · total {total_ms:.0f} ms").format(
                   timings=timings, total_ms=sum(built.timings.values()) * 1000))
    if built.written:
        click.echo(_("Open {path} in a browser to preview it.").format(path=built.written[0].path))


@click.command()
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


@click.command()
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

    cfg = loaded(config_path)
    today = letter_day(cfg, letter_date)
    path = issuefile.path_for(cfg, today)
    if path.exists():
        raise drafting.DraftExists(_("{path} already exists; edit it, or move it away to draft a new one").format(
                                       path=path))
    prepared = pipeline.prepare(cfg, today, out or cfg.outbox, sends=journal.sends(cfg), empty_ok=True)
    for note in prepared.notes:
        click.echo(_("  note: {note}").format(note=note))
    for problem in prepared.warnings:
        click.echo(_("warning: {problem}").format(problem=problem), err=True)
    if not prepared.letter.items:  # an empty month: the file to fill, in the desk or by hand
        click.echo(_("  note: no item yet for {day}: the sections are empty; add articles ([[item]]), accept "
                     "contributions or wait for the sources").format(day=today.isoformat()))
    written = drafting.write_new(path, drafting.draft_text(prepared.letter))
    click.echo(_("Wrote {path} with {count} items; edit it, then run digest build.").format(
                   path=written.path, count=len(prepared.letter.items)))


@click.command()
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

    loaded(config_path)  # a broken configuration stops here, with its usual message
    if not hosts.is_loopback(host):
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

            opened.append(desk.opener(url))  # the key in a file of this user's, not on the browser's command line
            webbrowser.open(opened[-1].as_uri())

    opened: list[Path] = []
    session = review.Preview(config_path, letter_date, log=lambda line: click.echo(f"  {line}"))
    try:
        desk.serve(session, host, port, ready)
    finally:
        for page in opened:
            shutil.rmtree(page.parent, ignore_errors=True)
    click.echo(_("Preview stopped."))


@click.command(name="check")
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

    cfg = loaded(config_path)
    accepted = accept.load(cfg.letter.templates, accepted_keys)
    today = letter_day(cfg, letter_date)
    built, findings = check.build_and_check(cfg, today)
    click.echo(_("Checking “{subject}” for {day} ({size_kb} KB of HTML, {items} items)").format(
                   subject=built.rendered.subject, day=i18n.day(today),
                   size_kb=i18n.decimal(len(built.rendered.html.encode('utf-8')) / 1024),
                   items=i18n.number(len(built.letter.items))))
    if built.members is not None:
        click.echo(_("Members' edition: {size_kb} KB of HTML, {items} items ({only} for members only)").format(
            size_kb=i18n.decimal(len(built.members.rendered.html.encode('utf-8')) / 1024),
            items=i18n.number(len(built.members.letter.items)),
            only=i18n.number(len(built.members.letter.for_members))))
    if (built.members is not None or cfg.members_file) and cfg.subscribers_path.is_file():
        from digest.cli.audience import say_audience, store_counts

        say_audience(store_counts(cfg))
    if links:
        results, broken = linkcheck.check(built.rendered.html, timeout=timeout, allow_private=allow_private)
        click.echo(_("Fetched {links} links and images: {broken} broken").format(
            links=len(results), broken=len(broken)))
        findings = check.ordered([*broken, *findings])
    shown, hidden = accept.split(findings, accepted)
    listed = [(f, f.line()) for f in shown]
    listed += [(f, f.line(_("accepted"))) for f in hidden] if verbose else []
    for finding, line in listed:
        click.echo(line)
        if verbose and finding.detail:
            click.echo(f"{'':9}{finding.detail}")
        if verbose and finding.level == "warning":
            click.echo(" " * 9 + _("to accept it: --accept {key}, or {key} in check-accept.toml").format(
                key=finding.key))
    also = ""
    if hidden and not verbose:
        stock = accepted.file is not None and accepted.file.parent == config.package_templates()
        also = " " + (_("({count} accepted by digest's stock template; -v lists them)") if stock else
                      _("({count} accepted in {file}; -v lists them)") if accepted.file else
                      _("({count} accepted; -v lists them)")).format(count=len(hidden), file=accepted.file)
    click.echo(check.summary(shown) + also + ".")
    if (list_line := check.audience(cfg)) is not None:
        click.echo(list_line)
    if check.errors(findings):
        raise SystemExit(1)


@click.command(name="sources")
@config_option
@click.option("--check", is_flag=True, help="Read every source now (as a build does) before printing the table.")
@click.option("--members", is_flag=True, help="The members' sites instead (a member-sites source): those with no "
                                              "feed found, a failing feed or nothing new for [member_sites] "
                                              "silent_days, the members to call.")
def sources_command(config_path: Path, check: bool, members: bool) -> None:
    """The health of every source: last success, HTTP status, items, newest item, failures, last error.

    Recorded by each build (or --check) in the cache folder. A source with nothing new for longer than its
    section's window_days is flagged stale. With --members, the members' own sites.
    """
    from datetime import UTC
    from zoneinfo import ZoneInfo

    from digest.collectors import health

    cfg = loaded(config_path)
    if check:
        from digest import pipeline

        with SourceLines(len(cfg.sources)) as on_source:
            results = pipeline.collect(cfg, cfg.letter.date or date.today(), on_source)
        for problem in (p for r in results for p in r.problems):
            click.echo(_("warning: {problem}").format(problem=problem), err=True)
    if members:
        click.echo(_members_table(cfg, datetime.now(UTC)))
        return
    rows = health.rows(cfg, health.load(cfg.cache_dir), datetime.now(UTC))
    click.echo(health.table(rows, ZoneInfo(cfg.letter.timezone)))


def _members_table(cfg: config.Config, now: datetime) -> str:
    """The members' sites of every member-sites source, as `digest sources --members` shows them."""
    from zoneinfo import ZoneInfo

    from digest.collectors import membersites, sites
    from digest.errors import DigestError

    sources = cfg.member_sites_sources
    if not sources:
        raise DigestError(_("no source reads the members' sites: add a [[source]] with format = \"member-sites\" "
                            "whose url is the members file"))
    listed: list[tuple[str, str]] = []
    for source in sources:
        listed += [(m.name, m.site) for m in membersites.members_of(Path(source.location))]
    found = sites.rows(listed, sites.load(cfg.cache_dir), now, cfg.member_sites.silent_days)
    return sites.table(found, cfg.member_sites.silent_days, ZoneInfo(cfg.letter.timezone))


@click.command(name="letters")
@config_option
@click.option("-o", "--outbox", "out", type=click.Path(path_type=Path),
              help="Where the letters are (default: outbox/ beside sources.toml).")
def letters_command(config_path: Path, out: Path | None) -> None:
    """One line per letter of the outbox: date, subject, state, when built, whether its inputs changed since.

    States: built, tested (a --to send went), sending (list send begun, someone still pending, deferred or
    unknown), sent (with its counts), and published. Under a letter: its approval ([send] approvers) and its
    scheduled send.
    """
    from digest import letterfolder
    from digest.delivery import approval, journal, schedule

    cfg = loaded(config_path)
    found = letterfolder.every(cfg, out or cfg.outbox, journal.sends(cfg))
    if not found:
        click.echo(_("No letter in {folder} yet; digest build writes one.").format(folder=out or cfg.outbox))
    for letter in found:
        changed = letterfolder.changed(cfg, letter.folder, letter.day)
        inputs_word = (_("inputs unknown") if changed is None else
                       _("changed since: {files}").format(files=", ".join(changed)) if changed else
                       _("inputs unchanged"))
        other = letter.letter.other_version
        click.echo(_("{title}  {state}  built {built}  {inputs_word}").format(
                       title=letter.title(), state=letter.described, built=i18n.moment(letter.built.astimezone()),
                       inputs_word=inputs_word)
                   + (_("  (built by digest {version})").format(version=other) if other else ""))
        release = [approval.described(approval.of_letter(cfg, letter.letter))]
        if (planned := schedule.of_letter(cfg, letter.day)) is not None:
            release.append(schedule.described(planned))
        if any(release):
            click.echo("    " + " · ".join(w for w in release if w))


@click.command(name="discard")
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

    cfg = loaded(config_path)
    outbox = out or cfg.outbox
    moved = letterfolder.discard(cfg, outbox, day.date(), journal.sends(cfg))
    letterfolder.write_index(outbox, letterfolder.Archive(cfg.letter.title, cfg.letter.language, cfg.letter.address))
    click.echo(_("Letter {day} moved out of {outbox} into {moved}.\nTo bring it back: mv {moved} {path}").format(
                   day=day.date().isoformat(), outbox=outbox, moved=moved,
                   path=letterfolder.path(outbox, day.date())))


