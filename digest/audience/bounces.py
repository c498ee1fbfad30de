"""Read the bounce mailbox: delivery failures, complaints and unsubscribe mails change the subscriber store.

The mailbox is a Maildir or an mbox (the standard library's `mailbox`) or an IMAP folder (imapclient).
Bounce formats are recognised by flufl.bounce (GNU Mailman's detectors, which know the loose formats real
servers write); a VERP envelope sender (local+<id>@domain) names the recipient even when the report is vague.
Each message understood is moved to a "done" folder (never deleted); the store remembers which it has seen,
so a rerun changes nothing. A message not understood is left where it is and counted.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import mailbox
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses, parseaddr
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse

from flufl.bounce import all_failures

from digest.audience.subscribers import Store
from digest.delivery.personalize import verp_id
from digest.errors import DigestError

DONE = "digest-done"  # the folder processed messages are moved to
MAX_MESSAGE = 10 * 1024 * 1024  # a bounce carries at most a copy of the letter: anything larger is not read
# The Message-ID digest gives every copy: <YYYY-MM-DD.<24 hex>@domain>; found in a bounce, it names the letter.
LETTER_ID = re.compile(rb"<(\d{4}-\d{2}-\d{2})\.[0-9a-f]{24}@")


class BounceError(DigestError):
    """The mailbox cannot be read (missing, not a mailbox, IMAP login refused)."""


@dataclass(frozen=True)
class Finding:
    """What one message says about one address: bounced, soft (a temporary failure), complained, unsubscribe."""

    email: str
    kind: str
    letter: str
    detail: str


@dataclass
class Summary:
    """What a run did: per address, and the messages it left alone."""

    done: list[tuple[Finding, bool]] = field(default_factory=list)  # (finding, whether the store changed)
    not_in_store: list[Finding] = field(default_factory=list)
    delayed: int = 0  # "delayed" notices and auto-replies: not bounces, moved to done all the same
    already: int = 0  # seen on an earlier run
    not_understood: int = 0
    too_large: int = 0


@dataclass(frozen=True)
class Rules:
    """What the mailbox's messages are matched against."""

    verp: dict[str, str]  # VERP id -> address, for every address in the store
    return_path: str | None
    mailto: str | None  # the unsubscribe_mailto address, without 'mailto:'


class Mailbox(Protocol):
    """A mailbox as the run sees it: its messages as bytes, and a way to move one to the done folder."""

    def messages(self) -> Iterator[tuple[str, bytes | None]]:
        """(key, raw bytes) of every message; None for one larger than MAX_MESSAGE (not read)."""
        ...

    def move_done(self, key: str) -> None:
        """Move one message to the done folder."""
        ...


def rules_for(store: Store, secret: bytes | None, list_id: str, return_path: str | None,
              mailto: str | None) -> Rules:
    """The VERP ids of every address in the store (with the secret; none without), and the addresses bounces
    and unsubscribe mails go to."""
    verp = {verp_id(secret, list_id, row.email): row.email for row in store.rows()} if secret else {}
    address = unquote(urlparse(mailto).path).split("?")[0] if mailto else None
    return Rules(verp, return_path, address)


def classify(raw: bytes, rules: Rules) -> list[Finding] | None:
    """What a message says, or None when it is not understood; [] for a notice that is not a bounce."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    letter = _letter_of(raw)
    report_type = (message.get_param("report-type") or "") if message.get_content_type() == "multipart/report" \
        else ""
    if isinstance(report_type, str) and report_type.lower() == "feedback-report":
        return _complaint(message, rules, letter)
    recipient = _verp_recipient(message, rules)
    temporary, permanent = all_failures(message)
    if permanent:
        statuses = _statuses(message)
        found = [recipient] if recipient else sorted({a.decode("utf-8", "replace") for a in permanent})
        return [Finding(a, _kind(statuses, a, recipient), letter, _detail(statuses, a)) for a in found]
    if temporary or _delayed(message):
        return []
    if _auto_reply(message):
        return []
    if rules.mailto and _addressed_to(message, rules.mailto):
        sender = parseaddr(message.get("From", ""))[1]
        return [Finding(sender, "unsubscribe", letter, "mail to the unsubscribe address")] if "@" in sender else None
    return None


def _complaint(message: Message, rules: Rules, letter: str) -> list[Finding] | None:
    """An ARF report (RFC 5965): the complaining recipient, from Original-Rcpt-To or the returned message."""
    found: list[str] = []
    for part in message.walk():
        if part.get_content_type() == "message/feedback-report":
            found += [parseaddr(v)[1] for v in _report_fields(part, "original-rcpt-to")]
        elif part.get_content_type() in ("message/rfc822", "text/rfc822-headers") and not found:
            inner = _inner(part)
            if inner is not None:
                recipient = _verp_recipient(inner, rules, ("Return-Path",))
                found += [recipient] if recipient else [a for _, a in getaddresses(inner.get_all("To", []))]
    found = [a for a in dict.fromkeys(found) if "@" in a]
    return [Finding(a, "complained", letter, "feedback-loop complaint") for a in found] or None


def _inner(part: Message) -> Message | None:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    if isinstance(payload, str):
        return email.message_from_string(payload)
    return None


def _report_fields(part: Message, name: str) -> list[str]:
    """A field of a message/feedback-report or message/delivery-status part, in every block it has."""
    payload = part.get_payload()
    blocks = payload if isinstance(payload, list) else [email.message_from_string(str(payload))]
    return [str(v) for block in blocks if isinstance(block, Message) for v in block.get_all(name, [])]


def _statuses(message: Message) -> dict[str, str]:
    """Each failed recipient's DSN status code (5.1.1, 4.2.2…), by lower-cased address."""
    found: dict[str, str] = {}
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        for block in payload if isinstance(payload, list) else []:
            if not isinstance(block, Message):
                continue
            recipient = str(block.get("Final-Recipient") or block.get("Original-Recipient") or "")
            status = str(block.get("Status") or "").strip()
            if recipient and status:
                found[recipient.rpartition(";")[2].strip().strip("<>").lower()] = status
    return found


def _kind(statuses: dict[str, str], address: str, verp_recipient: str | None) -> str:
    """'soft' when the report says 4.x.x (a temporary failure the server gave up on), else 'bounced'."""
    codes = [statuses.get(address.lower())] if not verp_recipient else list(statuses.values())
    known = [c for c in codes if c]
    return "soft" if known and all(c.startswith("4") for c in known) else "bounced"


def _detail(statuses: dict[str, str], address: str) -> str:
    code = statuses.get(address.lower()) or next(iter(statuses.values()), "")
    return f"delivery failed ({code})" if code else "delivery failed"


def _delayed(message: Message) -> bool:
    """A DSN whose every recipient is 'delayed' (or 'relayed', 'delivered'): a notice, not a failure."""
    actions = [a.strip().lower() for part in message.walk() if part.get_content_type() == "message/delivery-status"
               for a in _report_fields(part, "action")]
    return bool(actions) and "failed" not in actions


def _auto_reply(message: Message) -> bool:
    """An out-of-office or other automatic reply (RFC 3834): not a bounce."""
    submitted = str(message.get("Auto-Submitted", "no")).strip().lower()
    return submitted != "no" or bool(message.get("X-Autoreply")) or bool(message.get("X-Autorespond"))


def _verp_recipient(message: Message, rules: Rules, headers: Iterable[str] = ("Delivered-To", "X-Original-To",
                                                                               "To", "Envelope-To")) -> str | None:
    """The store's address a VERP bounce address (local+<id>@domain) names, or None."""
    if not rules.return_path:
        return None
    local, _, domain = rules.return_path.rpartition("@")
    pattern = re.compile(re.escape(local) + r"\+([a-z2-7]{20})@" + re.escape(domain), re.IGNORECASE)
    for name in headers:
        for value in message.get_all(name, []):
            match = pattern.search(str(value))
            if match and match.group(1).lower() in rules.verp:
                return rules.verp[match.group(1).lower()]
    return None


def _addressed_to(message: Message, address: str) -> bool:
    values = [*message.get_all("To", []), *message.get_all("Delivered-To", []), *message.get_all("Cc", [])]
    return any(a.lower() == address.lower() for _, a in getaddresses([str(v) for v in values]))


def _letter_of(raw: bytes) -> str:
    """The letter (its date) a bounce is about, from the returned message's Message-ID; '' when absent."""
    match = LETTER_ID.search(raw)
    return match.group(1).decode("ascii") if match else ""


def message_key(raw: bytes) -> str:
    """What identifies a message across runs: a hash of its bytes."""
    return hashlib.sha256(raw).hexdigest()


def process(box: Mailbox, store: Store, rules: Rules) -> Summary:
    """Apply every message of the mailbox to the store; move each understood one to the done folder."""
    summary = Summary()
    for key, raw in box.messages():
        if raw is None or len(raw) > MAX_MESSAGE:
            summary.too_large += 1
            continue
        fingerprint = message_key(raw)
        if store.seen(fingerprint):
            summary.already += 1
            box.move_done(key)
            continue
        findings = classify(raw, rules)
        if findings is None:
            summary.not_understood += 1
            continue
        if not findings:
            summary.delayed += 1
        for finding in findings:
            _apply(store, finding, summary)
        store.mark_seen(fingerprint)
        box.move_done(key)
    return summary


def _apply(store: Store, finding: Finding, summary: Summary) -> None:
    if store.get(finding.email) is None:
        summary.not_in_store.append(finding)
        return
    change: Callable[[], bool] = {
        "bounced": lambda: store.set_status(finding.email, "bounced", finding.detail, letter=finding.letter),
        "soft": lambda: store.soft_bounce(finding.email, finding.letter, finding.detail),
        "complained": lambda: store.set_status(finding.email, "complained", finding.detail, letter=finding.letter),
        "unsubscribe": lambda: store.unsubscribe(finding.email, finding.detail, letter=finding.letter),
    }[finding.kind]
    summary.done.append((finding, change()))


class FileMailbox:
    """A Maildir folder or an mbox file; the done folder is DIR/.digest-done (Maildir++) or FILE.digest-done."""

    def __init__(self, path: Path, kind: str) -> None:
        if kind == "maildir":
            if not (path / "cur").is_dir() and not (path / "new").is_dir():
                raise BounceError(f"{path}: not a Maildir (no cur/ or new/ folder in it)")
            self.box: mailbox.Mailbox[mailbox.Message] = mailbox.Maildir(path, create=False)
            self.done: mailbox.Mailbox[mailbox.Message] = mailbox.Maildir(path / f".{DONE}", create=True)
        else:
            if not path.is_file():
                raise BounceError(f"{path}: no such mbox file")
            self.box = mailbox.mbox(path, create=False)
            self.done = mailbox.mbox(path.with_name(f"{path.name}.{DONE}"), create=True)
        self.kind = kind

    def messages(self) -> Iterator[tuple[str, bytes | None]]:
        """(key, raw bytes) of every message, read one at a time."""
        for key in list(self.box.keys()):
            yield key, self.box.get_bytes(key)

    def move_done(self, key: str) -> None:
        """Copy to the done folder first, then remove: a crash between the two leaves a copy, never none."""
        self.done.add(self.box.get_message(key))
        self.done.flush()
        self.box.remove(key)

    @contextmanager
    def opened(self) -> Iterator[FileMailbox]:
        """The mailbox locked (an mbox is rewritten when messages leave it), flushed and unlocked at the end."""
        self.box.lock()
        try:
            yield self
            self.box.flush()
        finally:
            self.box.unlock()
            self.box.close()
            self.done.close()


class ImapMailbox:
    """An IMAP folder (imapclient); processed messages are moved to the folder digest-done beside it."""

    def __init__(self, url: str, password: str, *, timeout: float = 30.0) -> None:
        import ssl

        from imapclient import IMAPClient

        parsed = urlparse(url)
        if parsed.scheme not in ("imap", "imaps") or not parsed.hostname or not parsed.username:
            raise BounceError(f"{url}: expected imaps://user@host/FOLDER")
        if parsed.scheme == "imap" and parsed.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise BounceError(f"{url}: imap:// would send the password in clear; use imaps://")
        self.folder = unquote(parsed.path.lstrip("/")) or "INBOX"
        try:
            self.client = IMAPClient(parsed.hostname, port=parsed.port or (993 if parsed.scheme == "imaps" else 143),
                                     ssl=parsed.scheme == "imaps", ssl_context=ssl.create_default_context(),
                                     timeout=timeout)
            self.client.login(unquote(parsed.username), password)
            self.client.select_folder(self.folder)
            if not self.client.folder_exists(DONE):
                self.client.create_folder(DONE)
        except (OSError, self._errors()) as exc:
            raise BounceError(f"{parsed.hostname}: IMAP: {exc}") from None

    @staticmethod
    def _errors() -> type[Exception]:
        from imapclient.exceptions import IMAPClientError

        error: type[Exception] = IMAPClientError
        return error

    def messages(self) -> Iterator[tuple[str, bytes | None]]:
        """(UID, raw bytes) of every message in the folder, fetched one at a time (a too large one is not)."""
        uids = self.client.search("ALL")
        sizes = self.client.fetch(uids, ["RFC822.SIZE"]) if uids else {}
        for uid in uids:
            if int(sizes[uid][b"RFC822.SIZE"]) > MAX_MESSAGE:
                yield str(uid), None
                continue
            yield str(uid), bytes(self.client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"])

    def move_done(self, key: str) -> None:
        """MOVE when the server has it, else COPY, then delete and expunge that one message."""
        if self.client.has_capability("MOVE"):
            self.client.move([int(key)], DONE)
            return
        self.client.copy([int(key)], DONE)
        self.client.delete_messages([int(key)])
        self.client.expunge([int(key)])

    def close(self) -> None:
        """Log out."""
        try:
            self.client.logout()
        except (OSError, self._errors()):
            pass
