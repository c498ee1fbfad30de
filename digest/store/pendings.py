"""Confirmations waiting (what Mailman calls Pendings): the one token service of the public forms.

A token is random (192 bits, URL-safe), names nothing, and is kept only as its SHA-256: a copy of the store gives
no link that works. It confirms one row of one kind (a sign-up, a contribution) until it expires; confirming
spends every token of that row. A mail sent again gets a new token; the earlier ones keep working until then.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from datetime import UTC, datetime, timedelta

from digest.store import Part, now

MAX_TOKEN = 80  # a longer token is not one of ours: not even hashed


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class Pendings(Part):
    """The pending confirmations in the store."""

    def add(self, kind: str, ref: int, lifetime: timedelta) -> str:
        """A new token confirming row `ref` of `kind` for `lifetime`."""
        token = secrets.token_urlsafe(24)
        expires = (datetime.now(UTC) + lifetime).isoformat(timespec="seconds")
        with self._transaction() as db:
            db.execute("INSERT INTO pended (hash, kind, ref, expires) VALUES (?, ?, ?, ?)",
                       (_hash(token), kind, ref, expires))
        return token

    def look(self, kind: str, token: str) -> int | None:
        """The row a token of `kind` confirms while it has not expired; None otherwise. Changes nothing."""
        return self._look(self._db, kind, token)

    def look_in(self, db: sqlite3.Connection, kind: str, token: str) -> int | None:
        """As look(), inside the caller's transaction."""
        return self._look(db, kind, token)

    def spend(self, db: sqlite3.Connection, kind: str, token: str) -> int | None:
        """Inside the caller's transaction: the row the token confirms, with every token of that row spent."""
        ref = self._look(db, kind, token)
        if ref is not None:
            self.expunge(db, kind, ref)
        return ref

    def expunge(self, db: sqlite3.Connection, kind: str, ref: int) -> None:
        """Every token of one row spent (confirmed, withdrawn, erased)."""
        db.execute("DELETE FROM pended WHERE kind=? AND ref=?", (kind, ref))

    def forget(self, db: sqlite3.Connection, kind: str, refs: str, *args: object) -> None:
        """Inside the caller's transaction: the tokens of the rows of `kind` that `refs` (a SELECT) names, gone."""
        db.execute(f"DELETE FROM pended WHERE kind=? AND ref IN ({refs})", (kind, *args))

    def purge(self) -> int:
        """Delete expired tokens; how many."""
        with self._transaction() as db:
            return int(db.execute("DELETE FROM pended WHERE expires < ?", (now(),)).rowcount)

    @staticmethod
    def _look(db: sqlite3.Connection, kind: str, token: str) -> int | None:
        if not token or len(token) > MAX_TOKEN or not token.isascii():
            return None
        row = db.execute("SELECT ref FROM pended WHERE hash=? AND kind=? AND expires >= ?",
                         (_hash(token), kind, now())).fetchone()
        return int(row[0]) if row else None
