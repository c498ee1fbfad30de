"""Reading dates as teams write them, and writing them as French readers expect."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from digest.i18n import _
from digest.text import NBSP

DMY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](\d{1,2})[:h](\d{2}))?$")


def parse_date(value: object, tz: ZoneInfo) -> datetime:
    """A timezone-aware datetime from ISO 8601 or dd/mm/yyyy[ hh:mm]; naive values are in `tz`."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(), tz)
    text = str(value).strip()
    match = DMY.match(text)
    if match:
        day, month, year, hour, minute = match.groups()
        try:
            parsed = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0))
        except ValueError:
            raise ValueError(_day_month_year_hint(text, int(day), int(month), int(year))) from None
    else:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(_("{text!r} is not a date; write YYYY-MM-DD or dd/mm/yyyy").format(text=text)) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def as_typed(typed: str, *, with_time: bool) -> str | None:
    """A date a person typed, as the issue file keeps it (dd/mm/yyyy, with hh:mm when given and asked for); ''
    when empty, None when it is not a date of this century (a browser's date field sends yyyy-mm-dd, a person
    types dd/mm/yyyy)."""
    typed = typed.strip()
    if not typed:
        return ""
    try:
        when = parse_date(typed, ZoneInfo("UTC"))
    except ValueError:
        return None
    if not 2000 <= when.year <= 2100:
        return None
    return f"{when:%d/%m/%Y %H:%M}" if with_time and has_time(typed) else f"{when:%d/%m/%Y}"


def _day_month_year_hint(text: str, day: int, month: int, year: int) -> str:
    """Why a dd/mm/yyyy date is not one, in plain words; the likely fix for a month/day/year date."""
    if month > 12 and 1 <= day <= 12:
        return _("{text!r} is not a date: dates are written day/month/year; for day {likely_day} of month "
                 "{likely_month}, write {likely_day:02d}/{likely_month:02d}/{year}").format(
                     text=text, likely_day=month, likely_month=day, year=year)
    if not 1 <= month <= 12 or year < 1:
        reason = _("no such month") if year >= 1 else _("no such year")
    elif not 1 <= day <= _days_in(year, month):
        reason = _("no such day in that month")
    else:
        reason = _("no such time of day")
    return _("{text!r} is not a date ({reason}): dates are written day/month/year, e.g. 31/12/2025").format(
        text=text, reason=reason)


def _days_in(year: int, month: int) -> int:
    following = date(year + month // 12, month % 12 + 1, 1)
    return (following - date(year, month, 1)).days


def has_time(value: object) -> bool:
    """Whether a date as written carries a time of day (so an event is not all-day)."""
    if isinstance(value, datetime):
        return True
    return bool(re.search(r"\d[T ]\d{1,2}[:h]\d{2}", str(value)))


# The words of the calendar in the languages digest speaks, as CLDR (and so Babel) writes them: a letter in French
# or English formats its dates without loading Babel's locale data (a quarter of a small build's time); any other
# language asks Babel.
MONTHS = {
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
}
SHORT_MONTHS = {
    "fr": ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}
WEEKDAYS = {
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}


def _known(locale: str) -> str | None:
    """'fr' or 'en' for a locale whose calendar words digest holds, else None (regional variants differ: en_GB
    writes 'Sept', fr_CA 'juill.', so they ask Babel)."""
    return {"fr": "fr", "fr_fr": "fr", "en": "en", "en_us": "en"}.get(locale.replace("-", "_").lower())


def _babel(day: date, pattern: str, locale: str) -> str:
    from babel.dates import format_date  # only for a language digest holds no words for

    return format_date(day, pattern, locale=locale)


def day_month_year(day: date, locale: str = "fr") -> str:
    """'19 novembre 2025', '1er mars 2021' (French ordinal for the first), with no-break spaces."""
    language = _known(locale)
    if language is None:
        text = _babel(day, "d MMMM y", locale)
    else:
        text = f"{day.day} {MONTHS[language][day.month - 1]} {day.year}"
    if locale.startswith("fr") and day.day == 1:
        text = "1er" + text[1:]
    return text.replace(" ", NBSP)


def month_year(day: date, locale: str = "fr") -> str:
    """'novembre 2025'."""
    language = _known(locale)
    text = f"{MONTHS[language][day.month - 1]} {day.year}" if language else _babel(day, "MMMM y", locale)
    return text.replace(" ", NBSP)


def badge(day: date, locale: str = "fr") -> tuple[str, str]:
    """The two lines of an agenda badge: ('26', 'mars'); abbreviated month as the CUF site shows it."""
    language = _known(locale)
    short = SHORT_MONTHS[language][day.month - 1] if language else _babel(day, "MMM", locale)
    return str(day.day), short.rstrip(".")


def weekday(day: date, locale: str = "fr") -> str:
    """'jeudi'."""
    language = _known(locale)
    return WEEKDAYS[language][day.weekday()] if language else _babel(day, "EEEE", locale)


def clock(moment: datetime, locale: str = "fr") -> str:
    """A time of day: '10 h 00' in French, '10:00' elsewhere."""
    if locale.startswith("fr"):
        return f"{moment.hour}{NBSP}h{NBSP}{moment.minute:02d}"
    return f"{moment.hour}:{moment.minute:02d}"
