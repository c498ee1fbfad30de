"""Each source's health over time: last success, HTTP status, items, newest item, failures in a row, last error.

Kept in `<cache>/health.json`, updated after every collection, read by `digest sources`. A source is stale when
nothing new came from it for longer than its section's window_days: its newest item's date, or for undated items
(events) the last time an item never seen before appeared.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from digest.config import Config, SourceConfig
from digest.files import write_atomic
from digest.i18n import N_, _
from digest.model import Item

FILE = "health.json"


@dataclass(frozen=True)
class Attempt:
    """What one collection of one source gave, as its health record needs it."""

    source: SourceConfig
    ok: bool  # read afresh (from the web or its file) with items
    items: tuple[Item, ...] = ()  # the items used, fresh or from the cached copy
    status: int | None = None
    error: str | None = None
    from_cache: bool = False


@dataclass(frozen=True)
class Record:
    """One source's health history. Times are ISO 8601 in UTC."""

    name: str
    format: str = ""
    url: str = ""
    last_attempt: str | None = None
    last_success: str | None = None
    http_status: int | None = None
    items: int = 0
    from_cache: bool = False
    newest_item: str | None = None
    last_new_item: str | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    seen: tuple[str, ...] = field(default=(), repr=False)  # short hashes of the uids read last time


def load(folder: Path) -> dict[str, Record]:
    """The records kept in folder/health.json (none when it is missing or unreadable)."""
    try:
        data = json.loads((folder / FILE).read_text(encoding="utf-8"))
        return {name: _record(fields) for name, fields in data["sources"].items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def _record(fields: dict[str, Any]) -> Record:
    known = {k: v for k, v in fields.items() if k in Record.__dataclass_fields__}
    known["seen"] = tuple(str(known.get("seen") or "").split())
    return Record(**known)


def save(folder: Path, records: dict[str, Record]) -> None:
    """Write folder/health.json atomically."""
    data = {"sources": {name: {**asdict(r), "seen": " ".join(r.seen)} for name, r in records.items()}}
    write_atomic(folder / FILE, (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))


def update(records: dict[str, Record], attempts: list[Attempt], now: datetime) -> dict[str, Record]:
    """The records after these attempts (sources not attempted keep theirs)."""
    updated = dict(records)
    for attempt in attempts:
        updated[attempt.source.name] = _update(records.get(attempt.source.name), attempt, now)
    return updated


def _update(old: Record | None, attempt: Attempt, now: datetime) -> Record:
    source = attempt.source
    record = old or Record(source.name)
    stamp = now.isoformat(timespec="seconds")
    record = replace(record, format=source.format, url=source.url, last_attempt=stamp,
                     http_status=attempt.status, from_cache=attempt.from_cache)
    if attempt.ok:
        record = replace(record, last_success=stamp, consecutive_failures=0, last_error=None)
    else:
        record = replace(record, consecutive_failures=record.consecutive_failures + 1, last_error=attempt.error)
    if not attempt.items:
        return replace(record, items=0)
    seen = tuple(sorted({hashlib.sha256(i.uid.encode()).hexdigest()[:12] for i in attempt.items}))
    dates = [i.date for i in attempt.items if i.date is not None]
    newest = max(dates).isoformat(timespec="seconds") if dates else record.newest_item
    last_new = stamp if set(seen) - set(record.seen) else record.last_new_item
    return replace(record, items=len(attempt.items), seen=seen, newest_item=newest, last_new_item=last_new)


@dataclass(frozen=True)
class HealthRow:
    """One line of the `digest sources` table."""

    source: SourceConfig
    record: Record | None
    window_days: int
    stale: bool
    state: str


STATES = {"ok": N_("ok"), "stale": N_("stale"), "failing": N_("failing"), "never read": N_("never read")}


def rows(config: Config, records: dict[str, Record], now: datetime) -> list[HealthRow]:
    """A row per configured source, in config order, with its state: ok, stale, failing, never read."""
    result = []
    for source in config.sources:
        record = records.get(source.name)
        if record is not None and record.url != source.url:
            record = None  # the source now points elsewhere: its past says nothing about the new address
        window = config.section(source.section).window_days
        stale = _is_stale(record, window, now)
        if record is None or record.last_attempt is None:
            state = "never read"
        elif record.consecutive_failures:
            state = "failing" + (", stale" if stale else "")
        else:
            state = "stale" if stale else "ok"
        result.append(HealthRow(source, record, window, stale, state))
    return result


def _is_stale(record: Record | None, window_days: int, now: datetime) -> bool:
    if record is None:
        return False
    fresh = record.newest_item or record.last_new_item
    if fresh is None:
        return False
    return now - datetime.fromisoformat(fresh) > timedelta(days=window_days)


def table(rows_: list[HealthRow], tz: ZoneInfo) -> str:
    """The health table as text: a line per source, then its url and last error, indented."""
    header = (_("source"), _("kind"), _("last success"), "HTTP", _("items"), _("newest item"), _("failures"),
              _("state"))
    lines = [_cells(header)]
    minute, day = _("%Y-%m-%d %H:%M"), _("%Y-%m-%d")  # the date formats a reader of the language expects
    for row in rows_:
        r = row.record
        lines.append(_cells((
            row.source.name, row.source.format,
            _local(r.last_success, tz, minute) if r else _("never"),
            str(r.http_status) if r and r.http_status else "-",
            (f"{r.items}" + (" " + _("(cache)") if r.from_cache else "")) if r and r.last_attempt else "-",
            _local(r.newest_item, tz, day) if r else "-",
            str(r.consecutive_failures) if r else "-",
            ", ".join(_(STATES[word]) for word in row.state.split(", "))
            + (" " + _("(nothing new for over {days} days)").format(days=row.window_days) if row.stale else ""),
        )))
        lines.append(f"    {row.source.url}")
        if r and r.last_error:
            lines.append(_("    last error: {last_error}").format(last_error=r.last_error))
    return "\n".join(lines)


# Each column's width, negative for the right-aligned numbers; the last one is as wide as it needs.
WIDTHS = (20, 5, 16, -4, -11, 11, -8, 0)


def _cells(values: tuple[str, ...]) -> str:
    cells = [value.rjust(-width) if width < 0 else value.ljust(width)
             for value, width in zip(values, WIDTHS, strict=True)]
    return "  ".join(cells).rstrip()


def _local(stamp: str | None, tz: ZoneInfo, fmt: str) -> str:
    if not stamp:
        return _("never") if fmt.endswith("%M") else "-"
    return datetime.fromisoformat(stamp).astimezone(tz).strftime(fmt)

