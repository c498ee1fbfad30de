"""Choose what goes in the letter: items into sections, windows, order, duplicates, limits. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlparse
from zoneinfo import ZoneInfo

from digest.config import Config, SectionConfig
from digest.model import Collected, Item, Letter, Section
from digest.text import fold

# Query parameters that only say where a click came from: the same page with or without them is one page.
TRACKING = {"fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid", "xtor", "_hsenc",
            "_hsmi", "mkt_tok", "at_medium", "at_campaign"}


@dataclass(frozen=True)
class Selection:
    """The sections to render, and what was left out and why, for the build report."""

    sections: tuple[Section, ...]
    notes: tuple[str, ...] = ()


def select(config: Config, collected: Iterable[Collected], today: date) -> Selection:
    """Group items into their sections and keep what belongs in the issue dated `today`."""
    tz = ZoneInfo(config.letter.timezone)
    by_section: dict[str, list[Item]] = {s.id: [] for s in config.sections}
    section_of = {s.name: s.section for s in config.sources}
    for result in collected:
        by_section[section_of[result.source]].extend(result.items)
    seen: set[str] = set()
    sections: list[Section] = []
    notes: list[str] = []
    for section in config.sections:
        items, dropped = _in_time(section, by_section[section.id], today, tz)
        kept = _unique(items, seen)
        if dropped:
            notes.append(f"{section.id}: {dropped} item(s) outside the section's dates left out")
        if len(kept) < len(items):
            notes.append(f"{section.id}: {len(items) - len(kept)} duplicate(s) left out")
        if len(kept) > section.max_items:
            notes.append(f"{section.id}: {len(kept) - section.max_items} item(s) over max_items left out")
        if kept:
            sections.append(Section(section.id, section.title, section.kind, tuple(kept[: section.max_items]),
                                    section.default_image))
        else:
            notes.append(f"{section.id}: no item, section left out")
    return Selection(tuple(sections), tuple(notes))


def _in_time(section: SectionConfig, items: list[Item], today: date, tz: ZoneInfo) -> tuple[list[Item], int]:
    """The section's items inside its dates, in reading order, and how many were outside."""
    if section.kind == "agenda":
        horizon = today + timedelta(days=section.horizon_days)
        events = [i for i in items if event_start(i) and event_last_day(i, tz) >= today
                  and _day(event_start(i), tz) <= horizon]
        return sorted(events, key=lambda i: (event_start(i), i.title)), len(items) - len(events)
    oldest = today - timedelta(days=section.window_days)
    dated = [i for i in items if i.date and oldest < _day(i.date, tz) <= today]
    undated = [i for i in items if i.date is None]  # hand-kept items without a date are meant for now
    dated.sort(key=lambda i: (-(i.date.timestamp() if i.date else 0), i.title))
    return dated + undated, len(items) - len(dated) - len(undated)


def event_start(item: Item) -> datetime | None:
    """When an event starts: its start, else (a feed item in an agenda section) its date."""
    return item.start or item.date


def event_last_day(item: Item, tz: ZoneInfo) -> date:
    """The last calendar day an event runs, in the letter's zone."""
    end = item.end or event_start(item)
    assert end is not None
    return _day(end, tz)


def _day(moment: datetime | None, tz: ZoneInfo) -> date:
    assert moment is not None
    return moment.astimezone(tz).date()


def _unique(items: list[Item], seen: set[str]) -> list[Item]:
    """Items whose url (or, without one, title) was not seen before; `seen` is updated."""
    kept = []
    for item in items:
        keys = {canonical_url(item.url)} if item.url else set()
        keys.add("title:" + fold(item.title).casefold())
        if keys & seen:
            continue
        seen.update(keys)
        kept.append(item)
    return kept


def canonical_url(url: str) -> str:
    """A url with scheme, 'www.', trailing slash, fragment and tracking parameters ignored."""
    parsed = urlparse(url.strip())
    host = parsed.netloc.lower().removeprefix("www.")
    query = [(k, v) for k, v in parse_qsl(parsed.query, keep_blank_values=True)
             if not k.lower().startswith("utm_") and k.lower() not in TRACKING]
    path = parsed.path.rstrip("/") or ""
    return f"//{host}{path}" + (f"?{urlencode(sorted(query))}" if query else "")


def make_letter(config: Config, sections: tuple[Section, ...], today: date) -> Letter:
    """The issue dated `today` with its sections."""
    letter = config.letter
    return Letter(
        title=letter.title, date=today, language=letter.language, sections=sections,
        base_url=letter.base_url, unsubscribe_url=letter.unsubscribe_url, sender=letter.sender,
        address=letter.address, timezone=letter.timezone,
        web_url=letter.base_url.rstrip("/") + f"/{today.isoformat()}/letter.html",
        footer_links=letter.footer_links,
    )
