"""The list send as `digest send --list` runs it at the terminal: who it goes to (said), a dry run or the
question, the send with its progress bar, Ctrl-C, the report, and exit 1 while anyone is still to send.

The sending itself (SMTP, the journal, the pace) is digest.delivery.smtp's; what follows a send (the letter noted
sent, the contributors told) digest.delivery.aftersend's.
"""

from __future__ import annotations

import contextlib
import shlex
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from digest import config, i18n, letterfolder
from digest.audience import subscribers
from digest.cli.common import ask_first
from digest.delivery import aftersend, journal, smtp
from digest.i18n import N_, _
from digest.letterfolder import SendState
from digest.members import read as read_members

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

    from digest.audience.recipients import Recipient


SECURITY_WORDS = {"starttls": N_("STARTTLS"), "ssl": N_("TLS"), "none": N_("unencrypted")}  # as shown

def list_send_at_terminal(job: smtp.Job, letter: letterfolder.LetterState, list_path: Path | None, dry_run: bool,
                 resend_unknown: bool, yes: bool, notes: dict[str, str] | None = None) -> None:
    """The list send: who (said), a dry run or the question then the send with its progress, the report; exit 1
    while anyone is still to send."""
    chosen = list_recipients(job.cfg, list_path)
    found, gone = chosen.found, chosen.gone
    todo = smtp.pending_for_dry_run(job.private, found.recipients, resend_unknown)
    if dry_run:
        paths = smtp.dry_run(job.personalizer, todo, job.private / letterfolder.DRY_RUN, job.members)
        click.echo(_("Dry run: {count} copies written to {folder}/ (nothing sent)").format(
                       count=i18n.number(len(paths)), folder=job.private / letterfolder.DRY_RUN))
        if len(todo) < len(found.recipients):
            click.echo(_("  {left_out} left out: the journal has them sent, failed or unknown").format(
                           left_out=i18n.number(len(found.recipients) - len(todo))))
        return
    connection = smtp.connection_for(job.cfg)
    confirm(letter, len(todo), connection, yes, members_among(job, todo))
    click.echo(_("Sending “{subject}” ({day}) via {host}:{port} ({security})").format(
                   subject=job.letter.subject, day=i18n.day(job.letter.date), host=connection.smtp.host,
                   port=connection.smtp.port, security=_(SECURITY_WORDS.get(connection.smtp.security,
                                                                            connection.smtp.security)))
               + (_(", at most {rate:g} per second").format(rate=connection.smtp.rate) if connection.smtp.rate else ""))
    with stoppable() as stop, SendProgress() as progress:
        try:
            report = smtp.send_to_list(job, found.recipients, connection, resend_unknown=resend_unknown,
                                   on_progress=progress, gone=gone, stop=stop, notes=notes)
        except KeyboardInterrupt:  # the second Ctrl-C: stopped at once, the message in flight left "unknown"
            progress.__exit__()
            click.echo(_("\nStopped at once."), err=True)
            stopped(job, list_path, stop.signal or signal.SIGINT)
    if report.sent:
        aftersend.record(job)
    if report.stopped:
        print_report(report)
        stopped(job, list_path, stop.signal or signal.SIGINT)
    if report.left:
        click.echo(_("{count} left the list while the send ran and were not sent to.").format(
                       count=i18n.number(len(report.left))))
    if report.letter_changed and report.already_sent:
        click.echo(_("warning: the letter was built again since this issue's send began: {already_sent} "
                     "subscriber(s) have the earlier version, the others get this one").format(
                       already_sent=report.already_sent), err=True)
    if report.unknown_before:
        click.echo(_("{count} recipient(s) of an earlier run have an unknown outcome (the run stopped during their "
                     "transaction) and were ").format(count=len(report.unknown_before))
                   + (_("sent again.") if resend_unknown else _("not sent again; --resend-unknown sends to them:")))
        if not resend_unknown:
            for address in report.unknown_before:
                click.echo(_("  unknown  {address}").format(address=address))
    print_report(report)
    click.echo(_("Journal: {journal} (digest send --status)").format(journal=job.private / journal.FILE_NAME))
    exit_while_sending(job)


def schedule_at_terminal(job: smtp.Job, letter: letterfolder.LetterState, list_path: Path | None, at: str,
                         yes: bool) -> None:
    """A list send at an hour: who (said), what (the same lines as a send now), the question, then recorded."""
    from digest.cli import release

    chosen = list_recipients(job.cfg, list_path)
    todo = smtp.pending_for_dry_run(job.private, chosen.found.recipients, False)
    connection = smtp.connection_for(job.cfg)
    show(letter, len(todo), connection, members_among(job, todo))
    release.schedule_send(job.cfg, letter, at, list_path, len(todo), yes)


def show(letter: letterfolder.LetterState, count: int, connection: smtp.Connection, members: int | None = None
         ) -> None:
    """What a list send is about to send, where (and, for a letter with a members' edition, to how many members)."""
    click.echo(_("  subject:  {subject}\n  from:     {sender}\n  built:    {built}\n  to:       {count} "
                 "subscriber(s) not yet sent to, via {host}:{port}").format(
                   subject=letter.subject, sender=letter.sender, built=i18n.moment(letter.built.astimezone()),
                   count=i18n.number(count),
                   host=connection.smtp.host, port=connection.smtp.port))
    if members is not None:
        click.echo(_("  editions: {members} member(s) get the members' edition, {others} the public one").format(
            members=i18n.number(members), others=i18n.number(count - members)))


def members_among(job: smtp.Job, todo: list[Recipient]) -> int | None:
    """How many of `todo` get the members' edition (None: the letter has one edition)."""
    return sum(1 for r in todo if r.member) if job.members is not None else None


def confirm(letter: letterfolder.LetterState, count: int, connection: smtp.Connection, yes: bool,
            members: int | None = None) -> None:
    """Show what is about to go where, then ask; --yes answers for scripts, no terminal and no --yes refuses."""
    show(letter, count, connection, members)
    if not count:
        return
    if not ask_first(_("Send to {count} subscribers? [y/N]").format(count=i18n.number(count)), yes,
                     _("a list send asks before it starts and there is no terminal to ask: add --yes to send from a "
                       "script. Nothing sent.")):
        click.echo(_("Nothing sent."))
        raise SystemExit(1)


class Stop(threading.Event):
    """Set by the first SIGINT or SIGTERM of a list send; `signal` says which (for the exit code)."""

    signal: int | None = None


@contextlib.contextmanager
def stoppable() -> Iterator[Stop]:
    """While the send runs, the first Ctrl-C (or SIGTERM, as systemd or a scheduler sends) asks it to stop after
    the message in flight; a second one stops at once (KeyboardInterrupt). The old handlers come back after."""
    stop = Stop()

    def ask(number: int, _frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.signal = number
        stop.set()
        click.echo(_("\nStopping after the message being sent (Ctrl-C again stops at once)…"), err=True)

    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield stop
        return
    before = {number: signal.signal(number, ask) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)


def stopped(job: smtp.Job, list_path: Path | None, number: int) -> None:
    """Say how far a stopped send went and the command that finishes it; exit 128 + the signal (130, 143)."""
    found = journal.status(job.private)
    counts = found[0] if found else {}
    left = aftersend.still_to_send(job)
    command = ["digest", "send", "-c", str(job.cfg.path), "--list", *([str(list_path)] if list_path else []),
               "--date", job.letter.date.isoformat()]
    click.echo(_("Stopped: {sent} sent in all, {left} still to send ({unknown} unknown). To finish the send, run "
                 "the same command again:\n  {command}").format(
                   sent=i18n.number(counts.get(SendState.SENT, 0)), left=i18n.number(left),
                   unknown=i18n.number(counts.get(SendState.UNKNOWN, 0)),
                   command=shlex.join(command)))
    raise SystemExit(128 + number)


def exit_while_sending(job: smtp.Job) -> None:
    """Exit 1 while anyone of the journal is still pending, deferred or unknown: the letter is still sending."""
    left = aftersend.still_to_send(job)
    if left:
        click.echo(_("{left} subscriber(s) still pending, deferred or unknown: the send of {day} is not complete "
                     "(run it again; see digest send --status)").format(
                         left=i18n.number(left), day=i18n.day(job.letter.date)))
        raise SystemExit(1)


def list_recipients(cfg: config.Config, list_path: Path | None) -> subscribers.SendList:
    """Who a list send goes to, said: the list read, its invalid rows, those the store keeps out."""
    chosen = subscribers.recipients_for_list(cfg.subscribers_path, list_path, read_members(cfg.members_file))
    found = chosen.found
    if chosen.from_store:
        click.echo(_("{path}: {count} subscribed addresses to send to").format(
                       path=found.path, count=i18n.number(len(found.recipients))))
    else:
        click.echo(_("{list_path}: {recipients} to send to, {unsubscribed} unsubscribed, {invalid} invalid, "
                     "{duplicates} duplicate(s) left out").format(
                       list_path=list_path, recipients=i18n.number(len(found.recipients) + chosen.left_out),
                       unsubscribed=i18n.number(found.unsubscribed), invalid=i18n.number(len(found.invalid)),
                       duplicates=i18n.number(found.duplicates)))
    for rejected in found.invalid:
        click.echo(_("warning: {list_path}, line {line}: {email!r} not sent: {reason}").format(
                       list_path=list_path, line=rejected.line, email=rejected.email, reason=rejected.reason),
                   err=True)
    if chosen.left_out:
        click.echo(_("  {left_out} left out: unsubscribed, bounced or complained in {subscribers_path}").format(
                       left_out=i18n.number(chosen.left_out), subscribers_path=cfg.subscribers_path))
    return chosen


class SendProgress:
    """A progress bar with the rate and the time left, on a terminal only."""

    def __init__(self) -> None:
        self.bar: ProgressBar[Any] | None = None
        self.started = 0.0
        self.done = 0

    def __enter__(self) -> SendProgress:
        return self

    def __call__(self, done: int, total: int) -> None:
        if not sys.stderr.isatty() or not total:
            return
        if self.bar is None:
            self.started = time.monotonic()
            self.bar = click.progressbar(length=total, label=_("Sending"), show_eta=True, show_pos=True,
                                         file=sys.stderr, item_show_func=lambda rate: rate)
            self.bar.__enter__()
        elapsed = max(time.monotonic() - self.started, 1e-6)
        self.bar.update(done - self.done, _("{rate} messages a second").format(rate=round(done / elapsed)))
        self.done = done

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def print_report(report: smtp.SendReport) -> None:
    """A send's figures, then each failed, deferred and unknown address."""
    rate = report.attempted / report.seconds if report.seconds else 0.0
    click.echo(_("Sent {sent} in {seconds} s ({rate} per second)").format(
                   sent=i18n.number(report.sent), seconds=i18n.decimal(report.seconds), rate=i18n.number(round(rate)))
               + (_("; {already_sent} had it already").format(
                   already_sent=i18n.number(report.already_sent)) if report.already_sent else "")
               + _("; failed {failed}, deferred {deferred}, unknown {unknown}").format(
                     failed=i18n.number(len(report.failed)), deferred=i18n.number(len(report.deferred)),
                     unknown=i18n.number(len(report.unknown))))
    for address, outcome in report.failed:
        click.echo(_("  failed    {address}: {code} {response}").format(
                       address=address, code=outcome.code, response=outcome.response))
    for address, outcome in report.deferred:
        click.echo(_("  deferred  {address}: {code} {response} (the next run tries again)").format(
                       address=address, code=outcome.code, response=outcome.response))
    for address in report.unknown:
        click.echo(_("  unknown   {address}: the connection was lost during its transaction").format(address=address))
