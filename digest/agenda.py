"""Add-to-calendar for the letter's events: one .ics file per event (in the letter's folder) and a Google link. Pure."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from digest.i18n import _
from digest.model import Item, Letter
from digest.text import CONTROL, slug

FOLDER = "agenda"  # inside outbox/<date>/, so the web version publishes the files with the letter
GOOGLE = "https://calendar.google.com/calendar/render"
PRODID = "-//Cites Unies France//digest//FR"


def events(letter: Letter) -> list[Item]:
    """The letter's events: items of agenda sections, and featured items that have a start."""
    agenda = [i for s in letter.sections if s.kind == "agenda" for i in s.items]
    return [i for i in letter.featured if i.start] + agenda


def ics_name(item: Item, tz: ZoneInfo) -> str:
    """'agenda/2026-03-26-webinaire-developpement-a1b2c3.ics': readable, unique per occurrence."""
    start = _start(item)
    day = start.astimezone(tz).date().isoformat()
    tag = hashlib.sha256(f"{item.uid}|{start.isoformat()}".encode()).hexdigest()[:6]
    words = slug(item.title)[:24].rstrip("-") or "evenement"  # short: the url is in the e-mail, once per event
    return f"{FOLDER}/{day}-{words}-{tag}.ics"


def ics_url(item: Item, letter: Letter) -> str:
    """Where the event's .ics file is published: beside the letter's web version."""
    return f"{letter.base_url.rstrip('/')}/{letter.date.isoformat()}/{ics_name(item, ZoneInfo(letter.timezone))}"


def event_ics(item: Item, letter: Letter) -> bytes:
    """A one-event iCalendar file (RFC 5545); the same letter gives the same bytes."""
    import icalendar  # loaded only for a letter with events

    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = icalendar.Event()
    start, end = _span(item, ZoneInfo(letter.timezone))
    event.add("uid", _line(item.uid))
    event.add("dtstamp", datetime.combine(letter.date, time(), UTC))  # not the clock: builds repeat
    event.add("dtstart", start)
    if end is not None:
        event.add("dtend", end)
    event.add("summary", _line(item.title))
    if item.place:
        event.add("location", _line(item.place))
    if item.url:
        event.add("url", item.url)
    description = "\n\n".join(part for part in (item.summary, item.url) if part)
    if description:
        event.add("description", CONTROL.sub("", description))
    calendar.add_component(event)
    return bytes(calendar.to_ical())


def _line(text: str) -> str:
    """A source's text as one iCalendar value: icalendar escapes line breaks, not other control characters."""
    return " ".join(CONTROL.sub("", text).split())


def ics_files(letter: Letter) -> dict[str, bytes]:
    """Every event's .ics file, by its path inside the letter's folder."""
    tz = ZoneInfo(letter.timezone)
    return {ics_name(item, tz): event_ics(item, letter) for item in events(letter)}


def google_url(item: Item, tz: ZoneInfo) -> str:
    """A Google Calendar 'add event' link: times in UTC, all-day dates with the day after the last."""
    start, end = _span(item, tz)
    first = _google_time(start)
    params = {"action": "TEMPLATE", "text": item.title, "dates": f"{first}/{_google_time(end) if end else first}"}
    if item.place:
        params["location"] = item.place
    # No details: the event's page is linked beside it, and each byte counts ten times in a month's agenda.
    return f"{GOOGLE}?{urlencode(params, safe='/')}"


def filters(letter: Letter) -> dict[str, Callable[[Item], str]]:
    """The template filters `ics_url` and `google_url` for this letter."""
    tz = ZoneInfo(letter.timezone)
    return {"ics_url": lambda item: ics_url(item, letter), "google_url": lambda item: google_url(item, tz)}


def _start(item: Item) -> datetime:
    start = item.start or item.date
    if start is None:
        raise ValueError(_("{title!r} has no start").format(title=item.title))
    return start


def _span(item: Item, tz: ZoneInfo) -> tuple[date | datetime, date | datetime | None]:
    """DTSTART and DTEND as calendars want them: dates (end exclusive) for all-day events, UTC times else."""
    start = _start(item)
    if item.all_day:
        last = (item.end or start).astimezone(tz).date()
        return start.astimezone(tz).date(), last + timedelta(days=1)
    end = item.end if item.end and item.end > start else None
    return start.astimezone(UTC), end.astimezone(UTC) if end else None


def _google_time(moment: date | datetime) -> str:
    if isinstance(moment, datetime):
        return moment.strftime("%Y%m%dT%H%M%SZ")
    return moment.strftime("%Y%m%d")
