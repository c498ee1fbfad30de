"""The command line: parse, call the pipeline, report. No logic of its own."""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from digest import __version__, config, pipeline
from digest.model import Collected

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

    from digest.send import smtp as send

CONFIG_HELP = "The configuration file (default: sources.toml in the current folder)."


def _parse_date(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; write it as YYYY-MM-DD, e.g. 2025-11-20") from None


F = TypeVar("F", bound=Callable[..., Any])

config_option = click.option("-c", "--config", "config_path", type=click.Path(path_type=Path),
                             default="sources.toml", show_default=True, help=CONFIG_HELP)


def date_option(help_text: str) -> Callable[[F], F]:
    """The --date option every command that picks a letter shares."""
    return click.option("--date", "letter_date", callback=_parse_date, metavar="YYYY-MM-DD", help=help_text)


def _letter_day(cfg: config.Config, letter_date: date | None) -> date:
    """The issue's date: --date, else [letter] date, else today (the clock is read here, never in a stage)."""
    return letter_date or cfg.letter.date or date.today()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="digest")
def main() -> None:
    """Build the e-mail letter from the sources named in sources.toml.

    \b
    A month's letter, step by step:
      digest draft            write issues/<YYYY-MM>.toml to edit (édito, pins, exclusions)
      digest preview          review it in a browser, rebuilt as you edit
      digest check            the pre-send report (exit 1 on any error)
      digest build            write outbox/<date>/ (letter.html, .txt, .eml, digest.json)
      digest send --to ME     a test send to yourself
      digest send --list subscribers.csv    the real send, exactly once
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
def build(config_path: Path, letter_date: date | None, out: Path | None, strict: bool, include_sent: bool,
          offline: bool) -> None:
    """Collect, select, render and write the letter to OUTBOX/<date>/.

    Writes letter.html (the e-mail), letter.txt (its text twin), letter.mjml, letter.eml (ready to send)
    and digest.json (what was selected). A source that fails is a warning; the rest is still built.
    """
    cfg = config.load(config_path)
    today = _letter_day(cfg, letter_date)
    out = out or cfg.outbox
    click.echo(f"Building “{cfg.letter.title}” for {today.isoformat()} from {config_path}")
    with SourceLines(len(cfg.sources)) as on_source:
        built = pipeline.build(cfg, today, out, strict=strict, on_source=on_source, include_sent=include_sent,
                               offline=offline)
    _print_report(built)


def _print_source(result: Collected) -> None:
    click.echo(_source_line(result))


def _source_line(result: Collected) -> str:
    status = "failed" if result.failed else f"{len(result.items)} items"
    origin = f"  {result.origin}" if result.origin and not result.failed else ""
    return f"  read {result.source:<24} {status:>10}  ({result.seconds * 1000:.0f} ms){origin}"


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


def _print_report(built: pipeline.Built) -> None:
    prepared, letter = built.prepared, built.letter
    if prepared.issue.path:
        click.echo(f"Issue file: {prepared.issue.path} ({len(letter.featured)} featured, "
                   f"{len(prepared.issue.pin)} pinned, {len(prepared.issue.exclude)} excluded)")
    click.echo("Sections:")
    for section in letter.sections:
        sources = ", ".join(f"{name} {n}" for name, n in Counter(i.source for i in section.items).items())
        click.echo(f"  {section.title} ({section.id}): {len(section.items)} kept, from {sources}")
    for note in prepared.notes:
        click.echo(f"  note: {note}")
    for problem in built.warnings:
        click.echo(f"warning: {problem}", err=True)
    if built.written:
        click.echo(f"Written to {built.written[0].path.parent}/:")
        for written in built.written:
            name = os.path.relpath(written.path, built.written[0].path.parent)  # ../index.html too
            click.echo(f"  {name:<12} {written.size / 1024:7.1f} KB")
    timings = " · ".join(f"{stage} {seconds * 1000:.0f} ms" for stage, seconds in built.timings.items())
    click.echo(f"Time: {timings} · total {sum(built.timings.values()) * 1000:.0f} ms")
    if built.written:
        click.echo(f"Open {built.written[0].path} in a browser to preview it.")


@main.command()
@config_option
@date_option("The issue's date (default: [letter] date, else today). Names the issue file's month.")
@click.option("-o", "--outbox", "out", type=click.Path(path_type=Path),
              help="Where earlier letters are (default: outbox/ beside sources.toml): their items are not listed.")
def draft(config_path: Path, letter_date: date | None, out: Path | None) -> None:
    """Write issues/<YYYY-MM>.toml listing every item the build would send; never overwrites one.

    Each item is a commented line to copy into pin, featured or exclude, or into an [[override]].
    """
    from digest.edit import draft as drafting
    from digest.edit import issuefile

    cfg = config.load(config_path)
    today = _letter_day(cfg, letter_date)
    path = issuefile.path_for(cfg, today)
    if path.exists():
        raise drafting.DraftExists(f"{path} already exists; edit it, or move it away to draft a new one")
    prepared = pipeline.prepare(cfg, today, out or cfg.outbox)
    for problem in prepared.warnings:
        click.echo(f"warning: {problem}", err=True)
    written = drafting.write_new(path, drafting.draft_text(prepared.letter))
    click.echo(f"Wrote {written.path} with {len(prepared.letter.items)} items; edit it, then run digest build.")


@main.command()
@config_option
@date_option("The issue's date (default: [letter] date, else today).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="The port to listen on (0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on; anything but loopback shows the letter to your network.")
@click.option("--no-open", is_flag=True, help="Do not open the page in a web browser.")
def preview(config_path: Path, letter_date: date | None, port: int, host: str, no_open: bool) -> None:
    """Serve a review page of the letter that rebuilds and reloads when its files change.

    Desktop and phone widths, dark mode, the text version, the subject and preheader as an inbox shows
    them, and the pre-send report. Nothing is written to the outbox. Ctrl-C stops it.
    """
    from digest.review import check
    from digest.review import preview as review  # the server's modules load only for this command

    config.load(config_path)  # a broken configuration stops here, with its usual message
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"warning: listening on {host}: anyone who can reach this machine can read the letter", err=True)

    def ready(url: str) -> None:
        snapshot = session.snapshot
        state = f"error: {snapshot.error}" if snapshot.error else check.summary(snapshot.findings)
        click.echo(f"Preview of {config_path} at {url} ({state})\nWatching its files; Ctrl-C to stop.")
        if not no_open:
            import webbrowser  # only the preview opens a browser

            webbrowser.open(url)

    session = review.Preview(config_path, letter_date, log=lambda line: click.echo(f"  {line}"))
    review.serve(session, host, port, ready)
    click.echo("Preview stopped.")


@main.command(name="check")
@config_option
@date_option("The issue's date (default: [letter] date, else today).")
@click.option("--links", is_flag=True, help="Also fetch every link and image, and list the broken ones.")
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds to wait for each link with --links.")
@click.option("--allow-private", is_flag=True,
              help="With --links, also fetch links to loopback, private and link-local addresses.")
def check_command(config_path: Path, letter_date: date | None, links: bool, timeout: float,
                  allow_private: bool) -> None:
    """The pre-send report: build the letter (nothing written) and list what is wrong with it.

    Exit code 1 when there is any error, 0 when there are only warnings or nothing.
    """
    from digest.review import check, linkcheck

    cfg = config.load(config_path)
    today = _letter_day(cfg, letter_date)
    built, findings = check.build_and_check(cfg, today)
    click.echo(f"Checking “{built.rendered.subject}” for {today.isoformat()} "
               f"({len(built.rendered.html.encode('utf-8')) / 1024:.1f} KB of HTML, {len(built.letter.items)} items)")
    if links:
        results, broken = linkcheck.check(built.rendered.html, timeout=timeout, allow_private=allow_private)
        click.echo(f"Fetched {len(results)} links and images: {len(broken)} broken")
        findings = check.ordered([*broken, *findings])
    for finding in findings:
        click.echo(f"{finding.level:<8} {finding.check:<14} {finding.where}\n         {finding.message}")
    click.echo(check.summary(findings) + ".")
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
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from digest.collectors import health

    cfg = config.load(config_path)
    if check:
        with SourceLines(len(cfg.sources)) as on_source:
            results = pipeline.collect(cfg, cfg.letter.date or date.today(), on_source)
        for problem in (p for r in results for p in r.problems):
            click.echo(f"warning: {problem}", err=True)
    rows = health.rows(cfg, health.load(cfg.cache_dir), datetime.now(UTC))
    click.echo(health.table(rows, ZoneInfo(cfg.letter.timezone)))


@main.command(name="send")
@config_option
@date_option("The issue to send (default: [letter] date, else today).")
@click.option("-o", "--outbox", "out", type=click.Path(path_type=Path),
              help="Where the built letter is (default: outbox/ beside sources.toml).")
@click.option("--to", "to", multiple=True, metavar="ADDRESS",
              help="A test send to this address, subject prefixed [TEST]; repeat for more. Not journalled.")
@click.option("--list", "list_path", type=click.Path(path_type=Path), metavar="SUBSCRIBERS.CSV",
              help="The real send, to every subscriber of this CSV not yet sent to.")
@click.option("--dry-run", is_flag=True, help="Write each copy to OUTBOX/<date>/dry-run/ instead of sending.")
@click.option("--status", is_flag=True, help="Show the issue's send journal: sent, failed, pending, unknown.")
@click.option("--resend-unknown", is_flag=True,
              help="Also send to those whose earlier transaction ended with no answer (they may get it twice).")
def send_command(config_path: Path, letter_date: date | None, out: Path | None, to: tuple[str, ...],
                 list_path: Path | None, dry_run: bool, status: bool, resend_unknown: bool) -> None:
    """Send the built letter: a test with --to, the real send with --list, exactly once per subscriber.

    Every transaction is recorded before and after in OUTBOX/<date>/send-journal.sqlite: after a crash or a
    network failure, run the same command again and only those not yet sent get it. Exit codes: 0 done,
    1 some recipients still to send (deferred, unknown, server unreachable), 2 a user's error.
    """
    from digest.send import smtp as send

    if sum(map(bool, (to, list_path, status))) != 1:
        raise click.UsageError("give exactly one of --to ADDRESS, --list SUBSCRIBERS.CSV or --status")
    cfg = config.load(config_path)
    day = _letter_day(cfg, letter_date)
    outbox = out or cfg.outbox
    if status:
        _print_status(outbox / day.isoformat(), day)
        return
    job = send.prepare(cfg, day, outbox, test=bool(to))
    if to:
        _send_test(job, to, dry_run)
    else:
        assert list_path is not None
        _send_list(job, list_path, dry_run, resend_unknown)


def _send_test(job: send.Job, to: tuple[str, ...], dry_run: bool) -> None:
    from digest.send import personalize
    from digest.send import smtp as send

    recipients = personalize.recipients_of(to)
    if dry_run:
        paths = send.dry_run(job.personalizer, recipients, job.folder / "dry-run")
        click.echo(f"Dry run: {len(paths)} test copies written to {job.folder / 'dry-run'}/")
        return
    connection = send.connection_for(job.cfg)
    click.echo(f"Test send of “[TEST] {job.letter.subject}” to {', '.join(r.email for r in recipients)} "
               f"via {connection.smtp.host}:{connection.smtp.port}")
    report = send.send_test(job.personalizer, recipients, connection)
    _print_send(report)
    if report.sent < len(recipients):
        raise SystemExit(1)


def _send_list(job: send.Job, list_path: Path, dry_run: bool, resend_unknown: bool) -> None:
    from digest.send import recipients as subscribers
    from digest.send import smtp as send

    found = subscribers.read(list_path)
    click.echo(f"{list_path}: {len(found.recipients)} to send to, {found.unsubscribed} unsubscribed, "
               f"{len(found.invalid)} invalid, {found.duplicates} duplicate(s) left out")
    for rejected in found.invalid:
        click.echo(f"warning: {list_path}, line {rejected.line}: {rejected.email!r} not sent: {rejected.reason}",
                   err=True)
    if dry_run:
        todo = send.pending_for_dry_run(job.folder, found.recipients, resend_unknown)
        paths = send.dry_run(job.personalizer, todo, job.folder / "dry-run")
        click.echo(f"Dry run: {len(paths)} copies written to {job.folder / 'dry-run'}/ (nothing sent)")
        if len(todo) < len(found.recipients):
            click.echo(f"  {len(found.recipients) - len(todo)} left out: the journal has them sent, failed or unknown")
        return
    connection = send.connection_for(job.cfg)
    click.echo(f"Sending “{job.letter.subject}” ({job.letter.date.isoformat()}) via {connection.smtp.host}:"
               f"{connection.smtp.port} ({connection.smtp.security})"
               + (f", at most {connection.smtp.rate:g} per second" if connection.smtp.rate else ""))
    with SendProgress() as progress:
        report = send.run_list(job, found.recipients, connection, resend_unknown=resend_unknown,
                               on_progress=progress)
    if report.letter_changed and report.already_sent:
        click.echo(f"warning: the letter was built again since this issue's send began: {report.already_sent} "
                   "subscriber(s) have the earlier version, the others get this one", err=True)
    if report.unknown_before:
        click.echo(f"{len(report.unknown_before)} recipient(s) of an earlier run have an unknown outcome "
                   "(the run stopped during their transaction) and were "
                   + ("sent again." if resend_unknown else "not sent again; --resend-unknown sends to them:"))
        if not resend_unknown:
            for address in report.unknown_before:
                click.echo(f"  unknown  {address}")
    _print_send(report)
    click.echo(f"Journal: {job.folder / 'send-journal.sqlite'} (digest send --status)")
    if report.deferred or report.unknown:
        raise SystemExit(1)


class SendProgress:
    """A progress bar with the rate and the time left, on a terminal only."""

    def __init__(self) -> None:
        self.bar: ProgressBar[Any] | None = None
        self.started = 0.0
        self.done = 0

    def __enter__(self) -> SendProgress:
        return self

    def __call__(self, done: int, total: int) -> None:
        import time

        if not sys.stderr.isatty() or not total:
            return
        if self.bar is None:
            self.started = time.monotonic()
            self.bar = click.progressbar(length=total, label="Sending", show_eta=True, show_pos=True,
                                         file=sys.stderr, item_show_func=lambda rate: rate)
            self.bar.__enter__()
        elapsed = max(time.monotonic() - self.started, 1e-6)
        self.bar.update(done - self.done, f"{done / elapsed:.0f} msg/s")
        self.done = done

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _print_send(report: send.Report) -> None:
    rate = report.attempted / report.seconds if report.seconds else 0.0
    click.echo(f"Sent {report.sent} in {report.seconds:.1f} s ({rate:.0f} per second)"
               + (f"; {report.already_sent} had it already" if report.already_sent else "")
               + f"; failed {len(report.failed)}, deferred {len(report.deferred)}, unknown {len(report.unknown)}")
    for address, outcome in report.failed:
        click.echo(f"  failed    {address}: {outcome.code} {outcome.response}")
    for address, outcome in report.deferred:
        click.echo(f"  deferred  {address}: {outcome.code} {outcome.response} (the next run tries again)")
    for address in report.unknown:
        click.echo(f"  unknown   {address}: the connection was lost during its transaction")


def _print_status(folder: Path, day: date) -> None:
    from digest.send import journal

    found = journal.status(folder)
    if found is None:
        click.echo(f"No list send of {day.isoformat()} yet ({folder} has no send journal).")
        return
    counts, rows = found
    click.echo(f"Send journal of {day.isoformat()} ({folder / journal.FILE_NAME}):")
    click.echo("  " + " · ".join(f"{state} {count}" for state, count in counts.items()))
    for row in rows:
        words = f"{row.code} {row.response}" if row.code else (row.response or "")
        click.echo(f"  {row.state:<9} {row.email}  {words}".rstrip())
    if counts["unknown"]:
        click.echo("Unknown: their transaction was under way when a run stopped; `--resend-unknown` sends again.")


@main.command(name="export")
@config_option
@date_option("The issue to export (default: [letter] date, else today).")
@click.option("-o", "--outbox", "out", type=click.Path(path_type=Path),
              help="Where the built letter is (default: outbox/ beside sources.toml).")
@click.option("--esp", required=True, type=click.Choice(["brevo", "mailchimp"]),
              help="The e-mail service whose merge tags replace our unsubscribe and web-version links.")
def export_command(config_path: Path, letter_date: date | None, out: Path | None, esp: str) -> None:
    """Write the built letter's HTML and text with an e-mail service's merge tags, ready to paste there."""
    from digest.send import export, personalize

    cfg = config.load(config_path)
    day = _letter_day(cfg, letter_date)
    letter = personalize.read_built(out or cfg.outbox, day)
    for written in export.export(letter, esp):
        click.echo(f"Wrote {written.path} ({written.size / 1024:.1f} KB)")
    click.echo(f"Paste the .html into {export.SERVICES[esp].name}'s HTML editor; its own unsubscribe and "
               "web-version links are in place of ours.")
