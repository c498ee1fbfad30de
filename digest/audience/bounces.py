"""Read the bounce mailbox: delivery failures, complaints and unsubscribe mails change the subscriber store.

The mailbox is a Maildir or an mbox (the standard library's `mailbox`) or an IMAP folder (imapclient).
Bounce formats are recognised by flufl.bounce (GNU Mailman's detectors, which know the loose formats real
servers write). Anyone can write a bounce report, so the addresses a report names prove nothing: a report
changes a subscriber only when it proves which copy it answers (the VERP address of that recipient, or the
returned copy's signed Message-ID or List-Unsubscribe token), and then only that one recipient. A report that
proves nothing is *unproven*: moved aside for a person to read, nothing changed.
Each message understood is moved to a "done" folder (never deleted); the store remembers which it has seen,
so a rerun changes nothing. A message not understood is left where it is and counted.
"""

from __future__ import annotations

import email
import email.parser
import email.policy
import hashlib
import hmac
import logging
import mailbox
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses
from enum import StrEnum
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse

from flufl.bounce import all_failures

from digest.audience.recipients import key_of
from digest.audience.states import Means, Status
from digest.audience.subscribers import Subscribers
from digest.config import Config
from digest.errors import DigestError
from digest.files import narrow_tree, private_files
from digest.hosts import is_loopback
from digest.i18n import _
from digest.mail.signing import unsubscribe_address, verp_id

DONE = "digest-done"  # the folder processed messages are moved to
UNPROVEN = "digest-unproven"  # the folder reports that prove nothing are moved to, for a person to read
MAX_MESSAGE = 10 * 1024 * 1024  # a bounce carries at most a copy of the letter: anything larger is not read
MAX_RECIPIENTS = 50  # a real report names a few recipients; one naming thousands is not parsed at all
MAX_PROOFS = 20  # signed Message-IDs or tokens looked at in one message
# The Message-ID digest gives every copy: <YYYY-MM-DD.<24 hex>@domain>, the hex an HMAC of the recipient.
LETTER_ID = re.compile(rb"<(\d{4}-\d{2}-\d{2})\.([0-9a-f]{24})@")
# A recipient's token, in the unsubscribe URL (t=…) or in the unsubscribe mailto's subject (unsubscribe-…).
# An unsubscribe token in a returned copy: sealed (v3, no dot) or address.mac (letters of digest 0.2 and before).
TOKEN = re.compile(rb"(?:[?&;]t=|unsubscribe-)([A-Za-z0-9_-]{2,400}(?:\.[A-Za-z0-9_-]{22})?)(?![A-Za-z0-9_.-])")
RECIPIENT_FIELD = re.compile(rb"(?im)^(?:final|original)-recipient\s*:|^original-rcpt-to\s*:")


# A detector that fails on a malformed message logs its traceback there: the message is "not understood" instead.
logging.getLogger("flufl.bounce").addHandler(logging.NullHandler())
logging.getLogger("flufl.bounce").propagate = False


class BounceError(DigestError):
    """The mailbox cannot be read (missing, not a mailbox, IMAP login refused)."""


class Returned(StrEnum):
    """What a returned message says of an address."""

    BOUNCED = "bounced"
    SOFT = "soft"  # a temporary failure
    COMPLAINED = "complained"
    UNSUBSCRIBE = "unsubscribe"  # a mail to the unsubscribe address, proved by its token


@dataclass(frozen=True)
class Return:
    """What one returned message says about one address, proved: bounced, soft, complained, unsubscribe."""

    email: str
    kind: Returned
    letter: str
    detail: str


@dataclass(frozen=True)
class Unproven:
    """A message that would change a subscriber but proves no copy: who sent it, its subject, why it was set aside."""

    sender: str
    subject: str
    reason: str


@dataclass
class Summary:
    """What a run did: per address, and the messages it left alone."""

    done: list[tuple[Return, bool]] = field(default_factory=list)  # (finding, whether the store changed)
    not_in_store: list[Return] = field(default_factory=list)
    unproven: list[Unproven] = field(default_factory=list)  # moved aside, nothing changed
    delayed: int = 0  # "delayed" notices and auto-replies: not bounces, moved to done all the same
    already: int = 0  # seen on an earlier run
    not_understood: int = 0
    too_large: int = 0


MICROSOFT = "microsoft"  # [returns] authserv_id for Outlook.com and Microsoft 365, which write no authserv-id


@dataclass
class Rules:
    """What the mailbox's messages are matched against, and what proves a recipient."""

    verp: dict[str, str]  # VERP id -> address, for every address in the store
    return_path: str | None
    mailto: str | None  # the unsubscribe_mailto address, without 'mailto:'
    secret: bytes | None = None  # signs tokens and Message-IDs: without it nothing is proven but by VERP
    list_id: str = ""
    authserv_id: str | None = None  # the receiving server whose Authentication-Results are believed
    addresses: tuple[str, ...] = ()  # the store's addresses, to recognise a signed Message-ID
    _ids: dict[str, dict[str, str]] = field(default_factory=dict)  # letter date -> {mac: address}

    def by_message_id(self, day: str, mac: str) -> str | None:
        """The address whose copy of the letter of `day` had this signed Message-ID, or None."""
        if self.secret is None:
            return None
        if day not in self._ids:
            secret = self.secret
            self._ids[day] = {hmac.new(secret, f"mid\n{day}\n{a.lower()}\n".encode(), hashlib.sha256)
                              .hexdigest()[:24]: a for a in self.addresses}
        return self._ids[day].get(mac)


class Mailbox(Protocol):
    """A mailbox as the run sees it: its messages as bytes, and ways to move one to the done or aside folder."""

    def messages(self) -> Iterator[tuple[str, bytes | None]]:
        """(key, raw bytes) of every message; None for one larger than MAX_MESSAGE (not read)."""
        ...

    def move_done(self, key: str) -> None:
        """Move one message to the done folder."""
        ...

    def move_aside(self, key: str) -> None:
        """Move one message to the unproven folder."""
        ...


def rules_for(store: Subscribers, secret: bytes | None, list_id: str, return_path: str | None,
              mailto: str | None, authserv_id: str | None = None, *, verp: bool = True) -> Rules:
    """The proofs every address in the store can give (none without the secret), and the addresses bounces
    and unsubscribe mails go to."""
    addresses = tuple(row.email for row in store.rows())
    ids = {verp_id(secret, list_id, a): a for a in addresses} if secret and verp else {}
    address = unquote(urlparse(mailto).path).split("?")[0] if mailto else None
    return Rules(ids, return_path, address, secret, list_id, authserv_id, addresses if secret else ())


Verdict = list[Return] | Unproven | None


def classify(raw: bytes, rules: Rules) -> Verdict:
    """What a message says: findings for the one recipient it proves ([] for a notice that is not a bounce),
    Unproven when it would change someone but proves no copy, None when it is not understood."""
    if len(RECIPIENT_FIELD.findall(raw)) > MAX_RECIPIENTS:  # counted before parsing: the parse is the cost
        headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
        return _unproven(headers, _("names more than {MAX_RECIPIENTS} recipients: not read").format(
                                      MAX_RECIPIENTS=MAX_RECIPIENTS))
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    letter = _letter_of(raw)
    proven = _proven(message, raw, rules)
    report_type = (message.get_param("report-type") or "") if message.get_content_type() == "multipart/report" \
        else ""
    if isinstance(report_type, str) and report_type.lower() == "feedback-report":
        return _one(message, proven, "a complaint",
                    lambda a: Return(a, Returned.COMPLAINED, letter, _("feedback-loop complaint")))
    try:
        temporary, permanent = all_failures(message)
    except Exception:  # a detector fails on a message it cannot read (raw UTF-8 headers): no failure found
        temporary, permanent = frozenset(), frozenset()
    if permanent:
        statuses = _statuses(message)
        return _one(message, proven, "a bounce",
                    lambda a: Return(a, _kind(statuses, a), letter, _detail(statuses, a)))
    if temporary or _delayed(message) or _auto_reply(message):
        return []
    if rules.mailto and _addressed_to(message, rules.mailto):
        vouched = _vouched_sender(message, rules)
        if not proven and vouched:
            proven = {key_of(vouched): vouched}
        return _one(message, proven, _("an unsubscribe mail"),
                    lambda a: Return(a, Returned.UNSUBSCRIBE, letter, _("mail to the unsubscribe address")))
    return None


def _one(message: Message, proven: dict[str, str], what: str, finding: Callable[[str], Return]) -> Verdict:
    """The finding for the one recipient proven; Unproven when none is, or several are."""
    if len(proven) == 1:
        return [finding(next(iter(proven.values())))]
    if proven:
        return _unproven(message, _("{what} whose proofs name {count} different recipients").format(
                                      what=what, count=len(proven)))
    return _unproven(message, _("{what} that proves no copy of ours (no VERP address, signed Message-ID or "
                                "token)").format(
                                  what=what))


def _unproven(message: Message, reason: str) -> Unproven:
    return Unproven(_shown(message.get("From", "")), _shown(message.get("Subject", "")), reason)


def _shown(value: object) -> str:
    """A header as a terminal may show it: control characters (escape sequences) replaced, cut at 80."""
    text = re.sub(r"\s+", " ", str(value or ""))
    return "".join(c if c.isprintable() else "?" for c in text)[:80]


def _proven(message: Message, raw: bytes, rules: Rules) -> dict[str, str]:
    """Every recipient the message proves, by key: its VERP address, signed Message-IDs and tokens."""
    found: dict[str, str] = {}
    recipient = _verp_recipient(message, rules)
    if recipient:
        found[key_of(recipient)] = recipient
    if rules.secret is None:
        return found
    text = raw.replace(b"=\r\n", b"").replace(b"=\n", b"").replace(b"=3D", b"=")  # quoted-printable copies
    for day, mac in list(dict.fromkeys(LETTER_ID.findall(text)))[:MAX_PROOFS]:
        address = rules.by_message_id(day.decode(), mac.decode())
        if address:
            found[key_of(address)] = address
    for token in list(dict.fromkeys(TOKEN.findall(text)))[:MAX_PROOFS]:
        address = unsubscribe_address(rules.secret, token.decode("ascii"), rules.list_id or None)
        if address:
            found[key_of(address)] = address
    return found


def _vouched_sender(message: Message, rules: Rules) -> str | None:
    """The From address, when the receiving server's own Authentication-Results say DMARC passed for the From's
    domain; else None. The header is read as RFC 8601 writes it (authres): the authserv-id first, then one
    `method=result` per resinfo; only the `dmarc` method's result counts, with its `header.from` the From's
    domain — a `dmarc=pass` written into another method's property (an SPF mail-from) or a comment is no
    verdict. The trusted header is the first one whose authserv-id is [returns] authserv_id (the one that
    server added on top); Microsoft writes none: with `authserv_id = "microsoft"` only the first header counts,
    and only in that shape."""
    senders = [a for _, a in getaddresses([str(v) for v in message.get_all("From", [])])]
    if not rules.authserv_id or len(senders) != 1 or "@" not in senders[0]:
        return None
    domain = senders[0].rpartition("@")[2].lower()
    verdicts = _authentication_results(message, rules.authserv_id)
    if verdicts is None:
        return None
    for_domain = [result for result, header_from in verdicts if header_from == domain]
    return senders[0] if for_domain and all(result == "pass" for result in for_domain) else None


def _authentication_results(message: Message, authserv_id: str) -> list[tuple[str, str]] | None:
    """The dmarc verdicts (result, header.from) of the trusted Authentication-Results header, None without one."""
    import authres

    microsoft = authserv_id.lower() == MICROSOFT
    for number, value in enumerate(message.get_all("Authentication-Results", [])[:MAX_PROOFS]):
        text = " ".join(str(value).split())[:4000]
        if microsoft:
            if number or "=" not in text.partition(";")[0]:
                return None  # Microsoft's own header is the first, and has no authserv-id
            text = f"{MICROSOFT}; {text}"
        try:
            header = authres.AuthenticationResultsHeader.parse_value(text)
        except Exception:  # authres raises its own SyntaxError and others for a header it cannot read
            continue
        if str(header.authserv_id).lower() != authserv_id.lower():
            continue  # another server's word, or one the sender wrote
        return [(str(result.result).lower(), _header_from(result)) for result in header.results
                if str(result.method).lower() == "dmarc"]
    return None


def _header_from(result: object) -> str:
    for prop in getattr(result, "properties", []):
        if str(prop.type).lower() == "header" and str(prop.name).lower() == "from":
            return str(prop.value).strip('"').rpartition("@")[2].lower()
    return ""


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


def _kind(statuses: dict[str, str], address: str) -> Returned:
    """'soft' when the report says 4.x.x (a temporary failure the server gave up on), else 'bounced'; the
    proven recipient's own status when the report names it (a forwarded address may differ: then all)."""
    codes = [statuses[address.lower()]] if address.lower() in statuses else list(statuses.values())
    known = [c for c in codes if c]
    return Returned.SOFT if known and all(c.startswith("4") for c in known) else Returned.BOUNCED


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
    local, _sep, domain = rules.return_path.rpartition("@")
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


def process(box: Mailbox, store: Subscribers, rules: Rules) -> Summary:
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
        if isinstance(findings, Unproven):
            summary.unproven.append(findings)
            box.move_aside(key)  # not marked seen: once a person has a reason to, they may put it back
            continue
        if not findings:
            summary.delayed += 1
        for finding in findings:
            _apply(store, finding, summary)
        store.mark_seen(fingerprint)
        box.move_done(key)
    return summary


def _apply(store: Subscribers, finding: Return, summary: Summary) -> None:
    if store.get(finding.email) is None:
        summary.not_in_store.append(finding)
        return
    change: Callable[[], bool] = {
        Returned.BOUNCED: lambda: store.set_status(finding.email, Status.BOUNCED, finding.detail, Means.BOUNCE,
                                                   letter=finding.letter),
        Returned.SOFT: lambda: store.soft_bounce(finding.email, finding.letter, finding.detail),
        Returned.COMPLAINED: lambda: store.set_status(finding.email, Status.COMPLAINED, finding.detail,
                                                      Means.COMPLAINT, letter=finding.letter),
        Returned.UNSUBSCRIBE: lambda: store.unsubscribe(finding.email, finding.detail, Means.MAIL,
                                                        letter=finding.letter),
    }[finding.kind]
    summary.done.append((finding, change()))


class FileMailbox:
    """A Maildir folder or an mbox file; the done folder is DIR/.digest-done (Maildir++) or FILE.digest-done,
    the unproven one DIR/.digest-unproven or FILE.digest-unproven. Both hold addresses: owner only."""

    def __init__(self, path: Path, kind: str) -> None:
        if kind == "maildir":
            if not (path / "cur").is_dir() and not (path / "new").is_dir():
                raise BounceError(_("{path}: not a Maildir (no cur/ or new/ folder in it)").format(path=path))
            self.box: mailbox.Mailbox[mailbox.Message] = mailbox.Maildir(path, create=False)
            self.done: mailbox.Mailbox[mailbox.Message] = mailbox.Maildir(path / f".{DONE}", create=True)
            self.aside: mailbox.Mailbox[mailbox.Message] = mailbox.Maildir(path / f".{UNPROVEN}", create=True)
            self.private = [path / f".{DONE}", path / f".{UNPROVEN}"]
        else:
            if not path.is_file():
                raise BounceError(_("{path}: no such mbox file").format(path=path))
            self.box = mailbox.mbox(path, create=False)
            self.done = mailbox.mbox(path.with_name(f"{path.name}.{DONE}"), create=True)
            self.aside = mailbox.mbox(path.with_name(f"{path.name}.{UNPROVEN}"), create=True)
            self.private = [path.with_name(f"{path.name}.{DONE}"), path.with_name(f"{path.name}.{UNPROVEN}")]
        self.kind = kind

    def messages(self) -> Iterator[tuple[str, bytes | None]]:
        """(key, raw bytes) of every message, read one at a time."""
        for key in list(self.box.keys()):
            yield key, self.box.get_bytes(key)

    def move_done(self, key: str) -> None:
        """Copy to the done folder first, then remove: a crash between the two leaves a copy, never none."""
        self._move(key, self.done)

    def move_aside(self, key: str) -> None:
        """Copy to the unproven folder first, then remove."""
        self._move(key, self.aside)

    def _move(self, key: str, target: mailbox.Mailbox[mailbox.Message]) -> None:
        with private_files():
            target.add(self.box.get_bytes(key))  # as bytes: parsing a hostile message again costs, and changes it
            target.flush()
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
            self.aside.close()
            for path in self.private:
                narrow_tree(path)


class ImapMailbox:
    """An IMAP folder (imapclient); processed messages are moved to the folder digest-done beside it."""

    def __init__(self, url: str, password: str, *, timeout: float = 30.0) -> None:
        import ssl

        from imapclient import IMAPClient

        parsed = urlparse(url)
        if parsed.scheme not in ("imap", "imaps") or not parsed.hostname or not parsed.username:
            raise BounceError(_("{url}: expected imaps://user@host/FOLDER").format(url=url))
        if parsed.scheme == "imap" and not is_loopback(parsed.hostname):
            raise BounceError(_("{url}: imap:// would send the password in clear; use imaps://").format(url=url))
        self.folder = unquote(parsed.path.lstrip("/")) or "INBOX"
        try:
            self.client = IMAPClient(parsed.hostname, port=parsed.port or (993 if parsed.scheme == "imaps" else 143),
                                     ssl=parsed.scheme == "imaps", ssl_context=ssl.create_default_context(),
                                     timeout=timeout)
            self.client.login(unquote(parsed.username), password)
            self.client.select_folder(self.folder)
            for folder in (DONE, UNPROVEN):
                if not self.client.folder_exists(folder):
                    self.client.create_folder(folder)
        except (OSError, self._errors()) as exc:
            raise BounceError(_("{hostname}: IMAP: {exc}").format(hostname=parsed.hostname, exc=exc)) from None

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
        """Move one message to the done folder."""
        self._move(key, DONE)

    def move_aside(self, key: str) -> None:
        """Move one message to the unproven folder."""
        self._move(key, UNPROVEN)

    def _move(self, key: str, folder: str) -> None:
        """MOVE when the server has it, else COPY, then delete and expunge that one message."""
        if self.client.has_capability("MOVE"):
            self.client.move([int(key)], folder)
            return
        self.client.copy([int(key)], folder)
        self.client.delete_messages([int(key)])
        self.client.expunge([int(key)])

    def close(self) -> None:
        """Log out."""
        try:
            self.client.logout()
        except (OSError, self._errors()):
            pass


@dataclass(frozen=True)
class Source:
    """Where the returned mails are: an IMAP folder (with its password), or a Maildir or mbox on disk."""

    imap: str | None = None
    password: str = ""
    folder: Path | None = None
    kind: str = "maildir"  # or "mbox", for `folder`


def read_returns(cfg: Config, source: Source) -> Summary:
    """Read the returned mails of `source` against the store of `cfg`: what each proves changes a subscriber;
    each message understood is moved to digest-done, an unproven one to digest-unproven."""
    from digest.files import private_files
    from digest.mail import identity

    secret = identity.secret(cfg)  # VERP ids, Message-IDs and tokens are signed with it: the only proofs of a copy
    with private_files(), Subscribers(cfg.subscribers_path) as store:  # the done folders hold addresses
        rules = rules_for(store, secret, identity.list_id(cfg), cfg.smtp.return_path if cfg.smtp else None,
                          cfg.letter.unsubscribe_mailto, cfg.returns.authserv_id, verp=bool(cfg.smtp and cfg.smtp.verp))
        if source.imap:
            box = ImapMailbox(source.imap, source.password)
            try:
                return process(box, store, rules)
            finally:
                box.close()
        with FileMailbox(source.folder or Path(), source.kind).opened() as files:
            return process(files, store, rules)
