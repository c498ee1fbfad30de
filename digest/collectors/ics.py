"""iCalendar (.ics) files for the agenda: one Item per VEVENT, recurring events expanded inside the horizon."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
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
    for number, events in enumerate(_series(calendar), 1):
        name = fold(str(events[0].get("summary", ""))) or f"event #{number}"
        try:
            if _recurs(events):
                items.extend(_occurrences(calendar, events, source, ctx))
            elif str(events[0].get("status", "")).upper() != "CANCELLED":
                items.append(_item(events[0], source, ctx))
        except Exception as exc:  # icalendar and recurring-ical-events raise many kinds on a broken event
            problems.append(Problem(source.name, f"{name!r}: {fold(str(exc)) or type(exc).__name__}; event skipped"))
    return Collected(source.name, tuple(items), tuple(problems))


def _series(calendar: Any) -> Iterator[list[Any]]:
    """The VEVENTs grouped by UID: a recurring event and its modified occurrences go together."""
    groups: dict[str, list[Any]] = {}
    for number, event in enumerate(calendar.walk("VEVENT")):
        uid = str(event.get("uid", "")) or f"#{number}"
        groups.setdefault(uid, []).append(event)
    for events in groups.values():
        if _recurs(events):
            yield events
        else:  # the same UID on unrelated events: each is read on its own, as before
            yield from ([event] for event in events)


def _recurs(events: list[Any]) -> bool:
    return any("rrule" in e or "rdate" in e or "recurrence-id" in e for e in events)


def _occurrences(calendar: Any, events: list[Any], source: SourceConfig, ctx: Context) -> list[Item]:
    """Each occurrence of a recurring event inside [letter date, + horizon], with a uid per occurrence."""
    import recurring_ical_events  # loaded only for a calendar with a recurring event

    single = icalendar.Calendar()
    for timezone in calendar.walk("VTIMEZONE"):
        single.add_component(timezone)
    for event in events:
        single.add_component(event)
    first = ctx.today or _moment(events[0].decoded("dtstart"), ctx).date()
    items = []
    for occurrence in recurring_ical_events.of(single).between(first, first + timedelta(days=ctx.horizon_days + 1)):
        if str(occurrence.get("status", "")).upper() == "CANCELLED":
            continue
        item = _item(occurrence, source, ctx)
        assert item.start is not None
        items.append(replace(item, uid=f"{item.uid}#{item.start.date().isoformat()}"))
    return items


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
