"""iCalendar (.ics) files for the agenda: one Item per VEVENT, recurring events expanded inside the horizon.

The work a calendar can cause is bounded: a repeat rule that would step through too many instants is refused,
each event gives at most MAX_PER_EVENT occurrences and each source MAX_PER_SOURCE items, and the reading stops
when the collection's deadline passes.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from datetime import time as clock
from typing import Any

import icalendar

from digest.collectors.base import Context, Fetched, hashed_uid, past_deadline
from digest.config import SourceConfig
from digest.errors import SourceError
from digest.i18n import _
from digest.model import Collected, Item, Problem
from digest.text import fold, forbidden_in, removed_note, safe_url, teaser

MAX_PER_EVENT = 500  # occurrences of one repeating event kept (a daily event over the horizon is ~180)
MAX_PER_SOURCE = 5000  # items of one calendar
MAX_STEPS = 100_000  # repetitions a rule may step through from its DTSTART to the horizon's end
UNITS = {"SECONDLY": "second(s)", "MINUTELY": "minute(s)", "HOURLY": "hour(s)", "DAILY": "day(s)",
         "WEEKLY": "week(s)", "MONTHLY": "month(s)", "YEARLY": "year(s)"}
SECONDS = {"SECONDLY": 1, "MINUTELY": 60, "HOURLY": 3600, "DAILY": 86400, "WEEKLY": 7 * 86400,
           "MONTHLY": 28 * 86400, "YEARLY": 365 * 86400}


class BrokenEvent(ValueError):
    """An event digest cannot use, with the reason in plain words."""


def collect(source: SourceConfig, fetched: Fetched, ctx: Context) -> Collected:
    """Every event of the calendar as an Item; cancelled events are left out, broken ones warned about."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        items, problems = _read(source, fetched, ctx)
    notes = dict.fromkeys(_library_note(w.message) for w in caught)  # one line per kind, in order
    return Collected(source.name, tuple(items), (*problems, *(Problem(source.name, n) for n in notes)))


def _read(source: SourceConfig, fetched: Fetched, ctx: Context) -> tuple[list[Item], list[Problem]]:
    try:  # several VCALENDARs in one file are allowed (RFC 5545 3.4): each is read
        calendars = icalendar.Calendar.from_ical(fetched.body, multiple=True)
    except ValueError as exc:
        raise SourceError(_("not a readable iCalendar file: {reason}").format(reason=fold(str(exc)))) from None
    if not calendars:
        raise SourceError(_("not a readable iCalendar file: it holds no VCALENDAR"))
    items: list[Item] = []
    problems: list[Problem] = []
    for calendar in calendars:
        for number, events in enumerate(_series(calendar), 1):
            if past_deadline(ctx):
                raise SourceError(_("still being read when the collection's deadline passed"))
            if len(items) >= MAX_PER_SOURCE:
                problems.append(Problem(source.name, _("more than {MAX_PER_SOURCE} events: the rest are left "
                                                       "out").format(
                                                         MAX_PER_SOURCE=MAX_PER_SOURCE)))
                return items, problems
            name = fold(str(events[0].get("summary", ""))) or f"event #{number}"
            try:
                found = _event_items(calendar, events, source, ctx)
            except TooMany as exc:
                found = exc.items
                words = _("'{name}' repeats more than {MAX_PER_EVENT} times within the horizon: only its dates "
                          "until {end:%d/%m/%Y} are kept")
                problems.append(Problem(source.name, words.format(name=name, MAX_PER_EVENT=MAX_PER_EVENT,
                                                                  end=exc.end)))
            except SourceError:
                raise
            except BrokenEvent as exc:
                problems.append(Problem(source.name, _("'{name}': {exc}; event skipped").format(name=name, exc=exc)))
                continue
            except Exception:  # icalendar and recurring-ical-events raise many kinds on a broken event
                problems.append(Problem(source.name, _("'{name}': a date, a duration or the repeat rule cannot be "
                                                       "read; event skipped").format(name=name)))
                continue
            removed = forbidden_in([str(events[0].get(k, "")) for k in ("summary", "description", "location")])
            if removed and found:  # gone from the items already (fold removes them): said here, naming the event
                problems.append(Problem(source.name, removed_note(f"'{name}'", removed)))
            items.extend(found[: MAX_PER_SOURCE - len(items)])
    return items, problems


def _event_items(calendar: Any, events: list[Any], source: SourceConfig, ctx: Context) -> list[Item]:
    if _recurs(events):
        return _occurrences(calendar, events, source, ctx)
    if str(events[0].get("status", "")).upper() == "CANCELLED":
        return []
    return [_item(events[0], source, ctx)]


def _library_note(message: Warning | str) -> str:
    """A calendar library's warning as one plain line (its text names the time zone concerned)."""
    text = fold(str(message)).split(". ")[0]
    return _("the calendar library warns: {text}; check the dates of its events").format(text=text)


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
    first = ctx.today or _moment(_start_of(events[0]), ctx).date()
    last = first + timedelta(days=ctx.horizon_days + 1)
    # At most about MAX_PER_EVENT occurrences are asked for: the window shrinks for a rule that repeats often.
    share = min([1.0, *(MAX_PER_EVENT / n for n in (_steps(e, ctx, first, last) for e in events) if n)])
    end = datetime.combine(first, clock(), ctx.tz) + (last - first) * share if share < 1 else last
    items = []
    for occurrence in recurring_ical_events.of(single).between(first, end):
        if past_deadline(ctx):
            raise SourceError(_("still being read when the collection's deadline passed"))
        if str(occurrence.get("status", "")).upper() == "CANCELLED":
            continue
        item = _item(occurrence, source, ctx)
        assert item.start is not None
        items.append(replace(item, uid=f"{item.uid}#{item.start.date().isoformat()}"))
    if share < 1:
        raise TooMany(items, end)
    return items


class TooMany(Exception):
    """A repeating event with more occurrences in the horizon than are kept: those until `end`."""

    def __init__(self, items: list[Item], end: date | datetime) -> None:
        super().__init__()
        self.items = items
        self.end = end


def _steps(event: Any, ctx: Context, first: date, last: date) -> float:
    """The instants the event's rule gives within [first, last]; BrokenEvent when it would step through more
    than MAX_STEPS from its DTSTART (FREQ=SECONDLY since 2020: the expansion would take hours)."""
    rule = event.get("rrule")
    if rule is None or "dtstart" not in event:
        return 0.0
    start = _moment(_start_of(event), ctx)
    span = (datetime.combine(last, clock(), ctx.tz) - start).total_seconds()
    window = (datetime.combine(last, clock(), ctx.tz) - max(start, datetime.combine(first, clock(), ctx.tz)))
    within = 0.0
    for one in rule if isinstance(rule, list) else [rule]:
        frequency = str((one.get("FREQ") or ["YEARLY"])[0]).upper()
        interval = max(1, int((one.get("INTERVAL") or [1])[0]))
        period = float(SECONDS.get(frequency, 86400) * interval)
        for part in ("BYSECOND", "BYMINUTE", "BYHOUR"):
            period /= max(1, len(one.get(part) or []))
        if span / period > MAX_STEPS:
            raise BrokenEvent(_("it repeats every {interval} {unit} since {start:%d/%m/%Y}: more than {MAX_STEPS} "
                                "repetitions to go through").format(
                                  interval=interval, unit=UNITS.get(frequency, frequency.lower()), start=start,
                                  MAX_STEPS=MAX_STEPS))
        within += max(window.total_seconds(), 0) / period
    return within


def _start_of(event: Any) -> date | datetime:
    if "dtstart" not in event:
        raise BrokenEvent(_("no DTSTART"))
    value = event.decoded("dtstart")
    if not isinstance(value, date):
        raise BrokenEvent(_("its DTSTART is not a date"))
    return value


def _item(event: Any, source: SourceConfig, ctx: Context) -> Item:
    title = fold(str(event.get("summary", "")))
    if not title:
        raise BrokenEvent(_("no SUMMARY"))
    raw_start = _start_of(event)
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
    return datetime.combine(value, clock(), ctx.tz)


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
        raise BrokenEvent(_("DTEND is before DTSTART"))
    return end
