"""What every collector receives: the fetched bytes of a source and the letter's reading context."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from digest.config import DEFAULT_HORIZON_DAYS, DEFAULT_TEASER_LENGTH
from digest.i18n import _


@dataclass(frozen=True)
class Fetched:
    """A source's body as read from disk or the web, with where it finally came from."""

    body: bytes
    url: str
    content_type: str | None = None


@dataclass(frozen=True)
class Context:
    """Letter settings that shape how items are read: the time zone of naive dates, the teaser length."""

    tz: ZoneInfo
    teaser_length: int = DEFAULT_TEASER_LENGTH
    today: date | None = None  # the letter's date: recurring events are expanded from it...
    horizon_days: int = DEFAULT_HORIZON_DAYS  # ...to this many days later
    # When the collection gives up (time.monotonic()); collectors stop reading past it. Not part of the
    # context's identity: kept items do not depend on it.
    deadline_at: float | None = field(default=None, repr=False, compare=False)


def past_deadline(ctx: Context) -> bool:
    """True once the collection's deadline has passed: a collector stops its work there."""
    return ctx.deadline_at is not None and time.monotonic() > ctx.deadline_at


def hashed_uid(*parts: str) -> str:
    """A stable uid for an item that names none: a hash of its defining text (rss2email's last resort)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return f"sha256:{digest[:32]}"


def unreadable(what: str, exc: Exception) -> str:
    """One item that digest failed to read, in words (the error's kind in brackets for whoever fixes digest)."""
    return (_("{what}: digest could not read this one (a value it does not handle; {name}); skipped, the rest of "
              "the source is kept").format(what=what, name=type(exc).__name__))
