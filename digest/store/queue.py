"""The one mail queue: every mail `digest serve` sends on its own (a sign-up's confirmation, a contribution's
confirmation and decisions, "the letter is out"), waiting in the store for the server's courier.

A mail is a kind and the row it is about (`ref`: a sign-up's, a contribution's number); what it says is made when
it is sent, from that row. Each worker claims one mail at a time in an immediate transaction, so that with
several worker processes each mail goes once; a mail claimed by a worker that died is taken again after
CLAIM_SECONDS; a failed one is tried again later (a minute, doubling), MAX_TRIES times at most.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from digest.store import Part, now

CLAIM_SECONDS = 600  # a mail claimed by a worker that died is taken again after this
MAX_TRIES = 6  # attempts at a mail before it is dropped (the person can ask again)


class MailKind(StrEnum):
    """What a queued mail is."""

    SIGNUP_CONFIRM = "signup-confirm"
    CONTRIBUTION_CONFIRM = "contribution-confirm"
    CONTRIBUTION_ACCEPTED = "contribution-accepted"
    CONTRIBUTION_REFUSED = "contribution-refused"
    CONTRIBUTION_PUBLISHED = "contribution-published"
    APPROVAL_ANSWERED = "approval-answered"  # the team told an approver's answer (digest.web.approve)


@dataclass(frozen=True)
class Queued:
    """A mail claimed by a worker: its queue row, its kind, the row it is about and how often it was tried."""

    id: int
    kind: MailKind
    ref: int
    tries: int


def since(moment: timedelta) -> str:
    """The time `moment` ago, as the store writes times."""
    return (datetime.now(UTC) - moment).isoformat(timespec="seconds")


class MailQueue(Part):
    """The queue's rows in the store."""

    def put(self, db: sqlite3.Connection, kind: MailKind, ref: int) -> None:
        """Queue a mail, due now, inside the caller's transaction."""
        db.execute("INSERT INTO mail (kind, ref, due) VALUES (?, ?, ?)", (kind.value, ref, now()))

    def forget(self, db: sqlite3.Connection, kinds: tuple[MailKind, ...], refs: str, *args: object) -> None:
        """Drop the queued mails of these kinds about the rows `refs` (a SELECT of numbers) names."""
        marks = ", ".join("?" * len(kinds))
        db.execute(f"DELETE FROM mail WHERE kind IN ({marks}) AND ref IN ({refs})",
                   (*(k.value for k in kinds), *args))

    def claim(self) -> Queued | None:
        """Take the next due mail (no other worker takes it until it is sent, put back or stale)."""
        with self._transaction() as db:
            row = db.execute("SELECT id, kind, ref, tries FROM mail WHERE due <= ? AND (claimed = '' OR claimed < ?) "
                             "ORDER BY due, id LIMIT 1", (now(), since(timedelta(seconds=CLAIM_SECONDS)))).fetchone()
            if row is None:
                return None
            db.execute("UPDATE mail SET claimed=?, tries=tries+1 WHERE id=?", (now(), row[0]))
        return Queued(row[0], MailKind(row[1]), row[2], row[3] + 1)

    def done(self, mail: Queued) -> None:
        """A mail the server accepted, or one with nothing left to say: off the queue."""
        with self._transaction() as db:
            db.execute("DELETE FROM mail WHERE id=?", (mail.id,))

    def retry(self, mail: Queued, permanent: bool) -> bool:
        """A mail that failed: tried again later (a minute, doubling), or dropped when the failure is permanent
        or after MAX_TRIES; whether it stays queued."""
        with self._transaction() as db:
            if permanent or mail.tries >= MAX_TRIES:
                db.execute("DELETE FROM mail WHERE id=?", (mail.id,))
                return False
            due = (datetime.now(UTC) + timedelta(minutes=2 ** (mail.tries - 1))).isoformat(timespec="seconds")
            db.execute("UPDATE mail SET claimed='', due=? WHERE id=?", (due, mail.id))
        return True

    def next_due(self) -> str | None:
        """When the next queued mail is due (None: the queue is empty)."""
        found: str | None = self._db.execute("SELECT MIN(due) FROM mail").fetchone()[0]
        return found
