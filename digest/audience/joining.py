"""Joining the list: sign-ups waiting for their confirmation and the consent record (the `signups` part of the
private store), on the store's one mail queue and its pending confirmations.

- `ask()`: a form post. Whatever the address's state it runs the same statements in one transaction (the
  answer's timing tells nothing); they change something only for an address that is not subscribed, was not
  mailed in the last 24 hours and whose client is under its hourly cap: then a pending row, one queued mail
  (digest.store.queue) and an `asked` consent record.
- `confirm()`: the POST of the confirmation page's button, with a pending token (digest.store.pendings): the
  address is subscribed (again: an erased, complained or bounced address comes back only here), with a
  `confirmed` record naming the wording's hash, the page's origin and, when asked to, the IP address.
- `purge()`: sign-ups never confirmed are deleted after `pending_days`; their records keep only their counts.

Every wording a consent was given to is kept (table `wording`), named by its hash. Unsubscribes, bounces and
complaints stay where the subscribers part records them (table `event`); `history()` reads both.
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from digest.audience.recipients import key_of
from digest.audience.states import Means, Status
from digest.audience.subscribers import EXPORT_COLUMNS, MAX_FIELD, MEMBER_COLUMN, Subscribers, _cell
from digest.mail import signing
from digest.store import Store, now
from digest.store.caps import Limits, Refusal, network
from digest.store.forms import FormPart
from digest.store.queue import MailKind, since

PENDING = "signup"  # the kind of the sign-ups' pending tokens
CAP_SCOPE = "client"  # the subscribe form's per-client count
MAILBOX_SCOPE = "signup mailbox"  # its confirmation mails per mailbox: one a day
DAY = timedelta(hours=24)
JOINED = ("confirmed", "added", "import")  # the records that make a subscriber
LEFT = ("unsubscribed", "bounced", "complained")  # the store's events that end a subscription
ORDER = {"created": 0, "added": 1, "import": 1, "asked": 3, "confirmed": 4, "resubscribed": 5, "erased": 6}
CONSENT_COLUMNS = ("consent_at", "consent_means", "consent_wording", "consent_origin")


@dataclass(frozen=True)
class SignUp:
    """A sign-up waiting for its confirmation, as its mail needs it."""

    id: int
    email: str
    name: str

    @property
    def key(self) -> str:
        """The address as the store names it."""
        return key_of(self.email)


@dataclass(frozen=True)
class Waiting:
    """What the page a confirmation link opens shows: what was typed, and the wording consent is given to."""

    email: str
    name: str
    wording: str


@dataclass(frozen=True)
class Record:
    """One line of an address's consent history."""

    at: str
    what: str
    means: str
    wording: str = ""
    origin: str = ""
    ip: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Week:
    """One week's sign-ups (form posts that sent a mail), confirmations and leaves."""

    week: str
    asked: int
    confirmed: int
    left: int


def wording_hash(text: str) -> str:
    """The version of a consent wording: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class Signups(FormPart):
    """The sign-ups and the consent record, beside the subscribers (one store, shared)."""

    def __init__(self, store: Store | Path) -> None:
        super().__init__(store)
        self.subscribers = Subscribers(self.store)

    # --- the form ----------------------------------------------------------------------------------------------

    def ask(self, email: str, name: str, wording: str, *, origin: str, client: str, ip: str,
            limits: Limits) -> tuple[bool, Refusal | None]:
        """A form post for a checked address: whether a confirmation mail was queued, and which cap stopped it
        (None for an address already subscribed). The same statements run whatever the address's state;
        `client` is the poster's IP address (its network counted under a keyed hash), `ip` what the records
        keep of it ('' unless [subscribe] record_ip). One mail a day per mailbox, whatever its variants."""
        key, moment = key_of(email), now()
        version = wording_hash(wording)
        with self._transaction() as db:
            ceiling = self.caps.ceiling_reached(db, limits.mails_per_hour)
            count = self.caps.count(db, CAP_SCOPE, network(client, limits.ipv6_prefix))
            status = db.execute("SELECT status FROM subscriber WHERE key=?", (key,)).fetchone()
            last = db.execute("SELECT mailed FROM pending WHERE key=?", (key,)).fetchone()
            # The mailbox's count, and the address's own last mail (what a store of 0.2 counted by).
            today = self.caps.mailbox_today(db, MAILBOX_SCOPE, email) or (last and last[0] >= since(DAY))
            refusal = (Refusal.CEILING if ceiling else Refusal.CLIENT if count > limits.per_client_hour
                       else Refusal.MAILBOX if today else None)
            mail = refusal is None and (status is None or status[0] != Status.SUBSCRIBED)
            db.execute("INSERT INTO wording (hash, text, first) VALUES (?, ?, ?) ON CONFLICT (hash) DO NOTHING",
                       (version, wording, moment))
            # The sign-up keeps its number (an earlier mail's link still works); the rest is the latest.
            db.execute("INSERT INTO pending (key, email, name, nonce, asked, mailed, wording, origin, ip) "
                       "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE ? ON CONFLICT (key) DO UPDATE SET "
                       "name=excluded.name, asked=excluded.asked, mailed=excluded.mailed, "
                       "wording=excluded.wording, origin=excluded.origin, ip=excluded.ip",
                       (key, email, name, secrets.token_hex(8), moment, moment, version, origin, ip, mail))
            if mail:
                number = db.execute("SELECT id FROM pending WHERE key=?", (key,)).fetchone()[0]
                self.queue.put(db, MailKind.SIGNUP_CONFIRM, number)
                self.caps.mailed(db, MAILBOX_SCOPE, email)
                db.execute("INSERT INTO consent (key, at, kind, means, wording, origin, ip) "
                           "VALUES (?, ?, 'asked', 'form', ?, ?, ?)", (key, moment, version, origin, ip))
        return mail, refusal

    def link_token(self, number: int, lifetime: timedelta) -> str:
        """A new confirmation token for a sign-up's mail."""
        return self.pendings.add(PENDING, number, lifetime)

    def signup(self, number: int) -> SignUp | None:
        """A waiting sign-up by its number (what its confirmation mail needs)."""
        row = self._db.execute("SELECT id, email, name FROM pending WHERE id=?", (number,)).fetchone()
        return SignUp(*row) if row else None

    def look(self, secret: bytes, list_id: str, given: str, pending_days: int) -> Waiting | None:
        """The sign-up a confirmation token is for, while it waits, with the wording its consent is given to;
        None otherwise. Changes nothing."""
        found = self._pending(self._db, secret, list_id, given, pending_days, spend=False)
        if found is None:
            return None
        _number, email, name, version, _origin, _key = found
        return Waiting(email, name, self.wordings().get(version, ""))

    def _pending(self, db: sqlite3.Connection, secret: bytes, list_id: str, given: str, pending_days: int, *,
                 spend: bool) -> tuple[int, str, str, str, str, str] | None:
        """The waiting sign-up a token confirms: a pending token, or a link mailed before them (`n.mac`)."""
        number = self.pendings.spend(db, PENDING, given) if spend else self.pendings.look(PENDING, given)
        legacy = signing.legacy_number(given) if number is None else None
        row = db.execute("SELECT key, email, name, nonce, asked, wording, origin FROM pending WHERE id=?",
                         (number if number is not None else legacy,)).fetchone()
        if row is None or row[4] < since(timedelta(days=pending_days)):
            return None
        key, email, name, nonce, _asked, version, origin = row
        if number is None:
            expected = signing.legacy_confirmation(secret, signing.CONFIRM_SIGNUP, list_id, legacy or 0, nonce, key)
            if not signing.same(expected, given):
                return None
            number = legacy or 0
        return number, email, name, version, origin, key

    def confirm(self, secret: bytes, list_id: str, given: str, *, ip: str, pending_days: int) -> str | None:
        """Subscribe the address of a confirmation token (whatever its earlier state); its address, or None
        when the token is not a waiting sign-up's (used already, expired, forged)."""
        with self._transaction() as db:
            found = self._pending(db, secret, list_id, given, pending_days, spend=True)
            if found is None:
                return None
            number, email, name, version, origin, key = found
            self.subscribers.join(db, email, name, "formulaire (double opt-in)", Means.FORM)
            db.execute("INSERT INTO consent (key, at, kind, means, wording, origin, ip) "
                       "VALUES (?, ?, 'confirmed', 'form', ?, ?, ?)", (key, now(), version, origin, ip))
            self.pendings.expunge(db, PENDING, number)
            self.queue.forget(db, (MailKind.SIGNUP_CONFIRM,), "?", number)
            db.execute("DELETE FROM pending WHERE id=?", (number,))
        return email

    # --- keeping it clean --------------------------------------------------------------------------------------

    def purge(self, pending_days: int) -> int:
        """Delete sign-ups not confirmed within `pending_days` (their mails and tokens with them; their records
        keep only their counts), expired tokens and the per-client counts older than a day; how many sign-ups
        went."""
        cutoff = since(timedelta(days=pending_days))
        old = "SELECT id FROM pending WHERE asked < ?"
        with self._transaction() as db:
            db.execute("UPDATE consent SET key=NULL, origin='', ip='' WHERE kind='asked' AND key IN "
                       "(SELECT key FROM pending WHERE asked < ?)", (cutoff,))
            self.queue.forget(db, (MailKind.SIGNUP_CONFIRM,), old, cutoff)
            self.pendings.forget(db, PENDING, old, cutoff)
            gone = db.execute("DELETE FROM pending WHERE asked < ?", (cutoff,)).rowcount
            self.caps.purge(db)
        self.pendings.purge()
        return int(gone)

    # --- the record --------------------------------------------------------------------------------------------

    def record(self, email: str, kind: str, means: str, wording: str = "", detail: str = "") -> None:
        """Add a consent record for an address added by the team (`subscribers add`, an import)."""
        version = wording_hash(wording) if wording else ""
        with self._transaction() as db:
            if version:
                db.execute("INSERT INTO wording (hash, text, first) VALUES (?, ?, ?) ON CONFLICT (hash) DO NOTHING",
                           (version, wording, now()))
            db.execute("INSERT INTO consent (key, at, kind, means, wording, detail) VALUES (?, ?, ?, ?, ?, ?)",
                       (key_of(email), now(), kind, means, version, detail[:MAX_FIELD]))

    def record_import(self, since: str, wording: str, detail: str) -> int:
        """Consent records for the addresses an import subscribed (added, or subscribed again) since `since`."""
        version = wording_hash(wording) if wording else ""
        with self._transaction() as db:
            if version:
                db.execute("INSERT INTO wording (hash, text, first) VALUES (?, ?, ?) ON CONFLICT (hash) DO NOTHING",
                           (version, wording, now()))
            return int(db.execute(
                "INSERT INTO consent (key, at, kind, means, wording, detail) SELECT key, ?, 'import', 'import', ?, ? "
                "FROM subscriber WHERE status='subscribed' AND means=? AND changed >= ?",
                (now(), version, detail[:MAX_FIELD], Means.IMPORT.value, since)).rowcount)

    def wordings(self) -> dict[str, str]:
        """Every wording a consent was given to, by its hash."""
        return dict(self._db.execute("SELECT hash, text FROM wording").fetchall())

    def history(self, email: str) -> list[Record]:
        """What the store knows of an address's consent, oldest first: form posts, confirmations, additions by
        the team, and every change of its status (unsubscribe, bounce, complaint, return)."""
        key = key_of(email)
        found = [Record(*row) for row in self._db.execute(
            "SELECT at, kind, means, wording, origin, ip, detail FROM consent WHERE key=?", (key,))]
        found += [Record(at, kind, means or kind, detail=detail) for at, kind, detail, means in self._db.execute(
            "SELECT at, kind, detail, means FROM event WHERE key=?", (key,))]
        row = self.subscribers.get(email)
        if row is not None and not any(r.what in JOINED and r.at <= row.created for r in found):
            found.append(Record(row.created, "created", row.means or row.reason, detail=row.reason))
        erased = self._db.execute("SELECT at FROM erased WHERE hash=?", (self.subscribers.hash_of(email),)).fetchone()
        if erased:
            found.append(Record(erased[0], "erased", "subscribers erase"))
        # Times are to the second: within one, the likelier order (a leave before a new sign-up and its confirmation).
        return sorted(found, key=lambda r: (r.at, ORDER.get(r.what, 2)))

    def pending_count(self) -> int:
        """How many sign-ups wait for their confirmation."""
        return int(self._db.execute("SELECT COUNT(*) FROM pending").fetchone()[0])

    def growth(self, since: date) -> tuple[int, int]:
        """Addresses that joined and left since the start of `since` (UTC)."""
        start = since.isoformat()
        joined = self._db.execute(f"SELECT COUNT(*) FROM consent WHERE at >= ? AND kind IN {JOINED}",
                                  (start,)).fetchone()[0]
        left = self._db.execute(f"SELECT COUNT(*) FROM event WHERE at >= ? AND kind IN {LEFT}", (start,)).fetchone()[0]
        return int(joined), int(left)

    def weeks(self) -> list[Week]:
        """Form sign-ups, confirmations and leaves per ISO week, newest first."""
        counts: dict[str, list[int]] = {}
        rows = [*self._db.execute("SELECT at, kind FROM consent WHERE kind IN ('asked', 'confirmed')"),
                *self._db.execute(f"SELECT at, kind FROM event WHERE kind IN {LEFT}")]
        for at, kind in rows:
            year, week, _ = datetime.fromisoformat(at).isocalendar()
            slot = counts.setdefault(f"{year}-W{week:02d}", [0, 0, 0])
            slot[0 if kind == "asked" else 1 if kind == "confirmed" else 2] += 1
        return [Week(week, *numbers) for week, numbers in sorted(counts.items(), reverse=True)]

    def export_csv(self) -> str:
        """Every row as CSV (as Store.export_csv) with when, how, to which wording and from where consent was
        last given."""
        given = {key: (at, means, version, origin) for key, at, means, version, origin in self._db.execute(
            f"SELECT key, at, means, wording, origin FROM consent WHERE key IS NOT NULL AND kind IN {JOINED} "
            "ORDER BY at, id")}
        rows, marked = self.subscribers.rows(), self.subscribers.marked()
        extras = sorted({name for row in rows for name in row.fields} - {MEMBER_COLUMN})
        out = io.StringIO(newline="")
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow([_cell(c) for c in (*EXPORT_COLUMNS, *CONSENT_COLUMNS, MEMBER_COLUMN, *extras)])
        for row in rows:
            at, means, version, origin = given.get(key_of(row.email), ("", "", "", ""))
            writer.writerow([_cell(v) for v in (row.email, row.name, row.status, row.reason, row.letter,
                                                 row.changed, row.created, row.updated, at, means, version, origin,
                                                 marked.get(key_of(row.email), ""),
                                                 *(row.fields.get(e, "") for e in extras))])
        return out.getvalue()
