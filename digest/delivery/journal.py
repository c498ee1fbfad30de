"""The send journal of one issue: SQLite in <private_dir>/<date>/ (sends/ beside sources.toml, never the public
outbox: it holds every subscriber's address and name), one row per recipient, written before and after
every SMTP transaction, so a rerun after a crash, a kill or a network failure sends to no one twice.

States: pending (not tried), sending (the "before" row: DATA is about to go), sent, failed (a 5xx),
deferred (a 4xx: tried again later), unknown (a "sending" row left by a run that died, or a connection lost
during DATA: the server may or may not have the message; resent only when asked).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from digest.config import Config
from digest.db import immediate
from digest.errors import DigestError
from digest.files import failure, narrow, private_files, private_folder, safe_name, shown
from digest.i18n import N_, _, number
from digest.letterfolder import COUNT_WORDS, DRY_RUN, JOURNAL, SendState, private
from digest.letterfolder import path as letter_path

if TYPE_CHECKING:
    from digest.audience.recipients import Recipient

T = TypeVar("T")
FILE_NAME = JOURNAL  # the names in a letter's private folder are the letter folder's owner's
PUBLIC, MEMBERS = "public", "members"  # the editions a recipient may get
EDITION_WORDS = {PUBLIC: N_("public edition"), MEMBERS: N_("members' edition")}  # as the team reads them
LOCK_NAME = "send-journal.lock"
# The files an older digest kept in outbox/<date>/, moved to the private folder by the next build or send.
LEGACY = (FILE_NAME, f"{FILE_NAME}-wal", f"{FILE_NAME}-shm", LOCK_NAME, DRY_RUN)
STATES = tuple(SendState)
SCHEMA = """
CREATE TABLE IF NOT EXISTS recipient (
    key TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    position INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'deferred', 'unknown')),
    attempts INTEGER NOT NULL DEFAULT 0,
    previous TEXT,
    code INTEGER,
    response TEXT,
    message_id TEXT,
    updated TEXT,
    edition TEXT NOT NULL DEFAULT 'public'
);
CREATE INDEX IF NOT EXISTS recipient_state ON recipient (state);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class JournalBusy(DigestError):
    """Another `digest send` is sending this issue right now."""


@dataclass(frozen=True)
class JournalRow:
    """A recipient as the journal knows it."""

    email: str
    name: str
    state: SendState
    attempts: int
    code: int | None
    response: str | None


class Journal:
    """One issue's journal, held exclusively (a lock file) for as long as it is open."""

    def __init__(self, folder: Path) -> None:
        private_folder(folder.parent)  # the private folder itself: addresses, owner only
        private_folder(folder)
        self.path = folder / FILE_NAME
        self._lock = _lock(folder / LOCK_NAME)
        narrow(self.path)
        # check_same_thread=False: the send writes the "before" row from a worker thread, while MAIL and RCPT
        # go back and forth; the connection is never used from two threads at once (the send waits for it).
        with private_files():  # the journal and its -wal, -shm files are created owner-only
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
            if not _has_edition(self._db):  # a journal of a digest before editions: everyone got the public one
                self._db.execute("ALTER TABLE recipient ADD COLUMN edition TEXT NOT NULL DEFAULT 'public'")
        # The "after" rows go through a second connection that does not fsync at commit (see after()).
        self._fast = sqlite3.connect(self.path, isolation_level=None)
        self._fast.execute("PRAGMA synchronous=NORMAL")

    def close(self) -> None:
        """Close the database and release the lock."""
        self._fast.close()
        self._db.close()
        os.close(self._lock)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """A durable transaction: the WAL is fsynced at commit (and with it every earlier commit)."""
        return immediate(self._db)

    def recover(self) -> int:
        """Turn rows left 'sending' by a run that died into 'unknown'; how many there were."""
        with self._transaction() as db:
            return db.execute("UPDATE recipient SET state='unknown', updated=? WHERE state='sending'",
                              (_now(),)).rowcount

    def same_letter(self, fingerprint: str) -> bool:
        """Whether the letter is the one this journal's first run sent (recorded then); True on a first run."""
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('letter', ?)", (fingerprint,))
            found = db.execute("SELECT value FROM meta WHERE key='letter'").fetchone()
        return bool(found and found[0] == fingerprint)

    def note(self, notes: Mapping[str, str]) -> None:
        """Keep these facts about the send (who approved which build, when), the latest of each."""
        with self._transaction() as db:
            db.executemany("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
                           "value=excluded.value", notes.items())

    def add(self, recipients: Iterable[Recipient], editions: bool = False) -> int:
        """Record recipients not yet in the journal as pending, each with the edition they get (with `editions`,
        a member gets the members' one); how many were new. A recipient already there keeps theirs."""
        with self._transaction() as db:
            start = db.execute("SELECT COALESCE(MAX(position), 0) FROM recipient").fetchone()[0]
            before = db.total_changes
            db.executemany("INSERT OR IGNORE INTO recipient (key, email, name, position, edition) VALUES "
                           "(?, ?, ?, ?, ?)",
                           ((r.key, r.email, r.name, start + i, MEMBERS if editions and r.member else PUBLIC)
                            for i, r in enumerate(recipients, 1)))
            return db.total_changes - before

    def editions(self) -> dict[str, str]:
        """The edition each recipient gets (recorded when first added), by key."""
        return dict(self._db.execute("SELECT key, edition FROM recipient").fetchall())

    def todo(self, recipients: Iterable[Recipient], resend_unknown: bool = False) -> list[Recipient]:
        """Of `recipients` (the current list), those still to send, in the list's order."""
        known = dict(self._db.execute("SELECT key, state FROM recipient").fetchall())
        return still_to_send(known, recipients, resend_unknown)

    def before(self, recipient: Recipient, message_id: str) -> None:
        """The "before" row, durable before DATA is sent: if we die now, the outcome is unknown.

        One statement in autocommit mode is one transaction, fsynced at its commit (synchronous=FULL).
        """
        self._db.execute("UPDATE recipient SET previous=state, state='sending', attempts=attempts+1, message_id=?, "
                         "updated=? WHERE key=?", (message_id, _now(), recipient.key))

    def revert(self, recipient: Recipient) -> None:
        """Undo before(): the transaction stopped before DATA (server gone, Ctrl-C), so nothing was sent."""
        with self._transaction() as db:
            db.execute("UPDATE recipient SET state=previous, attempts=attempts-1, updated=? "
                       "WHERE key=? AND state='sending'", (_now(), recipient.key))

    def withdraw(self, recipient: Recipient) -> None:
        """Take out a recipient not sent to yet who left the list while the send ran (nothing to send them)."""
        with self._transaction() as db:
            db.execute("DELETE FROM recipient WHERE key=? AND state IN ('pending', 'deferred')", (recipient.key,))

    def after(self, recipient: Recipient, state: SendState, code: int | None, response: str | None) -> None:
        """The "after" row: what the server answered (or that the connection was lost: unknown).

        Committed without an fsync of its own: written to the OS at once, it survives the process being
        killed; only a power cut could lose it, leaving the row 'sending' (reported unknown, never resent
        unasked). The next "before" row's fsync makes it durable too. One fsync per message, not two.
        """
        self._fast.execute("UPDATE recipient SET state=?, code=?, response=?, updated=? WHERE key=?",
                           (SendState(state).value, code, response, _now(), recipient.key))

    def counts(self) -> dict[str, int]:
        """How many recipients are in each state (every state present, 0 when none)."""
        found = dict(self._db.execute("SELECT state, COUNT(*) FROM recipient GROUP BY state").fetchall())
        return {state.value: found.get(state.value, 0) for state in STATES}

    def rows(self, *states: str) -> list[JournalRow]:
        """The recipients in these states, in the list's order."""
        marks = ", ".join("?" * len(states))
        query = ("SELECT email, name, state, attempts, code, response FROM recipient "
                 f"WHERE state IN ({marks}) ORDER BY position")
        return [_row(*row) for row in self._db.execute(query, states)]


def _row(email: str, name: str, state: str, attempts: int, code: int | None, response: str | None) -> JournalRow:
    return JournalRow(email, name, SendState(state), attempts, code, response)


def folder_for(cfg: Config, day: date) -> Path:
    """The private folder of the letter dated `day`: <private_dir>/<date>/ (its journal and dry-run copies)."""
    return private(cfg, day)


def path_for(cfg: Config, day: date) -> Path:
    """The journal of the letter dated `day` (it may not exist: no list send yet)."""
    return folder_for(cfg, day) / FILE_NAME


def erase(path: Path, key: str) -> bool:
    """Delete one recipient's row from the journal file at `path`, leaving no copy in its WAL; whether it was
    there (False for a file that is not a journal)."""
    db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    try:
        db.execute("PRAGMA secure_delete=ON")
        found = db.execute("DELETE FROM recipient WHERE key=?", (key,)).rowcount > 0
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return found
    except sqlite3.DatabaseError:
        return False  # not a journal: nothing of ours to erase there
    finally:
        db.close()


def erase_everywhere(folders: Iterable[Path], email: str) -> list[Path]:
    """Delete an address from every send journal and dry-run copy under `folders`; the files changed."""
    from digest.audience.recipients import key_of

    key, changed = key_of(email), []
    safe = safe_name(email)  # as the dry run names its copies
    for folder in folders:
        if not folder.is_dir():
            continue
        changed += [path for path in sorted(folder.rglob(FILE_NAME)) if erase(path, key)]
        for copy in folder.rglob("*.eml"):
            if copy.parent.name == DRY_RUN and copy.name.casefold().endswith(f"-{safe}.eml".casefold()):
                copy.unlink()
                changed.append(copy)
    return changed


def opened(folder: Path) -> Journal:
    """The journal of `folder`, open and locked; WriteFailed (one line, exit 2) when it cannot be written."""
    try:
        return Journal(folder)
    except OSError as exc:
        raise failure(folder / FILE_NAME, exc) from None
    except sqlite3.Error as exc:
        raise DigestError(_("could not write {path}: {exc}").format(
            path=shown(folder / FILE_NAME), exc=exc)) from None


def sends(cfg: Config) -> Callable[[date], dict[str, int] | None]:
    """Each letter's list send as the letter folder's owner asks for it (digest.letterfolder.Sends): the
    recipients per state, None before any list send."""
    def counts(day: date) -> dict[str, int] | None:
        found = status(folder_for(cfg, day))
        return found[0] if found else None

    return counts


def migrate(cfg: Config, outbox: Path, day: date) -> list[str]:
    """Move a journal and dry-run copies an older digest left in outbox/<date>/ to the private folder; notes."""
    old, new = letter_path(outbox, day), folder_for(cfg, day)
    moving = [name for name in LEGACY if (old / name).exists()]
    if not moving:
        return []
    if (new / FILE_NAME).exists() and FILE_NAME in moving:
        raise DigestError(_("{old_journal} and {new_journal} both exist: keep the one of the real send in {new}/ and "
                            "remove the other (the outbox is public)").format(
                              old_journal=old / FILE_NAME, new_journal=new / FILE_NAME, new=new))
    try:
        new.mkdir(parents=True, exist_ok=True)
        for name in moving:
            _move_or_drop(old / name, new / name)
    except OSError as exc:
        raise failure(new, exc) from None
    return [_("moved {files} from {old}/ to {new}/ (the outbox is public; subscribers' addresses stay "
              "private)").format(files=', '.join(moving), old=shown(old), new=shown(new))]


def _move_or_drop(old: Path, new: Path) -> None:
    """Move `old` to `new`; when `new` is there already (a lock file, newer dry-run copies), remove `old`: it
    holds addresses and must leave the outbox either way (a dry run is made again at will)."""
    if not new.exists():
        shutil.move(old, new)
    elif old.is_dir():
        shutil.rmtree(old)
    else:
        old.unlink()


def exists(folder: Path) -> bool:
    """Whether a list send of this issue was ever started."""
    return (folder / FILE_NAME).is_file()


def _lock(path: Path) -> int:
    """An exclusive lock on the issue's journal: two sends at once could each send to the same person."""
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(handle)
        raise JournalBusy(_("another `digest send` is sending this issue ({parent}); wait for it to end, or check "
                            "it with `digest send --status`").format(parent=path.parent)) from None
    return handle


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def status(folder: Path) -> tuple[dict[str, int], list[JournalRow]] | None:
    """Counts per state and the rows that need a look (failed, deferred, unknown, sending), read-only and
    without the lock, so it works while a send runs; None when no list send of the issue was started."""
    if not exists(folder):
        return None
    db = sqlite3.connect(f"file:{folder / FILE_NAME}?mode=ro", uri=True)
    try:
        found = dict(db.execute("SELECT state, COUNT(*) FROM recipient GROUP BY state").fetchall())
        rows = [_row(*row) for row in db.execute(
            "SELECT email, name, state, attempts, code, response FROM recipient "
            "WHERE state IN ('failed', 'deferred', 'unknown', 'sending') ORDER BY position")]
    except sqlite3.Error as exc:  # not a journal, or damaged: say which file, never a traceback
        raise DigestError(_("{path} cannot be read as a send journal ({exc}); if it is not one, move it away").format(
                              path=shown(folder / FILE_NAME), exc=exc)) from None
    finally:
        db.close()
    return {state.value: found.get(state.value, 0) for state in STATES}, rows


def _has_edition(db: sqlite3.Connection) -> bool:
    return any(row[1] == "edition" for row in db.execute("PRAGMA table_info(recipient)"))


def _read(folder: Path, query: Callable[[sqlite3.Connection], T], empty: T) -> T:
    """`query` on the journal opened read-only and without the lock (it works while a send runs); `empty` when
    no list send was started, or the file is not a journal this reader understands."""
    if not exists(folder):
        return empty
    db = sqlite3.connect(f"file:{folder / FILE_NAME}?mode=ro", uri=True)
    try:
        return query(db)
    except sqlite3.Error:
        return empty
    finally:
        db.close()


def by_edition(folder: Path) -> dict[str, dict[str, int]]:
    """Counts per state of each edition ({} before any list send, or for a journal older than editions)."""
    def counted(db: sqlite3.Connection) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {}
        if _has_edition(db):
            for edition, state, count in db.execute("SELECT edition, state, COUNT(*) FROM recipient "
                                                    "GROUP BY edition, state"):
                found.setdefault(edition, dict.fromkeys((s.value for s in STATES), 0))[state] = count
        return found
    return _read(folder, counted, {})


def edition_lines(folder: Path) -> list[str]:
    """Each edition's counts as the team reads them (« édition adhérents : envoyés 4 »), when a send had two."""
    found = by_edition(folder)
    if MEMBERS not in found:
        return []
    return [_("{edition}: {counts}").format(
                edition=_(EDITION_WORDS.get(edition, edition)),
                counts=" · ".join(f"{_(COUNT_WORDS.get(s, s))} {number(n)}" for s, n in counted.items() if n))
            for edition, counted in sorted(found.items())]


def notes(folder: Path) -> dict[str, str]:
    """The facts kept about the send (note()): who approved which build, when; empty before any list send."""
    return _read(folder, lambda db: {k: v for k, v in db.execute("SELECT key, value FROM meta")
                                     if k.startswith("approved")}, {})


def states(folder: Path) -> dict[str, str]:
    """Each recipient's state by key (empty when no list send was started)."""
    return _read(folder, lambda db: dict(db.execute("SELECT key, state FROM recipient").fetchall()), {})


def still_to_send(known: dict[str, str], recipients: Iterable[Recipient], resend_unknown: bool) -> list[Recipient]:
    """Of `recipients`, those not in the journal, pending or deferred (and unknown when asked), in order."""
    wanted = {SendState.PENDING, SendState.DEFERRED} | ({SendState.UNKNOWN, SendState.SENDING} if resend_unknown
                                                         else set())
    return [r for r in recipients if known.get(r.key, SendState.PENDING) in wanted]
