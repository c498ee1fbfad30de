"""Contributions in the private store (the `contributions` part of digest.store, readable by its owner only).

A contribution is *unconfirmed* until its contact presses the button of the confirmation mail, then *proposed*
to the team, then *accepted* (its item written into the issue file, its picture into the letter's pictures) or
*refused*. Its processed picture waits in the store with it; nothing of it reaches a public folder before it is
accepted. The mails a contribution causes (the confirmation, each decision, "the letter is out") wait in the
store's one mail queue (digest.store.queue) for the server's courier; its confirmation link is a pending token
(digest.store.pendings).
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass, fields
from datetime import timedelta

from digest.audience.recipients import key_of
from digest.contribute.pictures import Picture
from digest.contribute.states import State
from digest.mail import signing
from digest.store import now
from digest.store.caps import Limits, Refusal, network
from digest.store.forms import FormPart
from digest.store.queue import MailKind, since

PER_ADDRESS_DAY = 3  # contributions one mailbox may send in 24 hours
PENDING = "contribution"  # the kind of the contributions' pending tokens
WITHDRAWAL = "contribution-withdraw"  # the kind of the tokens that let a contact withdraw a contribution
WITHDRAWABLE = (State.UNCONFIRMED, State.PROPOSED)
CAP_SCOPE = "contribution client"  # the contribution form's per-client count
MAILBOX_SCOPE = "contribution mailbox"  # its confirmation mails per mailbox
MAILS = (MailKind.CONTRIBUTION_CONFIRM, MailKind.CONTRIBUTION_ACCEPTED, MailKind.CONTRIBUTION_REFUSED,
         MailKind.CONTRIBUTION_PUBLISHED)


DECIDED = {State.ACCEPTED: MailKind.CONTRIBUTION_ACCEPTED, State.REFUSED: MailKind.CONTRIBUTION_REFUSED}


@dataclass(frozen=True)
class Contribution:
    """One contribution as stored."""

    id: int
    status: State
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
    letter: str = ""  # the month (YYYY-MM) of the letter it was accepted into


COLUMNS = ", ".join(f.name for f in fields(Contribution))


def _contribution(row: tuple[object, ...]) -> Contribution:
    return Contribution(row[0], State(row[1]), *row[2:])  # type: ignore[arg-type]


class Contributions(FormPart):
    """The contributions part of the store, on its queue, pending tokens and caps."""

    def admit(self, email: str, client: str, limits: Limits) -> Refusal | None:
        """Before any costly work on a post (its photo): count it against its client's network and say which cap
        it is over, if any (the client's, its mailbox's, the hourly ceiling of confirmation mails)."""
        with self._transaction() as db:
            count = self.caps.count(db, CAP_SCOPE, network(client, limits.ipv6_prefix))
            return self._over(db, email, limits) or (Refusal.CLIENT if count > limits.per_client_hour else None)

    def client_over(self, client: str, limits: Limits) -> bool:
        """Whether the client's network used its hour's posts already: then its post is not even read."""
        return self.caps.recent(self._db, CAP_SCOPE, network(client, limits.ipv6_prefix)) >= limits.per_client_hour

    def _over(self, db: sqlite3.Connection, email: str, limits: Limits) -> Refusal | None:
        if self.caps.ceiling_reached(db, limits.mails_per_hour):
            return Refusal.CEILING
        if self.caps.mailbox_today(db, MAILBOX_SCOPE, email) >= PER_ADDRESS_DAY:
            return Refusal.MAILBOX
        recent = db.execute("SELECT COUNT(*) FROM contribution WHERE key=? AND received > ?",
                            (key_of(email), since(timedelta(days=1)))).fetchone()[0]
        return Refusal.MAILBOX if recent >= PER_ADDRESS_DAY else None  # what a store of 0.2 counted by

    def receive(self, fields_: dict[str, str], picture: Picture | None, limits: Limits) -> int | None:
        """A form post admitted and checked: the new contribution's number with its confirmation mail queued, or
        None when its mailbox or the ceiling filled up meanwhile (the same answer is given either way)."""
        key, moment = key_of(fields_["email"]), now()
        with self._transaction() as db:
            if self._over(db, fields_["email"], limits) is not None:
                return None
            if picture is not None:
                db.execute("INSERT OR IGNORE INTO contribpicture (name, thumb, web) VALUES (?, ?, ?)",
                           (picture.name, picture.thumb, picture.web))
            number = db.execute(
                "INSERT INTO contribution (status, key, email, contact, authority, member, title, text, link, day, "
                "place, start, picture, alt, nonce, received) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?, ?, ?, ?)",
                (State.UNCONFIRMED.value, key, fields_["email"], fields_["contact"], fields_["authority"],
                 fields_.get("member", ""), fields_["title"], fields_["text"], fields_.get("link", ""),
                 fields_.get("day", ""), fields_.get("place", ""), fields_.get("start", ""),
                 picture.name if picture else "", fields_.get("alt", ""), secrets.token_hex(8), moment)).lastrowid
            assert number is not None
            self.queue.put(db, MailKind.CONTRIBUTION_CONFIRM, number)
            self.caps.mailed(db, MAILBOX_SCOPE, fields_["email"])
        return int(number)

    def confirm(self, secret: bytes, list_id: str, given: str) -> Contribution | None:
        """The confirmation button: an unconfirmed contribution becomes proposed; None when the token is not
        one (already used, expired, forged)."""
        with self._transaction() as db:
            found = self._by_token(db, secret, list_id, given, spend=True)
            if found is None or found.status != State.UNCONFIRMED:
                return None
            db.execute("UPDATE contribution SET status=?, confirmed=? WHERE id=? AND status=?",
                       (State.PROPOSED.value, now(), found.id, State.UNCONFIRMED.value))
        return self.get_contribution(found.id)

    def by_token(self, secret: bytes, list_id: str, given: str) -> Contribution | None:
        """The contribution a confirmation token is for, if the token holds. Changes nothing."""
        return self._by_token(self._db, secret, list_id, given, spend=False)

    def _by_token(self, db: sqlite3.Connection, secret: bytes, list_id: str, given: str, *,
                  spend: bool) -> Contribution | None:
        """A pending token's contribution, or one of a link mailed before them (`n.mac`)."""
        number = self.pendings.spend(db, PENDING, given) if spend else self.pendings.look(PENDING, given)
        if number is not None:
            return self.get_contribution(number)
        legacy = signing.legacy_number(given)
        row = db.execute("SELECT nonce FROM contribution WHERE id=?", (legacy,)).fetchone() if legacy else None
        found = self.get_contribution(legacy) if row and legacy else None
        if found is None or row is None or not found.email:
            return None
        expected = signing.legacy_confirmation(secret, signing.CONFIRM_CONTRIBUTION, list_id, found.id, row[0],
                                               key_of(found.email))
        return found if signing.same(expected, given) else None

    def link_token(self, number: int, lifetime: timedelta) -> str:
        """A new confirmation token for a contribution's mail."""
        return self.pendings.add(PENDING, number, lifetime)

    def withdrawal_token(self, number: int, lifetime: timedelta) -> str:
        """A new token that lets the contact withdraw the contribution until the team accepts it."""
        return self.pendings.add(WITHDRAWAL, number, lifetime)

    def withdrawable(self, given: str) -> Contribution | None:
        """The contribution a withdrawal token is for, while it can still be withdrawn. Changes nothing."""
        number = self.pendings.look(WITHDRAWAL, given)
        found = self.get_contribution(number) if number is not None else None
        return found if found is not None and found.status in WITHDRAWABLE else None

    def withdraw(self, given: str) -> Contribution | None:
        """Withdraw the contribution of a withdrawal token (its picture and waiting mails gone); None when the
        token is not one or the team has decided already."""
        with self._transaction() as db:
            number = self.pendings.look(WITHDRAWAL, given)
            found = self.get_contribution(number) if number is not None else None
            if found is None or found.status not in WITHDRAWABLE:
                return None
            db.execute("UPDATE contribution SET status=?, decided=? WHERE id=?", (State.WITHDRAWN.value, now(),
                                                                                   found.id))
            for kind in (PENDING, WITHDRAWAL):
                self.pendings.expunge(db, kind, found.id)
            self.queue.forget(db, MAILS, "?", found.id)
            db.execute("DELETE FROM contribpicture WHERE name=? AND name NOT IN (SELECT picture FROM contribution "
                       "WHERE status IN ('proposed', 'unconfirmed', 'accepted') AND id != ?)",
                       (found.picture, found.id))
        return self.get_contribution(found.id)

    def get_contribution(self, number: int) -> Contribution | None:
        """One contribution by its number."""
        row = self._db.execute(f"SELECT {COLUMNS} FROM contribution WHERE id=?", (number,)).fetchone()
        return _contribution(row) if row else None

    def listed(self, status: State | None = None) -> list[Contribution]:
        """The contributions (of one status), newest first."""
        query = f"SELECT {COLUMNS} FROM contribution" + (" WHERE status=?" if status else "") + " ORDER BY id DESC"
        return [_contribution(row) for row in self._db.execute(query, (status.value,) if status else ())]

    def picture(self, name: str) -> tuple[bytes, bytes] | None:
        """A stored picture's thumbnail and web JPEGs."""
        row = self._db.execute("SELECT thumb, web FROM contribpicture WHERE name=?", (name,)).fetchone()
        return (bytes(row[0]), bytes(row[1])) if row else None

    def decide(self, number: int, status: State, note: str = "", letter: str = "") -> bool:
        """Accept (into the letter of the month `letter`, YYYY-MM) or refuse a proposed contribution, queueing the
        mail that tells its contact; whether it was proposed (a decision is made once)."""
        with self._transaction() as db:
            changed = db.execute("UPDATE contribution SET status=?, decided=?, note=?, letter=? WHERE id=? AND "
                                 "status=?", (status.value, now(), note, letter, number,
                                              State.PROPOSED.value)).rowcount
            if changed:
                self.queue.put(db, DECIDED[status], number)
                if status == State.REFUSED:  # its picture is of no more use
                    db.execute("DELETE FROM contribpicture WHERE name IN (SELECT picture FROM contribution WHERE "
                               "id=?) AND name NOT IN (SELECT picture FROM contribution WHERE status IN "
                               "('proposed', 'unconfirmed', 'accepted') AND id != ?)", (number, number))
        return bool(changed)

    def sent_in(self, numbers: list[int], web_url: str) -> int:
        """The letter at `web_url` went to the list carrying these contributions: each accepted one's contact is
        told once; how many mails were queued."""
        queued = 0
        with self._transaction() as db:
            for number in numbers:
                if db.execute("UPDATE contribution SET published=? WHERE id=? AND status='accepted' AND "
                              "published=''", (web_url, number)).rowcount:
                    self.queue.put(db, MailKind.CONTRIBUTION_PUBLISHED, number)
                    queued += 1
        return queued

    def purge_unconfirmed(self, days: int) -> int:
        """Contributions never confirmed within `days`: deleted with their pictures, mails and tokens."""
        cutoff = since(timedelta(days=days))
        old = "SELECT id FROM contribution WHERE status='unconfirmed' AND received < ?"
        with self._transaction() as db:
            self.queue.forget(db, MAILS, old, cutoff)
            self.pendings.forget(db, PENDING, old, cutoff)
            db.execute("DELETE FROM contribpicture WHERE name IN (SELECT picture FROM contribution WHERE "
                       "status='unconfirmed' AND received < ?)", (cutoff,))
            return int(db.execute("DELETE FROM contribution WHERE status='unconfirmed' AND received < ?",
                                  (cutoff,)).rowcount)
