"""The life of each letter in the outbox: built, tested, sending, sent, published; and which letter `send`,
`export` and `publish` act on when no --date is given (never [letter] date: that key is for building)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from digest.config import Config
from digest.errors import DigestError
from digest.files import failure, write_atomic

LOG = "log.json"  # in the private folder: when the letter was tested and published
RECORD = "digest.json"
STILL_TO_SEND = ("pending", "sending", "deferred", "unknown")
COUNTED = ("sent", "failed", "deferred", "unknown")  # what a sent letter's line counts


@dataclass(frozen=True)
class LetterState:
    """One letter of the outbox and where it is in its life."""

    day: date
    folder: Path
    subject: str
    sender: str
    built: datetime  # when digest.json was written
    counts: dict[str, int] | None  # the list send's journal, per state; None before any list send
    tested: str | None = None  # when the last --to send of this build went
    published: str | None = None

    @property
    def began(self) -> bool:
        """The list send began: a subscriber's server accepted it."""
        return bool(self.counts and self.counts["sent"])

    @property
    def complete(self) -> bool:
        """The list send ran and no one is left pending, deferred or unknown."""
        return self.counts is not None and not any(self.counts[s] for s in STILL_TO_SEND)

    @property
    def state(self) -> str:
        """built, tested, sending or sent (with its counts), and ', published' when it was."""
        if self.counts is not None and self.complete:
            words = "sent (" + ", ".join(f"{s} {self.counts[s]}" for s in COUNTED) + ")"
        elif self.counts is not None:
            words = "sending (" + ", ".join(f"{s} {n}" for s, n in self.counts.items() if n) + ")"
        else:
            words = "tested" if self.tested else "built"
        return words + (", published" if self.published else "")

    def title(self) -> str:
        """`2025-12-18 “subject”`, as every command names the letter it acts on."""
        return f"{self.day.isoformat()} “{self.subject}”"


def read(cfg: Config, outbox: Path, day: date) -> LetterState | None:
    """The letter dated `day` in `outbox`, None when it was not built (or its digest.json is unreadable)."""
    from digest.delivery import journal

    folder = outbox / day.isoformat()
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
        built = datetime.fromtimestamp((folder / RECORD).stat().st_mtime, UTC)
        subject, sender = str(record["subject"]), str(record.get("from", ""))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not (folder / "letter.html").is_file():
        return None
    private = journal.folder_for(cfg, day)
    found = journal.status(private)
    log = _log(private)
    counts = found[0] if found and any(found[0].values()) else None  # an empty journal: no list send yet
    return LetterState(day, folder, subject, sender, built, counts,
                       _since(log.get("tested"), built), log.get("published"))


def every(cfg: Config, outbox: Path) -> list[LetterState]:
    """Every built letter of the outbox, newest first."""
    found = []
    for folder in outbox.iterdir() if outbox.is_dir() else ():
        try:
            day = date.fromisoformat(folder.name)
        except ValueError:
            continue
        state = read(cfg, outbox, day)
        if state is not None:
            found.append(state)
    return sorted(found, key=lambda s: s.day, reverse=True)


@dataclass(frozen=True)
class Choice:
    """The letter a command acts on, why, and the other candidates it did not take."""

    letter: LetterState
    reason: str
    others: tuple[LetterState, ...] = ()


def choose(cfg: Config, outbox: Path, given: date | None, *, sent_ok: bool) -> Choice:
    """--date, else the newest built letter whose list send is not complete (else, if `sent_ok`, the newest)."""
    from digest.delivery.personalize import LetterNotBuilt

    if given is not None:
        found = read(cfg, outbox, given)
        if found is None:
            raise LetterNotBuilt(f"the letter for {given.isoformat()} has not been built ({outbox / given.isoformat()} "
                                 f"has no letter); run `digest build --date {given.isoformat()}` first")
        return Choice(found, "given by --date")
    letters = every(cfg, outbox)
    if not letters:
        raise LetterNotBuilt(f"{outbox} holds no built letter; run `digest build --date YYYY-MM-DD` first")
    waiting = [s for s in letters if not s.complete]
    if waiting:
        return Choice(waiting[0], "the newest letter whose list send is not complete", tuple(waiting[1:]))
    if not sent_ok:
        raise DigestError(f"every letter in {outbox} has been sent to its list (newest: {letters[0].title()}); "
                          "give --date YYYY-MM-DD to act on one of them")
    return Choice(letters[0], "the newest letter (every list send is complete)")


def may_rebuild(cfg: Config, day: date, force: bool) -> int:
    """How many subscribers got the letter of `day` already; DigestError (exit 2) if any and not `force`."""
    from digest.delivery import journal

    found = journal.status(journal.folder_for(cfg, day))
    sent = found[0]["sent"] if found else 0
    if sent and not force:
        raise DigestError(f"the list send of {day.isoformat()} has begun ({sent} subscriber(s) got it): building it "
                          "again would send them and the others different letters; --force builds it anyway")
    return sent


def refuse_stale(cfg: Config, letter: LetterState, allow_stale: bool) -> list[str]:
    """The inputs changed since the letter was built; DigestError (exit 2) naming them unless `allow_stale`."""
    from digest import inputs

    changed = inputs.changed(cfg, letter.folder, letter.day) or []
    if changed and not allow_stale:
        raise DigestError(f"these files changed since the letter of {letter.day.isoformat()} was built: "
                          f"{', '.join(changed)}; build it again (digest build --date {letter.day.isoformat()}) "
                          "or add --allow-stale to use it as it was built")
    return changed


def note(cfg: Config, day: date, event: str) -> None:
    """Record in the letter's private log that it was tested or published, and when."""
    from digest.delivery import journal

    path = journal.folder_for(cfg, day) / LOG
    log = {**_log(path.parent), event: datetime.now(UTC).isoformat()}
    try:
        write_atomic(path, (json.dumps(log, indent=2) + "\n").encode("utf-8"))
    except OSError as exc:
        raise failure(path, exc) from None


def _since(moment: str | None, built: datetime) -> str | None:
    """`moment` if it came after the build: a test of an earlier build of the letter does not count."""
    try:
        return moment if moment and datetime.fromisoformat(moment) >= built else None
    except ValueError:
        return None


def _log(private: Path) -> dict[str, str]:
    try:
        found = json.loads((private / LOG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}
