"""Joining the list: sign-ups waiting for their confirmation, the confirmation mails' queue, the consent record.

`Signups` is the subscriber store (digest.audience.subscribers.Store) with what the subscribe form needs:

- `ask()`: a form post. Whatever the address's state it runs the same statements in one transaction (the
  answer's timing tells nothing); they change something only for an address that is not subscribed, was not
  mailed in the last 24 hours and whose client is under its hourly cap: then a pending row, one queued mail and
  an `asked` consent record.
- `confirm()`: the POST of the confirmation page's button: the address is subscribed (again: an erased,
  complained or bounced address comes back only here), with a `confirmed` record naming the wording's hash,
  the page's origin and, when asked to, the IP address.
- `claim()`, `sent()`, `retry()`: the server's worker takes one queued mail at a time in an immediate
  transaction, so that with several worker processes each mail is sent once.
- `purge()`: sign-ups never confirmed are deleted after `pending_days`; their records keep only their counts.

Every wording a consent was given to is kept (table `wording`), named by its hash. Unsubscribes, bounces and
complaints stay where the store records them (table `event`); `history()` reads both.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from digest.audience.recipients import key_of
from digest.audience.subscribers import EXPORT_COLUMNS, MAX_FIELD, Store, _cell, now

MAIL_EVERY = timedelta(hours=24)  # at most one confirmation mail per address in this time
CLAIM_SECONDS = 600  # a mail claimed by a worker that died is taken again after this
MAX_TRIES = 6  # attempts at a confirmation mail before it is dropped (the person can ask again)
JOINED = ("confirmed", "added", "import")  # the records that make a subscriber
LEFT = ("unsubscribed", "bounced", "complained")  # the store's events that end a subscription
ORDER = {"created": 0, "added": 1, "import": 1, "asked": 3, "confirmed": 4, "resubscribed": 5, "erased": 6}
CONSENT_COLUMNS = ("consent_at", "consent_means", "consent_wording", "consent_origin")


@dataclass(frozen=True)
class Mail:
    """A confirmation mail claimed by a worker: its queue row, the sign-up's row and how often it was tried."""

    id: int
    pending: int
    email: str
    name: str
    nonce: str
    tries: int

    @property
    def key(self) -> str:
        """The address as the store names it."""
        return key_of(self.email)


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


def token(secret: bytes, list_id: str, pending: int, nonce: str, key: str) -> str:
    """The confirmation link's token: the sign-up's number and an HMAC of it, its nonce, the list and address."""
    signed = f"digest-confirm-v1\n{list_id}\n{pending}\n{nonce}\n{key}".encode()
    mac = hmac.new(secret, signed, hashlib.sha256).digest()[:16]
    return f"{pending}.{base64.urlsafe_b64encode(mac).decode('ascii').rstrip('=')}"


def pending_of(given: str) -> int | None:
    """The sign-up's number a token names, or None when it is not a token's shape."""
    number, dot, mac = given.partition(".")
    if not dot or not number.isdigit() or len(number) > 12 or not 1 <= len(mac) <= 32 or not mac.isascii():
        return None
    return int(number)


def _since(moment: timedelta) -> str:
    return (datetime.now(UTC) - moment).isoformat(timespec="seconds")


class Signups(Store):
    """The subscriber store with the sign-ups, their mails and the consent record."""

    # --- the form ----------------------------------------------------------------------------------------------

    def ask(self, email: str, name: str, wording: str, *, origin: str, client: str, ip: str,
            per_ip_hour: int) -> bool:
        """A form post for a checked address: whether a confirmation mail was queued. The same statements run
        whatever the address's state; `client` is the poster's IP address (counted under a keyed hash), `ip`
        what the records keep of it ('' unless [subscribe] record_ip)."""
        key, moment = key_of(email), now()
        hour, version, client_hash = moment[:13], wording_hash(wording), self._hash("client " + client)
        with self._transaction() as db:
            db.execute("INSERT INTO client (hash, hour, count) VALUES (?, ?, 1) "
                       "ON CONFLICT (hash, hour) DO UPDATE SET count = count + 1", (client_hash, hour))
            count = db.execute("SELECT count FROM client WHERE hash=? AND hour=?", (client_hash, hour)).fetchone()[0]
            status = db.execute("SELECT status FROM subscriber WHERE key=?", (key,)).fetchone()
            last = db.execute("SELECT mailed FROM pending WHERE key=?", (key,)).fetchone()
            mail = (count <= per_ip_hour and (status is None or status[0] != "subscribed")
                    and (last is None or last[0] < _since(MAIL_EVERY)))
            db.execute("INSERT INTO wording (hash, text, first) VALUES (?, ?, ?) ON CONFLICT (hash) DO NOTHING",
                       (version, wording, moment))
            # The sign-up keeps its number and nonce (an earlier mail's link still works); the rest is the latest.
            db.execute("INSERT INTO pending (key, email, name, nonce, asked, mailed, wording, origin, ip) "
                       "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE ? ON CONFLICT (key) DO UPDATE SET "
                       "name=excluded.name, asked=excluded.asked, mailed=excluded.mailed, "
                       "wording=excluded.wording, origin=excluded.origin, ip=excluded.ip",
                       (key, email, name, secrets.token_hex(8), moment, moment, version, origin, ip, mail))
            db.execute("INSERT INTO outmail (pending, due) SELECT id, ? FROM pending WHERE key=? AND ?",
                       (moment, key, mail))
            db.execute("INSERT INTO consent (key, at, kind, means, wording, origin, ip) "
                       "SELECT ?, ?, 'asked', 'form', ?, ?, ? WHERE ?", (key, moment, version, origin, ip, mail))
        return mail

    def look(self, secret: bytes, list_id: str, given: str, pending_days: int) -> str | None:
        """The address a confirmation token is for, while its sign-up waits; None otherwise. Changes nothing."""
        found = self._pending(secret, list_id, given, pending_days)
        return found[1] if found else None

    def _pending(self, secret: bytes, list_id: str, given: str,
                 pending_days: int) -> tuple[int, str, str, str, str, str] | None:
        number = pending_of(given)
        if number is None:
            return None
        row = self._db.execute("SELECT key, email, name, nonce, asked, wording, origin FROM pending WHERE id=?",
                               (number,)).fetchone()
        if row is None or row[4] < _since(timedelta(days=pending_days)):
            return None
        key, email, name, nonce, _asked, version, origin = row
        expected = token(secret, list_id, number, nonce, key)
        if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
            return None
        return number, email, name, version, origin, key

    def confirm(self, secret: bytes, list_id: str, given: str, *, ip: str, pending_days: int) -> str | None:
        """Subscribe the address of a confirmation token (whatever its earlier state); its address, or None
        when the token is not a waiting sign-up's (used already, expired, forged)."""
        with self._transaction() as db:
            found = self._pending(secret, list_id, given, pending_days)
            if found is None:
                return None
            number, email, name, version, origin, key = found
            db.execute("DELETE FROM erased WHERE hash=?", (self._hash(email),))
            existing = self.get(email)
            reason = "formulaire (double opt-in)"
            if existing is None:
                self._insert(db, email, name, "subscribed", reason, {})
            else:
                if name and name != existing.name:
                    db.execute("UPDATE subscriber SET name=?, updated=? WHERE key=?", (name, now(), key))
                self._set(db, email, "subscribed", reason, kind="resubscribed")
            db.execute("INSERT INTO consent (key, at, kind, means, wording, origin, ip) "
                       "VALUES (?, ?, 'confirmed', 'form', ?, ?, ?)", (key, now(), version, origin, ip))
            db.execute("DELETE FROM outmail WHERE pending=?", (number,))
            db.execute("DELETE FROM pending WHERE id=?", (number,))
        return email

    # --- the confirmation mails' queue ---------------------------------------------------------------------------

    def claim(self) -> Mail | None:
        """Take the next due confirmation mail (no other worker takes it until it is sent, retried or stale)."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT o.id, o.pending, p.email, p.name, p.nonce, o.tries FROM outmail o JOIN pending p "
                "ON p.id = o.pending WHERE o.due <= ? AND (o.claimed = '' OR o.claimed < ?) ORDER BY o.due, o.id "
                "LIMIT 1", (now(), _since(timedelta(seconds=CLAIM_SECONDS)))).fetchone()
            if row is None:
                return None
            db.execute("UPDATE outmail SET claimed=?, tries=tries+1 WHERE id=?", (now(), row[0]))
        return Mail(row[0], row[1], row[2], row[3], row[4], row[5] + 1)

    def sent(self, mail: Mail) -> None:
        """A mail the server accepted: off the queue."""
        with self._transaction() as db:
            db.execute("DELETE FROM outmail WHERE id=?", (mail.id,))

    def retry(self, mail: Mail, permanent: bool) -> bool:
        """A mail that failed: tried again later (a minute, doubling), or dropped when the failure is permanent
        or after MAX_TRIES; whether it stays queued."""
        with self._transaction() as db:
            if permanent or mail.tries >= MAX_TRIES:
                db.execute("DELETE FROM outmail WHERE id=?", (mail.id,))
                return False
            due = (datetime.now(UTC) + timedelta(minutes=2 ** (mail.tries - 1))).isoformat(timespec="seconds")
            db.execute("UPDATE outmail SET claimed='', due=? WHERE id=?", (due, mail.id))
        return True

    def next_due(self) -> str | None:
        """When the next queued mail is due (None: the queue is empty)."""
        found: str | None = self._db.execute("SELECT MIN(due) FROM outmail").fetchone()[0]
        return found

    # --- keeping it clean --------------------------------------------------------------------------------------

    def purge(self, pending_days: int) -> int:
        """Delete sign-ups not confirmed within `pending_days` (their mails with them; their records keep only
        their counts) and the per-client counts older than a day; how many sign-ups went."""
        cutoff = _since(timedelta(days=pending_days))
        with self._transaction() as db:
            db.execute("UPDATE consent SET key=NULL, origin='', ip='' WHERE kind='asked' AND key IN "
                       "(SELECT key FROM pending WHERE asked < ?)", (cutoff,))
            db.execute("DELETE FROM outmail WHERE pending IN (SELECT id FROM pending WHERE asked < ?)", (cutoff,))
            gone = db.execute("DELETE FROM pending WHERE asked < ?", (cutoff,)).rowcount
            db.execute("DELETE FROM client WHERE hour < ?", (_since(timedelta(days=1))[:13],))
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
                "FROM subscriber WHERE status='subscribed' AND reason LIKE 'import%' AND changed >= ?",
                (now(), version, detail[:MAX_FIELD], since)).rowcount)

    def wordings(self) -> dict[str, str]:
        """Every wording a consent was given to, by its hash."""
        return dict(self._db.execute("SELECT hash, text FROM wording").fetchall())

    def history(self, email: str) -> list[Record]:
        """What the store knows of an address's consent, oldest first: form posts, confirmations, additions by
        the team, and every change of its status (unsubscribe, bounce, complaint, return)."""
        key = key_of(email)
        found = [Record(*row) for row in self._db.execute(
            "SELECT at, kind, means, wording, origin, ip, detail FROM consent WHERE key=?", (key,))]
        found += [Record(at, kind, _means(kind, detail), detail=detail) for at, kind, detail in self._db.execute(
            "SELECT at, kind, detail FROM event WHERE key=?", (key,))]
        row = self.get(email)
        if row is not None and not any(r.what in JOINED and r.at <= row.created for r in found):
            found.append(Record(row.created, "created", _means("created", row.reason), detail=row.reason))
        erased = self._db.execute("SELECT at FROM erased WHERE hash=?", (self._hash(email),)).fetchone()
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
        rows = self.rows()
        extras = sorted({name for row in rows for name in row.fields})
        out = io.StringIO(newline="")
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow([_cell(c) for c in (*EXPORT_COLUMNS, *CONSENT_COLUMNS, *extras)])
        for row in rows:
            at, means, version, origin = given.get(key_of(row.email), ("", "", "", ""))
            writer.writerow([_cell(v) for v in (row.email, row.name, row.status, row.reason, row.letter,
                                                 row.changed, row.created, row.updated, at, means, version, origin,
                                                 *(row.fields.get(e, "") for e in extras))])
        return out.getvalue()


def _means(kind: str, reason: str) -> str:
    """How a change recorded by the store came (its reason says it): one-click, page, bounce, import…"""
    if kind in ("bounced", "soft-bounce"):
        return "bounce"
    if kind == "complained":
        return "complaint"
    folded = reason.casefold()
    for word, means in (("one-click", "one-click"), ("page", "page"), ("import", "import"),
                        ("subscribers remove", "subscribers remove"), ("added", "subscribers add"),
                        ("formulaire", "form"), ("mail", "mail")):
        if word in folded:
            return means
    return reason or kind
