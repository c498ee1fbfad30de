"""Send the built letter over SMTP: one connection reused, reconnected when the server drops it, paced to
the configured rate; every transaction journalled before and after, so each recipient gets it exactly once."""

from __future__ import annotations

import os
import secrets
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from digest.audience.recipients import Recipient
from digest.config import Config, SmtpConfig
from digest.delivery import journal as journal_module
from digest.delivery.journal import Journal
from digest.delivery.personalize import Personalizer
from digest.errors import DigestError, SendError
from digest.files import PRIVATE, private_folder, safe_name, write_atomic
from digest.hosts import is_loopback
from digest.i18n import _
from digest.letterfolder import BuiltLetter, SendState, read_built
from digest.mail import identity

ROUNDS = 3  # a recipient answered with a 4xx is tried at most this many times in one run
# Seconds before each new attempt to connect when the server drops or refuses the connection: at once first
# (servers often close after so many messages per connection), then longer pauses.
BACKOFF = (0.0, 1.0, 2.0, 5.0, 10.0)
OnProgress = Callable[[int, int], None]
# Who left the list since the send began (keys): asked at least every RECHECK messages and before each retry.
Gone = Callable[[], set[str]]
RECHECK = 100
# Errors that mean the connection is gone: the transaction's outcome is then known only if DATA had not begun.
LOST = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError, socket.timeout, OSError)


@dataclass(frozen=True)
class Outcome:
    """What one SMTP transaction gave: a journal state, the server's code and words."""

    state: SendState
    code: int | None = None
    response: str | None = None


@dataclass
class SendReport:
    """What a send did, for the CLI to print."""

    attempted: int = 0
    sent: int = 0
    already_sent: int = 0
    failed: list[tuple[str, Outcome]] = field(default_factory=list)
    deferred: list[tuple[str, Outcome]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    unknown_before: list[str] = field(default_factory=list)
    letter_changed: bool = False
    seconds: float = 0.0
    left: list[str] = field(default_factory=list)  # unsubscribed (or bounced) while the send ran: not sent to
    stopped: bool = False  # asked to stop (Ctrl-C, SIGTERM): it ended after the message in flight


def smtp_settings(cfg: Config) -> tuple[SmtpConfig, str | None]:
    """The [smtp] table and the password from its environment variable; DigestError when either is missing."""
    if cfg.smtp is None:
        raise DigestError(_("{path} has no [smtp] table; add one (host, port, security, username, password_env): "
                            "see the commented example in the project's sources.toml").format(path=cfg.path))
    smtp = cfg.smtp
    password = None
    if smtp.username:
        assert smtp.password_env is not None  # the configuration requires it with a username
        password = os.environ.get(smtp.password_env)
        if not password:
            raise DigestError(_("[smtp] username is set but the environment variable {password_env} is empty; "
                                "export {password_env}=... before sending").format(password_env=smtp.password_env))
        if smtp.security == "none" and not is_loopback(smtp.host):
            raise DigestError(_('[smtp] security = "none" would send the password to {host} in clear; use '
                                '"starttls" or "ssl"').format(host=smtp.host))
    return smtp, password


class _Prepared:
    """smtplib's MAIL, RCPT and DATA for addresses already checked and a message already in wire form (CRLF,
    dot-stuffed): smtplib's own run an address parser and a regex over the whole message each time, which
    costs more than building the copy."""

    def mail_from(self: smtplib.SMTP, address: str) -> tuple[int, bytes]:  # type: ignore[misc]
        self.putcmd("mail", f"FROM:<{address}>")
        return self.getreply()

    def rcpt_to(self: smtplib.SMTP, address: str) -> tuple[int, bytes]:  # type: ignore[misc]
        self.putcmd("rcpt", f"TO:<{address}>")
        return self.getreply()

    def data_prepared(self: smtplib.SMTP, wire: bytes) -> tuple[int, bytes]:  # type: ignore[misc]
        self.putcmd("data")
        code, reply = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        self.send(wire + b".\r\n")
        return self.getreply()


class _SMTP(_Prepared, smtplib.SMTP):
    pass


class _SMTPSSL(_Prepared, smtplib.SMTP_SSL):
    pass


class Connection:
    """One SMTP connection, opened on first use and opened again when the server drops it."""

    def __init__(self, smtp: SmtpConfig, password: str | None, *, backoff: Sequence[float] = BACKOFF,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.smtp = smtp
        self.password = password
        self.backoff = tuple(backoff)
        self.sleep = sleep
        self._client: _SMTP | _SMTPSSL | None = None
        self._writer: ThreadPoolExecutor | None = None
        self.connections = 0

    def close(self) -> None:
        """Say QUIT if the server still listens; forget the connection either way."""
        if self._writer is not None:
            self._writer.shutdown()
            self._writer = None
        client, self._client = self._client, None
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()

    def drop(self) -> None:
        """Forget a connection that failed, without a word to the server."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _open(self) -> _SMTP | _SMTPSSL:
        smtp = self.smtp
        context = ssl.create_default_context()
        client: _SMTP | _SMTPSSL
        if smtp.security == "ssl":
            client = _SMTPSSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
        else:
            client = _SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
        try:
            client.ehlo()
            if smtp.security == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if smtp.username and self.password:
                client.login(smtp.username, self.password)
        except smtplib.SMTPAuthenticationError as exc:
            client.close()
            raise SendError(_("{host}:{port} refused the login of {username}: {smtp_code} {smtp_text}").format(
                                host=smtp.host, port=smtp.port, username=smtp.username, smtp_code=exc.smtp_code,
                                smtp_text=_words(exc.smtp_error))) from None
        except smtplib.SMTPNotSupportedError as exc:
            client.close()
            raise SendError(_("{host}:{port}: {exc}; check [smtp] security").format(
                                host=smtp.host, port=smtp.port, exc=exc)) from None
        except BaseException:
            client.close()
            raise
        if client.sock is not None:  # commands are small: send each at once rather than wait to fill a packet
            client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connections += 1
        return client

    def client(self) -> _SMTP | _SMTPSSL:
        """The open connection, opening it (with retries after a pause) if needed."""
        if self._client is not None:
            return self._client
        for pause in (*self.backoff, None):
            try:
                self._client = self._open()
                return self._client
            except ssl.SSLError as exc:
                raise SendError(_("TLS with {host}:{port} failed: {exc}").format(
                                    host=self.smtp.host, port=self.smtp.port, exc=exc)) from None
            except LOST as exc:
                if pause is None:
                    raise SendError(_("cannot reach the SMTP server {host}:{port} ({exc}); recipients not reached "
                                      "are still pending: run the same command again later").format(
                                        host=self.smtp.host, port=self.smtp.port, exc=exc)) from None
                self.sleep(pause)
        raise AssertionError("unreachable")

    def transaction(self, sender: str, recipient: str, wire: bytes, before: Callable[[], None],
                    revert: Callable[[], None] | None = None) -> Outcome:
        """MAIL and RCPT while `before()` (the journal's durable row) is written; DATA only once it is; the outcome.

        The row's fsync runs in a worker thread during the MAIL and RCPT round trips, instead of after them.
        A connection lost before DATA is opened again and the transaction started over (nothing was sent); if
        the run stops there (server gone, Ctrl-C), `revert()` undoes the row. Lost during DATA: 'unknown'.
        """
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
        written = self._writer.submit(before)
        try:
            refused = self._envelope_retrying(sender, recipient)
        except BaseException:
            written.result()
            if revert is not None:
                revert()
            raise
        written.result()  # the "before" row is on disk: from here on, the outcome can be unknown
        if refused:
            return refused
        client = self.client()
        try:
            code, reply = client.data_prepared(wire)
        except smtplib.SMTPDataError as exc:  # DATA itself refused: the message never left
            return _answer(exc.smtp_code, exc.smtp_error)
        except LOST as exc:
            self.drop()
            return Outcome(SendState.UNKNOWN, None, _("connection lost during DATA: {exc}").format(exc=exc))
        return _answer(code, reply)

    def _envelope_retrying(self, sender: str, recipient: str) -> Outcome | None:
        """_envelope(), reconnecting when the connection is lost; SendError when it cannot be had again."""
        for pause in (*self.backoff, None):
            try:
                return self._envelope(sender, recipient)
            except LOST:
                self.drop()
                if pause is None:
                    raise SendError(_("the SMTP server {host}:{port} keeps dropping the connection; run the same "
                                      "command again later").format(host=self.smtp.host, port=self.smtp.port)) from None
                self.sleep(pause)
        raise AssertionError("unreachable")

    def _envelope(self, sender: str, recipient: str) -> Outcome | None:
        """MAIL FROM and RCPT TO; the outcome if the server refused, None when DATA may follow."""
        client = self.client()
        code, reply = client.mail_from(sender)
        if code == 421:
            raise smtplib.SMTPServerDisconnected(_words(reply))
        if code >= 500:
            client.rset()
            raise SendError(_("the SMTP server refused the sender {sender}: {code} {reply}; check [letter] from "
                              "and [smtp] username").format(sender=sender, code=code, reply=_words(reply)))
        if code >= 400:
            client.rset()
            return _answer(code, reply)
        code, reply = client.rcpt_to(recipient)
        if code == 421:
            raise smtplib.SMTPServerDisconnected(_words(reply))
        if code not in (250, 251):
            client.rset()
            return _answer(code, reply)
        return None


def _answer(code: int, reply: bytes | str) -> Outcome:
    state = SendState.SENT if code == 250 else SendState.DEFERRED if 400 <= code < 500 else SendState.FAILED
    return Outcome(state, code, _words(reply))


def _words(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


class Pace:
    """At most `rate` transactions per second, spread evenly (no bursts)."""

    def __init__(self, rate: float | None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.clock = clock
        self.sleep = sleep
        self.next_at = 0.0

    def wait(self) -> None:
        """Sleep until the next transaction may start."""
        if not self.interval:
            return
        now = self.clock()
        if self.next_at > now:
            self.sleep(self.next_at - now)
            now = self.next_at
        self.next_at = max(self.next_at, now) + self.interval


def send_exactly_once(personalizer: Personalizer, journal: Journal, recipients: Sequence[Recipient],
              connection: Connection, *, rate: float | None = None, retry_wait: float = 60.0,
              resend_unknown: bool = False, on_progress: OnProgress | None = None,
              gone: Gone | None = None, stop: threading.Event | None = None,
              members: Personalizer | None = None) -> SendReport:
    """Send to every recipient of the list the journal has not sent to (nor, unless asked, may have).

    `gone()` names who left the list meanwhile: asked every RECHECK messages and before each retry round,
    so no one is sent to after the moment they unsubscribed (a running send honours it within RECHECK).
    `stop`, once set, ends the send before the next message (the one in flight finishes and is journalled).
    With `members` (the members' edition's copies), a member gets that edition: the one the journal recorded when
    they were first added, so a resumed send keeps each address's edition.
    """
    stop = stop or threading.Event()
    report = SendReport()
    began = time.monotonic()
    journal.recover()
    report.unknown_before = [r.email for r in journal.rows(SendState.UNKNOWN)]
    report.letter_changed = not journal.same_letter(personalizer.fingerprint)
    journal.add(recipients, editions=members is not None)
    todo = journal.todo(recipients, resend_unknown)
    editions = journal.editions() if members is not None else {}
    report.already_sent = journal.counts()[SendState.SENT]
    pace = Pace(rate)
    total, finished = len(todo), 0
    try:
        for round_number in range(1, ROUNDS + 1):
            retry: list[Recipient] = []
            left: set[str] = set()
            for number, recipient in enumerate(todo):
                if stop.is_set():
                    break
                if gone is not None and number % RECHECK == 0:
                    left = gone()
                if recipient.key in left:
                    report.left.append(recipient.email)
                    journal.withdraw(recipient)  # not pending any more: the letter's send can be complete
                    finished += 1
                    continue
                pace.wait()
                chosen = members if members is not None and editions.get(recipient.key) == "members" else personalizer
                outcome = _send_one(chosen, journal, connection, recipient)
                report.attempted += 1
                if outcome.state == SendState.DEFERRED and round_number < ROUNDS:
                    retry.append(recipient)
                else:
                    finished += 1
                    _tally(report, recipient, outcome)
                if on_progress:
                    on_progress(finished, total)
            if not retry or stop.is_set():
                break
            connection.close()  # a 4xx often means "slow down": let the server breathe before trying again
            if stop.wait(retry_wait):  # a stop asked during the pause ends it at once
                break
            todo = retry
    finally:
        connection.close()
    report.seconds = time.monotonic() - began
    report.stopped = stop.is_set()
    return report


def _send_one(personalizer: Personalizer, journal: Journal, connection: Connection,
              recipient: Recipient) -> Outcome:
    copy = personalizer.copy(recipient, datetime.now(UTC).astimezone(), wire=True)
    outcome = connection.transaction(personalizer.sender_for(recipient.email), recipient.email, copy.raw,
                                     lambda: journal.before(recipient, copy.message_id),
                                     lambda: journal.revert(recipient))
    journal.after(recipient, outcome.state, outcome.code, outcome.response)
    return outcome


def _tally(report: SendReport, recipient: Recipient, outcome: Outcome) -> None:
    if outcome.state == SendState.SENT:
        report.sent += 1
    elif outcome.state == SendState.FAILED:
        report.failed.append((recipient.email, outcome))
    elif outcome.state == SendState.DEFERRED:
        report.deferred.append((recipient.email, outcome))
    else:
        report.unknown.append(recipient.email)


def send_test(personalizer: Personalizer, recipients: Sequence[Recipient], connection: Connection) -> SendReport:
    """A test send ("[TEST]" subject): no journal, a new Message-ID each time."""
    report = SendReport()
    began = time.monotonic()
    try:
        for recipient in recipients:
            now = datetime.now(UTC).astimezone()
            copy = personalizer.copy(recipient, now, nonce=secrets.token_hex(8), wire=True)
            outcome = connection.transaction(personalizer.sender_for(recipient.email), recipient.email, copy.raw,
                                             lambda: None)
            report.attempted += 1
            _tally(report, recipient, outcome)
    finally:
        connection.close()
    report.seconds = time.monotonic() - began
    return report


def dry_run(personalizer: Personalizer, recipients: Sequence[Recipient], folder: Path,
            members: Personalizer | None = None) -> list[Path]:
    """Write each recipient's copy (a member's of the members' edition, with `members`) to folder/ as
    NNNN-address.eml instead of sending; the paths."""
    now = datetime.now(UTC).astimezone()
    written = []
    for private in (folder.parent.parent, folder.parent, folder):  # <private_dir>/<date>/dry-run/
        private_folder(private)  # the copies carry working unsubscribe links: owner only
    for number, recipient in enumerate(recipients, 1):
        path = folder / f"{number:05d}-{safe_name(recipient.email)}.eml"
        chosen = members if members is not None and recipient.member else personalizer
        write_atomic(path, chosen.copy(recipient, now).raw, mode=PRIVATE)  # WriteFailed names the file
        written.append(path)
    return written


def pending_for_dry_run(folder: Path, recipients: Sequence[Recipient], resend_unknown: bool) -> list[Recipient]:
    """Those a list send would send to now, read from the journal without taking its lock."""
    return journal_module.still_to_send(journal_module.states(folder), recipients, resend_unknown)


@dataclass(frozen=True)
class Job:
    """What every kind of send needs: the configuration, the built letter, its copy maker and private folder."""

    cfg: Config
    letter: BuiltLetter
    personalizer: Personalizer
    private: Path  # <private_dir>/<date>/: the journal and the dry-run copies (addresses: never in the outbox)
    members: Personalizer | None = None  # the members' edition's copies, when the letter has one

    @property
    def folder(self) -> Path:
        """outbox/<date>/: where the built letter is."""
        return self.letter.folder


def load_job(cfg: Config, day: date, outbox: Path, *, test: bool = False) -> Job:
    """Read the built letter for `day` and precompute its copies; DigestError (exit 2) when it cannot be sent."""
    letter = read_built(outbox, day)

    def copies(edition: BuiltLetter) -> Personalizer:
        return Personalizer(edition, identity.secret(cfg), identity.list_id(cfg),
                            unsubscribe_mailto=cfg.letter.unsubscribe_mailto, test=test,
                            return_path=cfg.smtp.return_path if cfg.smtp else None,
                            verp=bool(cfg.smtp and cfg.smtp.verp))
    return Job(cfg, letter, copies(letter), journal_module.folder_for(cfg, day),
               copies(letter.members) if letter.members else None)


def connection_for(cfg: Config) -> Connection:
    """A connection to the [smtp] server (not opened yet)."""
    smtp, password = smtp_settings(cfg)
    return Connection(smtp, password)


def send_to_list(job: Job, recipients: Sequence[Recipient], connection: Connection, *, resend_unknown: bool = False,
             on_progress: OnProgress | None = None, gone: Gone | None = None,
             stop: threading.Event | None = None, notes: Mapping[str, str] | None = None) -> SendReport:
    """The real send to a list, journalled in <private_dir>/<date>/ (with `notes`: who approved it)."""
    smtp = job.cfg.smtp
    with journal_module.opened(job.private) as journal:
        if notes:
            journal.note(notes)
        return send_exactly_once(job.personalizer, journal, recipients, connection,
                         rate=smtp.rate if smtp else None, retry_wait=smtp.retry_wait if smtp else 60.0,
                         resend_unknown=resend_unknown, on_progress=on_progress, gone=gone, stop=stop,
                         members=job.members)
