"""The list send as `digest send --list` runs it: who it goes to (said), a dry run or the question, the send
with its progress bar, the report, and exit 1 while anyone is still to send. The command line only calls it.

The sending itself (SMTP, the journal, the pace) is digest.delivery.smtp's.
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

from digest import config, letterfolder
from digest.audience import subscribers
from digest.delivery import journal, smtp
from digest.errors import DigestError

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar


def send_to_list(job: smtp.Job, letter: letterfolder.LetterState, list_path: Path | None, dry_run: bool,
                 resend_unknown: bool, yes: bool) -> None:
    """The list send: who (said), a dry run or the question then the send with its progress, the report; exit 1
    while anyone is still to send."""
    chosen = list_recipients(job.cfg, list_path)
    found, gone = chosen.found, chosen.gone
    todo = smtp.pending_for_dry_run(job.private, found.recipients, resend_unknown)
    if dry_run:
        paths = smtp.dry_run(job.personalizer, todo, job.private / "dry-run")
        click.echo(f"Dry run: {len(paths)} copies written to {job.private / 'dry-run'}/ (nothing sent)")
        if len(todo) < len(found.recipients):
            click.echo(f"  {len(found.recipients) - len(todo)} left out: the journal has them sent, failed or unknown")
        return
    connection = smtp.connection_for(job.cfg)
    confirm(letter, len(todo), connection, yes)
    click.echo(f"Sending “{job.letter.subject}” ({job.letter.date.isoformat()}) via {connection.smtp.host}:"
               f"{connection.smtp.port} ({connection.smtp.security})"
               + (f", at most {connection.smtp.rate:g} per second" if connection.smtp.rate else ""))
    with stoppable() as stop, SendProgress() as progress:
        try:
            report = smtp.run_list(job, found.recipients, connection, resend_unknown=resend_unknown,
                                   on_progress=progress, gone=gone, stop=stop)
        except KeyboardInterrupt:  # the second Ctrl-C: stopped at once, the message in flight left "unknown"
            progress.__exit__()
            click.echo("\nStopped at once.", err=True)
            stopped(job, list_path, stop.signal or signal.SIGINT)
    if report.sent:  # the feed of published letters dates each one by its send
        letterfolder.note(job.cfg, job.letter.date, "sent", first=True)
    if report.stopped:
        print_report(report)
        stopped(job, list_path, stop.signal or signal.SIGINT)
    if report.left:
        click.echo(f"{len(report.left)} left the list while the send ran and were not sent to.")
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
    print_report(report)
    click.echo(f"Journal: {job.private / 'send-journal.sqlite'} (digest send --status)")
    exit_while_sending(job)


# The answers to `Envoyer à N abonnés ? [o/N]` that send (any case, spaces around ignored): French or English,
# since a French team may type either; anything else, the empty default included, sends nothing.
YES_ANSWERS = frozenset({"o", "oui", "y", "yes"})


def confirm(letter: letterfolder.LetterState, count: int, connection: smtp.Connection, yes: bool) -> None:
    """Show what is about to go where, then ask; --yes answers for scripts, no terminal and no --yes refuses."""
    click.echo(f"  subject:  {letter.subject}\n  from:     {letter.sender}\n"
               f"  built:    {letter.built.astimezone():%Y-%m-%d %H:%M}\n"
               f"  to:       {count} subscriber(s) not yet sent to, via {connection.smtp.host}:{connection.smtp.port}")
    if yes or not count:
        return
    if not sys.stdin.isatty():
        raise DigestError("a list send asks before it starts and there is no terminal to ask: add --yes to send "
                          "from a script. Nothing sent.")
    answer = click.prompt(f"Envoyer à {count} abonnés ? [o/N]", default="", show_default=False, prompt_suffix=" ")
    if answer.strip().lower() not in YES_ANSWERS:
        click.echo("Nothing sent.")
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
        click.echo("\nStopping after the message being sent (Ctrl-C again stops at once)…", err=True)

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
    left = sum(counts.get(s, 0) for s in letterfolder.STILL_TO_SEND)
    command = ["digest", "send", "-c", str(job.cfg.path), "--list", *([str(list_path)] if list_path else []),
               "--date", job.letter.date.isoformat()]
    click.echo(f"Stopped: {counts.get('sent', 0)} sent in all, {left} still to send "
               f"({counts.get('unknown', 0)} unknown). To finish the send, run the same command again:\n"
               f"  {shlex.join(command)}")
    raise SystemExit(128 + number)


def exit_while_sending(job: smtp.Job) -> None:
    """Exit 1 while anyone of the journal is still pending, deferred or unknown: the letter is still sending."""
    found = journal.status(job.private)
    left = sum(found[0][s] for s in letterfolder.STILL_TO_SEND) if found else 0
    if left:
        click.echo(f"{left} subscriber(s) still pending, deferred or unknown: the send of "
                   f"{job.letter.date.isoformat()} is not complete (run it again; see digest send --status)")
        raise SystemExit(1)


def list_recipients(cfg: config.Config, list_path: Path | None) -> subscribers.SendList:
    """Who a list send goes to, said: the list read, its invalid rows, those the store keeps out."""
    chosen = subscribers.recipients_for_list(cfg.subscribers_path, list_path)
    found = chosen.found
    if chosen.from_store:
        click.echo(f"{found.path}: {len(found.recipients)} subscribed addresses to send to")
    else:
        click.echo(f"{list_path}: {len(found.recipients) + chosen.left_out} to send to, {found.unsubscribed} "
                   f"unsubscribed, {len(found.invalid)} invalid, {found.duplicates} duplicate(s) left out")
    for rejected in found.invalid:
        click.echo(f"warning: {list_path}, line {rejected.line}: {rejected.email!r} not sent: {rejected.reason}",
                   err=True)
    if chosen.left_out:
        click.echo(f"  {chosen.left_out} left out: unsubscribed, bounced or complained in {cfg.subscribers_path}")
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
            self.bar = click.progressbar(length=total, label="Sending", show_eta=True, show_pos=True,
                                         file=sys.stderr, item_show_func=lambda rate: rate)
            self.bar.__enter__()
        elapsed = max(time.monotonic() - self.started, 1e-6)
        self.bar.update(done - self.done, f"{done / elapsed:.0f} msg/s")
        self.done = done

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def print_report(report: smtp.SendReport) -> None:
    """A send's figures, then each failed, deferred and unknown address."""
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
