"""The private store: one SQLite file (subscribers.sqlite beside sources.toml) that holds everything private.

Each feature keeps its tables in a *part* of the store, and each part owns its numbered migrations, plain SQL
files in `digest/store/migrations/<part>/NNNN-what.sql` (docs/development.md says why SQL files and
`PRAGMA user_version` rather than Alembic: one file, no server, no ORM, and a step a reader can run by hand).
Opening the store brings every part up to this program's version:

- the version of each part is recorded in the file (table `store_part`), their sum in `PRAGMA user_version`;
- before any step runs, a consistent copy of the file is made with SQLite's backup API into
  `<name>-backups/` beside it (owner-only; the newest KEEP_BACKUPS kept);
- every pending step of every part runs in one transaction: all of them, or none;
- a store written by a newer digest (a part at a version this program does not know) is refused with one
  line naming both versions, and nothing in it is touched.

The parts' own classes (digest.audience.subscribers.Subscribers, digest.audience.joining.Signups,
digest.contribute.store.Contributions, digest.store.queue.MailQueue, digest.store.pendings.Pendings,
digest.store.caps.Caps, digest.delivery.approval.Approvals, digest.delivery.schedule.Schedules,
digest.proposals.Proposals) each work on
an open Store; several can share one.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Self

from digest import __version__
from digest.db import immediate
from digest.errors import DigestError
from digest.files import PRIVATE, PRIVATE_FOLDER, narrow, private_files
from digest.i18n import _

# The parts, in the order their steps run (a part's step may read the tables of a part before it).
PARTS = ("subscribers", "returns", "signups", "caps", "contributions", "pendings", "queue", "approvals", "schedules",
         "proposals")
KEEP_BACKUPS = 5  # copies made before a migration that are kept, newest first
BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS store_part (part TEXT PRIMARY KEY, version INTEGER NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class StoreError(DigestError):
    """The store cannot be used: not a database, written by a newer digest, or a bad address given."""


@dataclass(frozen=True)
class Migration:
    """One numbered step of one part: plain SQL, run inside the migration's transaction."""

    part: str
    number: int
    name: str
    sql: str


@cache
def migrations() -> tuple[Migration, ...]:
    """Every part's steps, in the order they run: by part (PARTS), then by number."""
    found = []
    root = resources.files("digest.store") / "migrations"
    for part in PARTS:
        for entry in sorted((root / part).iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".sql") and entry.name[:4].isdigit():  # NNNN-what.sql; erase.sql is not a step
                number, _sep, name = entry.name.removesuffix(".sql").partition("-")
                found.append(Migration(part, int(number), name, entry.read_text(encoding="utf-8")))
    return tuple(found)


@cache
def erasures() -> tuple[str, ...]:
    """Each part's erase.sql, the last part's first (a part's rows go before those they point at)."""
    root = resources.files("digest.store") / "migrations"
    found = (root / part / "erase.sql" for part in reversed(PARTS))
    return tuple(entry.read_text(encoding="utf-8") for entry in found if entry.is_file())


def keyed(key: bytes, text: str) -> str:
    """The keyed hash the store keeps instead of an address (HMAC-SHA256 under the store's own key)."""
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def known_versions() -> dict[str, int]:
    """The version of each part this program writes: the number of its last step."""
    versions = dict.fromkeys(PARTS, 0)
    for step in migrations():
        versions[step.part] = max(versions[step.part], step.number)
    return versions


def store_version(versions: dict[str, int]) -> int:
    """One number for a store's shape: the sum of its parts' versions (steps are only ever added)."""
    return sum(versions.values())


def now() -> str:
    """The time a change is recorded at (UTC, ISO 8601, to the second)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class Closing:
    """`with` closes it."""

    def close(self) -> None:
        """Let go of what it holds."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Store(Closing):
    """The private store, open on one SQLite file and brought up to date; safe to open from several processes."""

    def __init__(self, path: Path, *, keep_backups: int = KEEP_BACKUPS) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.keep_backups = keep_backups
        if not path.exists():  # addresses: readable by their owner only (SQLite gives its -wal and -shm files
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, PRIVATE))  # the same mode)
        for private in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            narrow(private)
        try:
            with private_files():
                self.db = sqlite3.connect(path, isolation_level=None, timeout=30.0, check_same_thread=False)
                try:
                    self._refuse_newer()
                    self.db.execute("PRAGMA journal_mode=WAL")
                    self.db.execute("PRAGMA secure_delete=ON")  # an erased address is overwritten, not unlinked
                    self._migrate()
                except BaseException:
                    self.db.close()  # refused (a newer store), failed or stopped: nothing left open
                    raise
        except sqlite3.DatabaseError as exc:
            raise StoreError(_("{path}: not a subscriber store ({exc}); give another [subscribers] path").format(
                                 path=path, exc=exc)) from None

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """A durable transaction holding the write lock from its start (two processes never interleave)."""
        return immediate(self.db)

    # --- versions ----------------------------------------------------------------------------------------------

    def versions(self) -> dict[str, int]:
        """The version of each part in the file (0: not there yet)."""
        versions = dict.fromkeys(PARTS, 0)
        if self._has_table("store_part"):
            versions.update(dict(self.db.execute("SELECT part, version FROM store_part").fetchall()))
        return versions

    def written_by(self) -> str:
        """The digest version that last opened the store ('' before versions were recorded)."""
        if not self._has_table("meta"):
            return ""
        row = self.db.execute("SELECT value FROM meta WHERE key='digest_version'").fetchone()
        return str(row[0]) if row else ""

    def _has_table(self, name: str) -> bool:
        return self.db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                               (name,)).fetchone() is not None

    def _refuse_newer(self) -> None:
        """A store of a newer digest: one line naming both versions, before anything is written."""
        found, known = self.versions(), known_versions()
        newer = sorted(part for part, version in found.items() if version > known.get(part, 0))
        if newer:
            raise StoreError(_("{path} was written by a newer digest ({by}, store version {found}; this digest "
                               "{ours} reads up to version {known}): upgrade digest (pipx upgrade digest) or "
                               "restore a backup made by this version; nothing was changed").format(
                                 path=self.path, by=self.written_by() or "?", found=store_version(found),
                                 ours=__version__, known=store_version(known)))

    def _migrate(self) -> None:
        """Run every step this file has not had, in one transaction, after a backup copy."""
        if not [step for step in migrations() if step.number > self.versions()[step.part]]:
            if self.written_by() != __version__:  # a new version, no new step: still say who opened it last
                with self.transaction() as db:
                    db.execute("INSERT INTO meta (key, value) VALUES ('digest_version', ?) ON CONFLICT (key) DO "
                               "UPDATE SET value=excluded.value", (__version__,))
            return
        backup = None
        if self._has_table("subscriber") or self._has_table("store_part"):  # something to lose: copy it first
            backup = self.backup()
        try:
            self._run_steps()
        except sqlite3.Error as exc:
            raise StoreError(_("{path} could not be brought up to this digest's version ({exc}); nothing was "
                               "changed{backup}").format(path=self.path, exc=exc, backup=_(" (a copy: {path})").format(
                                   path=backup) if backup else "")) from None

    def _run_steps(self) -> None:
        """Every step this file has not had, in one transaction."""
        with self.transaction() as db:
            for statement in _statements(BOOKKEEPING):
                db.execute(statement)
            done = self.versions()  # read again under the lock: another process may have migrated meanwhile
            for step in migrations():
                if step.number <= done[step.part]:
                    continue
                for statement in _statements(step.sql):
                    db.execute(statement)
                db.execute("INSERT INTO store_part (part, version, at) VALUES (?, ?, ?) ON CONFLICT (part) DO "
                           "UPDATE SET version=excluded.version, at=excluded.at", (step.part, step.number, now()))
                done[step.part] = step.number
            db.execute(f"PRAGMA user_version = {store_version(done):d}")
            db.execute("INSERT INTO meta (key, value) VALUES ('digest_version', ?) ON CONFLICT (key) DO UPDATE "
                       "SET value=excluded.value", (__version__,))

    # --- backups -----------------------------------------------------------------------------------------------

    def backups_folder(self) -> Path:
        """Where the copies made before a migration go: `<name>-backups/` beside the store."""
        return self.path.with_name(self.path.stem + "-backups")

    def backup(self, target: Path | None = None) -> Path:
        """A consistent copy of the store (SQLite's backup API: safe while other processes write), owner-only;
        by default into backups_folder(), keeping the newest `keep_backups`. The copy's path."""
        if target is None:
            folder = self.backups_folder()
            folder.mkdir(mode=PRIVATE_FOLDER, exist_ok=True)
            narrow(folder)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            target = folder / f"{self.path.stem}-v{store_version(self.versions())}-{stamp}.sqlite"
        with private_files():
            copy = sqlite3.connect(target)
            try:
                self.db.backup(copy)
                copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, whoever opens it later
            finally:
                copy.close()
        narrow(target)
        if target.parent == self.backups_folder():
            for old in sorted(target.parent.glob(f"{self.path.stem}-v*.sqlite"))[:-self.keep_backups or None]:
                old.unlink()
        return target

    # --- erasure ------------------------------------------------------------------------------------------------

    def erase(self, key: str, hashed: str) -> None:
        """Erase one person from every part (each part's erase.sql, last part first), in one transaction."""
        with self.transaction() as db:
            for script in erasures():
                for statement in _statements(script):
                    db.execute(statement, {"key": key, "hash": hashed, "at": now()})

    # --- keyed hashes ------------------------------------------------------------------------------------------

    def keyed_hash(self, text: str) -> str:
        """A keyed hash: the key (random, in this file only) makes it useless outside the store."""
        found = self.db.execute("SELECT value FROM meta WHERE key='salt'").fetchone()
        if found is None:
            self.db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('salt', ?)", (secrets.token_hex(32),))
            found = self.db.execute("SELECT value FROM meta WHERE key='salt'").fetchone()
        return keyed(bytes.fromhex(found[0]), text)


class Part(Closing):
    """A feature's view of the store: on a Store it shares, or on a file it opens (and closes) itself."""

    def __init__(self, store: Store | Path) -> None:
        self._owned = not isinstance(store, Store)
        self.store = store if isinstance(store, Store) else Store(store)
        self._db = self.store.db

    def close(self) -> None:
        """Close the store, when this part opened it."""
        if self._owned:
            self.store.close()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return self.store.transaction()


def _statements(script: str) -> Iterator[str]:
    """The statements of an SQL script one by one: executescript() would commit the migration's transaction."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        if not buffer and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""
    if buffer.strip():
        yield buffer.strip()
