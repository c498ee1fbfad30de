"""The public forms' caps: posts per client and hour, counted under a keyed hash (no address is kept)."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from digest.store import Part, now
from digest.store.queue import since


class Caps(Part):
    """Form posts per client (a keyed hash of its address and the form's name) and hour."""

    def count(self, db: sqlite3.Connection, scope: str, client: str) -> int:
        """Count one post of `client` to the form `scope` inside the caller's transaction; its posts this hour."""
        hour, client_hash = now()[:13], self.store.keyed_hash(f"{scope} {client}".strip().casefold())
        db.execute("INSERT INTO client (hash, hour, count) VALUES (?, ?, 1) "
                   "ON CONFLICT (hash, hour) DO UPDATE SET count = count + 1", (client_hash, hour))
        found: int = db.execute("SELECT count FROM client WHERE hash=? AND hour=?", (client_hash, hour)).fetchone()[0]
        return found

    def purge(self, db: sqlite3.Connection) -> None:
        """Forget the counts older than a day."""
        db.execute("DELETE FROM client WHERE hour < ?", (since(timedelta(days=1))[:13],))
