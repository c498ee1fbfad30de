"""Contributions in the private store (the subscriber store's file, readable by its owner only).

A contribution is *unconfirmed* until its contact presses the button of the confirmation mail, then *proposed*
to the team, then *accepted* (its item written into the issue file, its picture into the letter's pictures) or
*refused*. Its processed picture waits in the store with it; nothing of it reaches a public folder before it is
accepted. The mails a contribution causes (the confirmation, each decision) wait in `contribmail` for the
server's courier, claimed one at a time as the subscribe form's are.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta

from digest.audience.recipients import key_of
from digest.audience.subscribers import Store, now
from digest.contribute.pictures import Picture

PER_ADDRESS_DAY = 3  # contributions one address may send in 24 hours
CLAIM_SECONDS = 600  # a mail claimed by a worker that died is taken again after this
MAX_TRIES = 6
STATUSES = ("unconfirmed", "proposed", "accepted", "refused")


@dataclass(frozen=True)
class Contribution:
    """One contribution as stored."""

    id: int
    status: str
    email: str
    contact: str
    authority: str
    member: str  # the member authority the contact's domain belongs to, '' when not a member's
    title: str
    text: str
    link: str
    day: str  # dd/mm/yyyy, as typed
    place: str
    start: str  # an event's start, dd/mm/yyyy [hh:mm]
    picture: str  # the processed picture's name, '' without one
    alt: str
    received: str
    confirmed: str
    decided: str
    note: str  # the team's message with a refusal
    published: str  # the web address of the letter that carried it, once sent


COLUMNS = ", ".join(f.name for f in fields(Contribution))


@dataclass(frozen=True)
class Outgoing:
    """A mail a contribution causes, claimed by a worker."""

    id: int
    kind: str  # confirm, accepted, refused
    tries: int
    contribution: Contribution
    nonce: str


def token(secret: bytes, list_id: str, number: int, nonce: str, email: str) -> str:
    """The confirmation link's token: the contribution's number and an HMAC of it, its nonce and address."""
    signed = f"digest-contribution-v1\n{list_id}\n{number}\n{nonce}\n{key_of(email)}".encode()
    mac = hmac.new(secret, signed, hashlib.sha256).digest()[:16]
    return f"{number}.{base64.urlsafe_b64encode(mac).decode('ascii').rstrip('=')}"


def _since(moment: timedelta) -> str:
    return (datetime.now(UTC) - moment).isoformat(timespec="seconds")


class Contributions(Store):
    """The private store, with the contributions."""

    def receive(self, fields_: dict[str, str], picture: Picture | None, *, client: str, per_ip_hour: int) -> int | None:
        """A form post already checked: the new contribution's number with its confirmation mail queued, or None
        when the address or the client is over its cap (the same answer is given either way)."""
        key, moment = key_of(fields_["email"]), now()
        client_hash = self._hash("contribution client " + client)
        with self._transaction() as db:
            db.execute("INSERT INTO client (hash, hour, count) VALUES (?, ?, 1) ON CONFLICT (hash, hour) DO UPDATE "
                       "SET count = count + 1", (client_hash, moment[:13]))
            count = db.execute("SELECT count FROM client WHERE hash=? AND hour=?",
                               (client_hash, moment[:13])).fetchone()[0]
            recent = db.execute("SELECT COUNT(*) FROM contribution WHERE key=? AND received > ?",
                                (key, _since(timedelta(days=1)))).fetchone()[0]
            if count > per_ip_hour or recent >= PER_ADDRESS_DAY:
                return None
            if picture is not None:
                db.execute("INSERT OR IGNORE INTO contribpicture (name, thumb, web) VALUES (?, ?, ?)",
                           (picture.name, picture.thumb, picture.web))
            number = db.execute(
                "INSERT INTO contribution (status, key, email, contact, authority, member, title, text, link, day, "
                "place, start, picture, alt, nonce, received) VALUES ('unconfirmed', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?, ?, ?, ?)",
                (key, fields_["email"], fields_["contact"], fields_["authority"], fields_.get("member", ""),
                 fields_["title"], fields_["text"], fields_.get("link", ""), fields_.get("day", ""),
                 fields_.get("place", ""), fields_.get("start", ""), picture.name if picture else "",
                 fields_.get("alt", ""), secrets.token_hex(8), moment)).lastrowid
            assert number is not None
            db.execute("INSERT INTO contribmail (contribution, kind, due) VALUES (?, 'confirm', ?)", (number, moment))
        return int(number)

    def confirm(self, secret: bytes, list_id: str, given: str) -> Contribution | None:
        """The confirmation button: an unconfirmed contribution becomes proposed; None when the token is not
        one (already used, expired, forged)."""
        found = self.by_token(secret, list_id, given)
        if found is None or found.status != "unconfirmed":
            return None
        with self._transaction() as db:
            db.execute("UPDATE contribution SET status='proposed', confirmed=? WHERE id=? AND status='unconfirmed'",
                       (now(), found.id))
        return self.get_contribution(found.id)

    def by_token(self, secret: bytes, list_id: str, given: str) -> Contribution | None:
        """The contribution a confirmation token is for, if the token holds."""
        number, dot, _mac = given.partition(".")
        if not dot or not number.isdigit() or len(number) > 12 or len(given) > 80:
            return None
        row = self._db.execute("SELECT nonce FROM contribution WHERE id=?", (int(number),)).fetchone()
        found = self.get_contribution(int(number))
        if row is None or found is None or not found.email:
            return None
        expected = token(secret, list_id, found.id, row[0], found.email)
        return found if hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")) else None

    def get_contribution(self, number: int) -> Contribution | None:
        """One contribution by its number."""
        row = self._db.execute(f"SELECT {COLUMNS} FROM contribution WHERE id=?", (number,)).fetchone()
        return Contribution(*row) if row else None

    def listed(self, status: str | None = None) -> list[Contribution]:
        """The contributions (of one status), newest first."""
        query = f"SELECT {COLUMNS} FROM contribution" + (" WHERE status=?" if status else "") + " ORDER BY id DESC"
        return [Contribution(*row) for row in self._db.execute(query, (status,) if status else ())]

    def picture(self, name: str) -> tuple[bytes, bytes] | None:
        """A stored picture's thumbnail and web JPEGs."""
        row = self._db.execute("SELECT thumb, web FROM contribpicture WHERE name=?", (name,)).fetchone()
        return (bytes(row[0]), bytes(row[1])) if row else None

    def decide(self, number: int, status: str, note: str = "") -> bool:
        """Accept or refuse a proposed contribution, queueing the mail that tells its contact; whether it was
        proposed (a decision is made once)."""
        with self._transaction() as db:
            changed = db.execute("UPDATE contribution SET status=?, decided=?, note=? WHERE id=? AND "
                                 "status='proposed'", (status, now(), note, number)).rowcount
            if changed:
                db.execute("INSERT INTO contribmail (contribution, kind, due) VALUES (?, ?, ?)",
                           (number, status, now()))
                if status == "refused":  # its picture is of no more use
                    db.execute("DELETE FROM contribpicture WHERE name IN (SELECT picture FROM contribution WHERE "
                               "id=?) AND name NOT IN (SELECT picture FROM contribution WHERE status IN "
                               "('proposed', 'unconfirmed') AND id != ?)", (number, number))
        return bool(changed)

    # --- the mails -------------------------------------------------------------------------------------------

    def claim(self) -> Outgoing | None:
        """The next due mail, taken by this worker (no other takes it until it is sent or put back)."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT m.id, m.kind, m.tries, m.contribution, c.nonce FROM contribmail m JOIN contribution c "
                "ON c.id = m.contribution WHERE m.due <= ? AND (m.claimed = '' OR m.claimed < ?) AND c.email != '' "
                "ORDER BY m.due, m.id LIMIT 1", (now(), _since(timedelta(seconds=CLAIM_SECONDS)))).fetchone()
            if row is None:
                return None
            db.execute("UPDATE contribmail SET claimed=?, tries=tries+1 WHERE id=?", (now(), row[0]))
        found = self.get_contribution(row[3])
        assert found is not None
        return Outgoing(row[0], row[1], row[2] + 1, found, row[4])

    def mailed(self, mail: Outgoing) -> None:
        """A mail the server accepted: off the queue."""
        with self._transaction() as db:
            db.execute("DELETE FROM contribmail WHERE id=?", (mail.id,))

    def put_back(self, mail: Outgoing, permanent: bool) -> bool:
        """A mail that failed: tried again later (a minute, doubling), or dropped; whether it stays queued."""
        with self._transaction() as db:
            if permanent or mail.tries >= MAX_TRIES:
                db.execute("DELETE FROM contribmail WHERE id=?", (mail.id,))
                return False
            due = (datetime.now(UTC) + timedelta(minutes=2 ** (mail.tries - 1))).isoformat(timespec="seconds")
            db.execute("UPDATE contribmail SET claimed='', due=? WHERE id=?", (due, mail.id))
        return True

    def sent_in(self, numbers: list[int], web_url: str) -> int:
        """The letter at `web_url` went to the list carrying these contributions: each accepted one's contact is
        told once; how many mails were queued."""
        moment, queued = now(), 0
        with self._transaction() as db:
            for number in numbers:
                if db.execute("UPDATE contribution SET published=? WHERE id=? AND status='accepted' AND "
                              "published=''", (web_url, number)).rowcount:
                    db.execute("INSERT INTO contribmail (contribution, kind, due) VALUES (?, 'published', ?)",
                               (number, moment))
                    queued += 1
        return queued

    def purge_unconfirmed(self, days: int) -> int:
        """Contributions never confirmed within `days`: deleted with their pictures and mails."""
        cutoff = _since(timedelta(days=days))
        with self._transaction() as db:
            old = "SELECT id FROM contribution WHERE status='unconfirmed' AND received < ?"
            db.execute(f"DELETE FROM contribmail WHERE contribution IN ({old})", (cutoff,))
            db.execute("DELETE FROM contribpicture WHERE name IN (SELECT picture FROM contribution WHERE "
                       "status='unconfirmed' AND received < ?)", (cutoff,))
            return int(db.execute("DELETE FROM contribution WHERE status='unconfirmed' AND received < ?",
                                  (cutoff,)).rowcount)
