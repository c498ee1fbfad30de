"""iCalendar (.ics) files for the agenda: one Item per VEVENT."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import icalendar

from digest.collectors.base import Context, Fetched, hashed_uid
from digest.config import SourceConfig
from digest.errors import SourceError
from digest.model import Collected, Item, Problem
from digest.text import fold, safe_url, teaser


def collect(source: SourceConfig, fetched: Fetched, ctx: Context) -> Collected:
    """Every event of the calendar as an Item; cancelled events are left out, broken ones warned about."""
    try:
        calendar = icalendar.Calendar.from_ical(fetched.body)
    except ValueError as exc:
        raise SourceError(f"not a readable iCalendar file: {fold(str(exc))}") from None
    items: list[Item] = []
    problems: list[Problem] = []
    for number, event in enumerate(calendar.walk("VEVENT"), 1):
        if str(event.get("status", "")).upper() == "CANCELLED":
            continue
        try:
            items.append(_item(event, source, ctx))
        except (ValueError, KeyError, TypeError) as exc:
            name = fold(str(event.get("summary", ""))) or f"event #{number}"
            problems.append(Problem(source.name, f"{name!r}: {exc}; event skipped"))
    return Collected(source.name, tuple(items), tuple(problems))


def _item(event: Any, source: SourceConfig, ctx: Context) -> Item:
    title = fold(str(event.get("summary", "")))
    if not title:
        raise ValueError("no SUMMARY")
    if "dtstart" not in event:
        raise ValueError("no DTSTART")
    raw_start = event.decoded("dtstart")
    all_day = not isinstance(raw_start, datetime)
    start = _moment(raw_start, ctx)
    end = _end(event, raw_start, start, all_day, ctx)
    url = safe_url(str(event.get("url", "")) or None)
    return Item(
        uid=str(event.get("uid", "")) or hashed_uid(title, start.isoformat()),
        source=source.name, title=title, url=url, date=None,
        summary=teaser(fold(str(event.get("description", ""))), ctx.teaser_length),
        place=fold(str(event.get("location", ""))) or None,
        start=start, end=end, all_day=all_day,
    )


def _moment(value: date | datetime, ctx: Context) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=ctx.tz)  # floating time: the letter's zone
    return datetime.combine(value, time(), ctx.tz)


def _end(event: Any, raw_start: date, start: datetime, all_day: bool, ctx: Context) -> datetime:
    if "dtend" in event:
        end = _moment(event.decoded("dtend"), ctx)
    elif "duration" in event:
        end = start + event.decoded("duration")
    else:
        end = start + (timedelta(days=1) if all_day else timedelta(0))
    if all_day:
        end = max(start, end - timedelta(days=1))  # DTEND of an all-day event is exclusive
    if end < start:
        raise ValueError("DTEND is before DTSTART")
    return end
