"""Scheduled list sends: `digest send --list --at "2026-12-15 09:00"` records one; `digest serve` (or `digest send
--due`, run by cron where no server runs) performs it at its time, exactly once.

A scheduled send is a row of this store part. At its time, one process claims it in an immediate transaction
(`waiting` → `sending`, with its host:pid and a heartbeat it renews while it sends), so with several workers one
sends; the send itself is the list send's (digest.delivery.smtp: the journal, each address once, its lock). A
claim whose process died (its pid gone on this host, or no heartbeat for LEASE) is taken again, and the journal
resumes the send where it stopped: no one gets the letter twice.

Before sending, the same checks as a send now, at that time: the letter is the build that was scheduled (a
rebuild holds it: the team rescheduled a letter it had read), its inputs unchanged, its pictures on the web, and
approved when [send] approvers is set. A send found more than [send] late_minutes late (the server was down) is
held, not sent. A held send says why (a code the team's words are made from) and waits for the team.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo

from digest import i18n
from digest.config import Config
from digest.errors import DigestError
from digest.i18n import N_, _
from digest.store import Part, Store, now

LOG = logging.getLogger("digest.serve")
LEASE = timedelta(seconds=90)  # a claim with no heartbeat for this long is taken again
BEAT = timedelta(seconds=15)  # the sending process renews its heartbeat this often
SEEN = "serve_seen"  # the store's meta key `digest serve` keeps fresh while it runs
SEEN_FRESH = timedelta(seconds=60)  # a server seen within this is running


class State(StrEnum):
    """Where a scheduled send is."""

    WAITING = "waiting"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"
    HELD = "held"


class Held(StrEnum):
    """Why a scheduled send was held (the team's words are made from it)."""

    LATE = "late"
    REBUILT = "rebuilt"
    NOT_APPROVED = "not-approved"
    STALE = "stale"
    UNPUBLISHED = "unpublished"
    ERROR = "error"


HELD_WORDS = {
    Held.LATE: N_("the server was not running at its time and it was found too late"),
    Held.REBUILT: N_("the letter was built again after it was scheduled"),
    Held.NOT_APPROVED: N_("the letter was not approved at its time"),
    Held.STALE: N_("files the letter was built from changed since"),
    Held.UNPUBLISHED: N_("pictures of the letter were not on the web yet"),
    Held.ERROR: N_("the send could not start"),
}
STATE_WORDS = {State.WAITING: N_("scheduled"), State.SENDING: N_("sending"), State.DONE: N_("sent"),
               State.CANCELLED: N_("cancelled"), State.HELD: N_("held")}


@dataclass(frozen=True)
class Scheduled:
    """A scheduled list send."""

    id: int
    letter: date
    fingerprint: str
    at: datetime  # UTC
    list: str  # a CSV's path; '' for the subscriber store
    state: State
    created: datetime
    claimed_by: str = ""
    heartbeat: datetime | None = None
    reason: Held | None = None
    detail: str = ""
    counts: dict[str, int] = field(default_factory=dict)


COLUMNS = "id, letter, fingerprint, at, list, state, created, claimed_by, heartbeat, reason, detail, counts"


def _row(row: tuple[object, ...]) -> Scheduled:
    sid, letter, fingerprint, at, listed, state, created, claimed_by, heartbeat, reason, detail, counts = row
    return Scheduled(int(str(sid)), date.fromisoformat(str(letter)), str(fingerprint), datetime.fromisoformat(str(at)),
                     str(listed), State(str(state)), datetime.fromisoformat(str(created)), str(claimed_by),
                     datetime.fromisoformat(str(heartbeat)) if heartbeat else None,
                     Held(str(reason)) if reason else None, str(detail), json.loads(str(counts)) if counts else {})


def me() -> str:
    """This process, as a claim names it: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _dead(claimed_by: str) -> bool:
    """Whether the process a claim names is known to be gone (it ran on this host and its pid is no more)."""
    host, _sep, pid = claimed_by.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Schedules(Part):
    """The scheduled sends in the store."""

    def add(self, letter: date, fingerprint: str, at: datetime, listed: str) -> Scheduled:
        """Schedule the list send of `letter` at `at` (UTC); DigestError when one is already waiting."""
        with self._transaction() as db:
            waiting = db.execute("SELECT at FROM scheduled WHERE letter=? AND state IN ('waiting', 'sending')",
                                 (letter.isoformat(),)).fetchone()
            if waiting:
                raise DigestError(_("the list send of this letter is already scheduled ({when}): cancel it first "
                                    "with `digest send --cancel`").format(
                                      when=i18n.moment(datetime.fromisoformat(waiting[0]).astimezone())))
            sid = db.execute("INSERT INTO scheduled (letter, fingerprint, at, list, created) VALUES (?, ?, ?, ?, ?)",
                             (letter.isoformat(), fingerprint, at.astimezone(UTC).isoformat(timespec="seconds"),
                              listed, now())).lastrowid
        found = self.get(int(sid or 0))
        assert found is not None
        return found

    def get(self, sid: int) -> Scheduled | None:
        """The scheduled send with this number."""
        row = self._db.execute(f"SELECT {COLUMNS} FROM scheduled WHERE id=?", (sid,)).fetchone()
        return _row(row) if row else None

    def every(self) -> list[Scheduled]:
        """Every scheduled send, the latest time first."""
        return [_row(r) for r in self._db.execute(f"SELECT {COLUMNS} FROM scheduled ORDER BY at DESC, id DESC")]

    def latest(self, letter: date) -> Scheduled | None:
        """The letter's latest send waiting, under way or held (None: none)."""
        row = self._db.execute(f"SELECT {COLUMNS} FROM scheduled WHERE letter=? AND state IN ('waiting', "
                               "'sending', 'held') ORDER BY id DESC LIMIT 1", (letter.isoformat(),)).fetchone()
        return _row(row) if row else None

    def cancel(self, letter: date) -> Scheduled | None:
        """Cancel the letter's waiting send; the row cancelled (None: nothing was waiting)."""
        with self._transaction() as db:
            row = db.execute(f"SELECT {COLUMNS} FROM scheduled WHERE letter=? AND state='waiting'",
                             (letter.isoformat(),)).fetchone()
            if row is None:
                return None
            db.execute("UPDATE scheduled SET state='cancelled' WHERE id=?", (row[0],))
        return replace(_row(row), state=State.CANCELLED)

    def anything_to_do(self, moment: datetime) -> bool:
        """Whether a send is due at `moment` or under way (one index lookup: the clock asks it every tick)."""
        at = moment.astimezone(UTC).isoformat(timespec="seconds")
        return self._db.execute("SELECT 1 FROM scheduled WHERE (state='waiting' AND at <= ?) OR state='sending' "
                                "LIMIT 1", (at,)).fetchone() is not None

    def claim(self, moment: datetime, who: str) -> Scheduled | None:
        """Take the next send due at `moment` (waiting, or sending under a dead claim) for `who`; None: none."""
        stale = (moment - LEASE).astimezone(UTC).isoformat(timespec="seconds")
        with self._transaction() as db:
            rows = db.execute(f"SELECT {COLUMNS} FROM scheduled WHERE (state='waiting' AND at <= ?) OR "
                              "state='sending' ORDER BY at, id",
                              (moment.astimezone(UTC).isoformat(timespec="seconds"),)).fetchall()
            for row in rows:
                found = _row(row)
                if found.state == State.SENDING and not (found.heartbeat is None or row[8] < stale
                                                         or _dead(found.claimed_by)):
                    continue  # another process is sending it
                db.execute("UPDATE scheduled SET state='sending', claimed_by=?, heartbeat=? WHERE id=?",
                           (who, now(), found.id))
                return found
        return None

    def beat(self, sid: int, who: str) -> None:
        """The sending process is alive."""
        with self._transaction() as db:
            db.execute("UPDATE scheduled SET heartbeat=? WHERE id=? AND claimed_by=?", (now(), sid, who))

    def finish(self, sid: int, counts: dict[str, int]) -> None:
        """The send ran to its end: its counts kept."""
        with self._transaction() as db:
            db.execute("UPDATE scheduled SET state='done', counts=? WHERE id=?", (json.dumps(counts), sid))

    def hold(self, sid: int, reason: Held, detail: str) -> None:
        """The send did not go: why, for the team."""
        with self._transaction() as db:
            db.execute("UPDATE scheduled SET state='held', reason=?, detail=? WHERE id=?",
                       (reason.value, detail, sid))

    def release(self, sid: int) -> None:
        """Give a claim back untouched (another process holds the send's journal)."""
        with self._transaction() as db:
            db.execute("UPDATE scheduled SET heartbeat='' WHERE id=?", (sid,))


def seen(store: Store) -> None:
    """`digest serve` is running: say so in the store (what `--at` reads)."""
    with store.transaction() as db:
        db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value=excluded.value",
                   (SEEN, now()))


def server_running(path: Path, moment: datetime) -> bool:
    """Whether a `digest serve` on this store showed a sign of life lately."""
    if not path.is_file():
        return False
    with Store(path) as store:
        row = store.db.execute("SELECT value FROM meta WHERE key=?", (SEEN,)).fetchone()
    return bool(row) and moment - datetime.fromisoformat(row[0]) <= SEEN_FRESH


def parse_time(text: str, timezone: str) -> datetime:
    """A time the team typed, in its time zone: '2026-12-15 09:00', '15/12/2026 09:00', seconds allowed; ValueError
    (a sentence) when it is not one."""
    cleaned = " ".join(text.replace("T", " ").split())
    for pattern in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S",
                    "%Y-%m-%d %Hh%M", "%d/%m/%Y %Hh%M"):
        try:
            naive = datetime.strptime(cleaned, pattern)
        except ValueError:
            continue
        return naive.replace(tzinfo=ZoneInfo(timezone))
    raise ValueError(_("{given!r} is not a time; write it as YYYY-MM-DD HH:MM, e.g. 2026-12-15 09:00").format(
        given=text))



def described(found: Scheduled) -> str:
    """A scheduled send in the team's words: « envoi programmé le 15 décembre 2026 à 9 h 00 », « … retenu (…) »."""
    when = i18n.moment(found.at.astimezone())
    if found.state == State.HELD and found.reason is not None:
        return _("send scheduled on {when} held ({why})").format(when=when, why=_(HELD_WORDS[found.reason]))
    if found.state == State.SENDING:
        return _("scheduled send of {when} under way").format(when=when)
    return _("send scheduled on {when}").format(when=when)


def of_letter(cfg: Config, day: date) -> Scheduled | None:
    """The letter's latest scheduled send that was not cancelled nor done (None: none, or no store yet)."""
    if not cfg.subscribers_path.is_file():
        return None
    with Schedules(cfg.subscribers_path) as schedules:
        return schedules.latest(day)
