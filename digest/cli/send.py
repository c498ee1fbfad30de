"""Sending and publishing: send (a test, the list send, its status), export to an e-mail service, publish."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from digest import config, i18n
from digest.cli.common import STORE, config_option, date_option, loaded
from digest.errors import DigestError
from digest.i18n import _

if TYPE_CHECKING:
    from digest import letterfolder
    from digest.delivery import smtp


@click.command(name="send")
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
@click.option("--ask-approval", is_flag=True,
              help="Mail each of [send] approvers the letter with a link to approve it or ask for changes.")
@click.option("--at", "at", metavar="TIME",
              help="With --list: send at this time (YYYY-MM-DD HH:MM, [letter] timezone) instead of now.")
@click.option("--scheduled", is_flag=True, help="List the scheduled sends: when, state, and why one was held.")
@click.option("--cancel", is_flag=True, help="Cancel the letter's scheduled send.")
@click.option("--edition", type=click.Choice(["public", "members"]), default="public", show_default=True,
              help="With --to: the edition the test shows (members: the members' edition, when the letter has one).")
@click.option("--due", is_flag=True, help="Perform the scheduled sends whose time has come (for cron, where no "
                                          "digest serve runs).")
def send_command(config_path: Path, letter_date: date | None, out: Path | None, to: tuple[str, ...],
                 list_path: str | None, dry_run: bool, status: bool, resend_unknown: bool, yes: bool,
                 allow_stale: bool, ask_approval: bool, at: str | None, scheduled: bool, cancel: bool,
                 edition: str, due: bool) -> None:
    """Send the built letter: a test with --to, the real send with --list, exactly once per subscriber.

    The letter is --date's, else the newest built letter whose list send is not complete ([letter] date is
    for building only); it is named before anything is sent. A list send shows what it will send and asks
    first. Every transaction is recorded before and after in <private_dir>/<date>/send-journal.sqlite: after
    a crash or a network failure, run the same command again and only those not yet sent get it. Exit codes:
    0 done, 1 some recipients still to send (pending, deferred, unknown, server unreachable), 2 a user's error.

    With [send] approvers, a list send waits for an approver to approve this very build (--ask-approval asks
    them). --list --at TIME schedules the send: `digest serve` performs it then (or `digest send --due` from cron).
    """
    from digest.cli import listsend, release
    from digest.delivery import journal, smtp

    if sum(map(bool, (to, list_path, status, ask_approval, scheduled, cancel, due))) != 1:
        raise click.UsageError(_("give exactly one of --to ADDRESS, --list [SUBSCRIBERS.CSV], --status, "
                                 "--ask-approval, --scheduled, --cancel or --due"))
    if at is not None and (list_path is None or dry_run):
        raise click.UsageError(_("--at goes with --list (a real send, not a dry run)"))
    cfg = loaded(config_path)
    if scheduled or due:
        (release.print_scheduled if scheduled else release.run_due)(cfg)
        return
    outbox = out or cfg.outbox
    chosen = _which_letter(cfg, outbox, letter_date, sent_ok=list_path is None or dry_run)
    if cancel:
        release.cancel(cfg, chosen)
        return
    day = chosen.day
    for note in journal.migrate(cfg, outbox, day):
        click.echo(_("note: {note}").format(note=note))
    if status:
        _print_status(journal.folder_for(cfg, day), day)
        _print_letter_stats(cfg, day)
        return
    _refuse_stale(cfg, chosen, allow_stale)
    if not dry_run:
        _refuse_unpublished(cfg, chosen)
    if ask_approval:
        release.ask_approval(cfg, chosen)
        return
    approved = release.refuse_unapproved(cfg, chosen) if list_path is not None and not dry_run and at is None else {}
    job = smtp.load_job(cfg, day, outbox, test=bool(to))
    if to:
        _send_test(job, to, dry_run, edition)
    elif at is not None:
        assert list_path is not None
        listsend.schedule_at_terminal(job, chosen, None if list_path == STORE else Path(list_path), at, yes)
    else:
        assert list_path is not None
        listsend.list_send_at_terminal(job, chosen, None if list_path == STORE else Path(list_path), dry_run,
                              resend_unknown, yes, approved)


def _which_letter(cfg: config.Config, outbox: Path, given: date | None, *, sent_ok: bool) -> letterfolder.LetterState:
    """The letter a command acts on, named (with the other candidates when it chose among several)."""
    from digest import letterfolder
    from digest.delivery import journal

    choice = letterfolder.choose(cfg, outbox, given, journal.sends(cfg), sent_ok=sent_ok)
    click.echo(_("Letter {title}: {state} ({reason})").format(
                   title=choice.letter.title(), state=choice.letter.described, reason=choice.reason))
    if choice.others:
        click.echo(_("  also not sent: ") + ", ".join(o.title() for o in choice.others)
                   + _("; give --date YYYY-MM-DD to act on one of them"))
    return choice.letter


def _refuse_stale(cfg: config.Config, letter: letterfolder.LetterState, allow_stale: bool) -> None:
    """DigestError (exit 2) when a file the letter was built from changed since, unless --allow-stale."""
    from digest import letterfolder

    changed = letterfolder.refuse_stale(cfg, letter, allow_stale)
    if changed:
        click.echo(_("warning: used as built although these files changed since: {files}").format(
                       files=', '.join(changed)), err=True)


def _refuse_unpublished(cfg: config.Config, letter: letterfolder.LetterState) -> None:
    """DigestError (exit 2) when a contributed picture the letter shows is not on the web yet: every reader (a
    test's too) would see it broken."""
    from digest import letterfolder
    from digest.contribute.moderate import unpublished

    missing = unpublished(cfg, letterfolder.pictures(letter.folder))
    if missing:
        raise DigestError(_("pictures of this letter are not on the web yet ({names}): readers would see them "
                            "broken; run `digest publish DEST --date {day}`, copy DEST to the web server, then send "
                            "again").format(names=", ".join(missing), day=letter.day.isoformat()))


def _send_test(job: smtp.Job, to: tuple[str, ...], dry_run: bool, edition: str = "public") -> None:
    from digest import letterfolder
    from digest.cli import listsend
    from digest.delivery import personalize, smtp

    if edition == "members":
        if job.members is None:
            raise DigestError(_("this letter has one edition: no item is for members only"))
        job = replace(job, personalizer=job.members)
    recipients = personalize.recipients_of(to)
    if dry_run:
        paths = smtp.dry_run(job.personalizer, recipients, job.private / letterfolder.DRY_RUN)
        click.echo(_("Dry run: {count} test copies written to {folder}/").format(
                       count=len(paths), folder=job.private / letterfolder.DRY_RUN))
        return
    connection = smtp.connection_for(job.cfg)
    click.echo(_("Test send of “[TEST] {subject}” to {addresses} via {host}:{port}").format(
                   subject=job.letter.subject, addresses=', '.join(r.email for r in recipients),
                   host=connection.smtp.host, port=connection.smtp.port))
    report = smtp.send_test(job.personalizer, recipients, connection)
    listsend.print_report(report)
    if report.sent:
        letterfolder.note(job.cfg, job.letter.date, "tested")
    if report.sent < len(recipients):
        raise SystemExit(1)


def _print_status(folder: Path, day: date) -> None:
    from digest.delivery import journal
    from digest.letterfolder import COUNT_WORDS

    found = journal.status(folder)
    if found is None:
        click.echo(_("No list send of {day} yet ({folder} has no send journal).").format(
                       day=i18n.day(day), folder=folder))
        return
    counts, rows = found
    click.echo(_("Send journal of {day} ({journal}):").format(
        day=i18n.day(day), journal=folder / journal.FILE_NAME))
    click.echo("  " + " · ".join(f"{_(COUNT_WORDS.get(state, state))} {count}" for state, count in counts.items()))
    for line in journal.edition_lines(folder):
        click.echo(f"  {line}")
    for row in rows:
        words = f"{row.code} {row.response}" if row.code else (row.response or "")
        click.echo(f"  {_(COUNT_WORDS.get(row.state, row.state)):<12} {row.email}  {words}".rstrip())
    if counts["unknown"]:
        click.echo(_("Unknown: their transaction was under way when a run stopped; `--resend-unknown` sends again."))
    kept = journal.notes(folder)
    if kept.get("approved_by"):
        click.echo(_("Approved by {who} on {when}, before the send.").format(
            who=kept["approved_by"], when=i18n.moment(datetime.fromisoformat(kept["approved_at"]).astimezone())))


@click.command(name="export")
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

    cfg = loaded(config_path)
    outbox = out or cfg.outbox
    chosen = _which_letter(cfg, outbox, letter_date, sent_ok=True)
    _refuse_stale(cfg, chosen, allow_stale)
    letter = chosen.letter
    for written in export.export(letter, esp):
        click.echo(_("Wrote {path} ({size_kb} KB)").format(path=written.path,
                                                            size_kb=i18n.decimal(written.size / 1024)))
    click.echo(_("Paste the .html into {name}'s HTML editor; its own unsubscribe and web-version links are in "
                 "place of ours.").format(name=export.SERVICES[esp].name))


@click.command(name="publish")
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
    from digest.delivery import journal
    from digest.web import publish

    cfg = loaded(config_path)
    done = publish.publish_letters(cfg, out or cfg.outbox, dest, journal.sends(cfg), letter_date, dry_run=dry_run,
                                   allow_stale=allow_stale)
    click.echo(_("Letters: ") + ", ".join(done.letters))
    if dry_run:
        for name in done.plan.names():
            click.echo(_("  would copy {name}").format(name=name))
        click.echo(_("Dry run: {files} file(s) of {letters} letter(s) would go to {dest}/").format(
                       files=len(done.plan.names()), letters=len(done.plan.folders), dest=dest))
        return
    click.echo(_("Published {letters} letter(s), {files} file(s), to {dest}/; now copy it to the web server, e.g. "
                 "rsync -a {dest}/ server:/var/www/lettre/").format(
                   letters=len(done.plan.folders), files=len(done.written), dest=dest))


def _print_letter_stats(cfg: config.Config, day: date) -> None:
    """What the store recorded about this letter's recipients afterwards (digest serve, digest bounces)."""
    from digest.audience.subscribers import Subscribers

    if not cfg.subscribers_path.is_file():
        return
    with Subscribers(cfg.subscribers_path) as store:
        stats = store.letter(day.isoformat())
    click.echo(_("Since: unsubscribed {unsubscribed} · bounced {bounced} · temporary failures {soft_bounces} · "
                 "complained {complained}").format(
                   unsubscribed=stats.unsubscribed, bounced=stats.bounced, soft_bounces=stats.soft_bounces,
                   complained=stats.complained))


