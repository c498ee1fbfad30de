"""What the send journals and the subscriber store share: SQLite transactions taken at once."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A transaction holding the write lock from its start (so two processes never interleave their writes);
    rolled back on any error, committed (durably, with WAL and synchronous=FULL) at the end."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
