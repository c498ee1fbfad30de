"""Choose what goes in the letter: items into sections, windows, order, duplicates, limits. Pure."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlparse
from zoneinfo import ZoneInfo

from digest.config import Config, SectionConfig
from digest.i18n import _
from digest.issuefile import IssueFile
from digest.model import Collected, Copy, History, Item, Letter, Problem, Section

# Query parameters that only say where a click came from: the same page with or without them is one page.
TRACKING = {"fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid", "xtor", "_hsenc",
            "_hsmi", "mkt_tok", "at_medium", "at_campaign"}


# Two titles are one story when, once case, accents, punctuation and these words are ignored, they match at
# least this closely (difflib's ratio) and carry the same numbers ("Webinaire #3" is not "Webinaire #4").
NEAR_DUPLICATE_RATIO = 0.92
STOP_WORDS = frozenset((
    "a", "au", "aux", "avec", "ce", "ces", "cet", "cette", "d", "dans", "de", "des", "du", "elle", "en", "et",
    "est", "il", "ils", "l", "la", "le", "les", "leur", "leurs", "lors", "n", "ne", "ou", "par", "pas", "pour",
    "qu", "que", "qui", "s", "sa", "se", "ses", "son", "sont", "sur", "un", "une", "y",
))


# Why a candidate is not in the letter (LeftOut.reason).
EXCLUDED, OUTSIDE, SENT, DUPLICATE, OVER_MAX = "excluded", "outside", "sent", "duplicate", "over-max"


@dataclass(frozen=True)
class LeftOut:
    """A candidate item the letter does not show, in the section it was read for, and why (a reason above)."""

    section: str
    item: Item
    reason: str


@dataclass(frozen=True)
class Selection:
    """The sections to render, and what was left out and why, for the build report."""

    sections: tuple[Section, ...]
    notes: tuple[str, ...] = ()
    featured: tuple[Item, ...] = ()  # the issue file's "À la une" items, taken out of their sections
    problems: tuple[Problem, ...] = ()  # the issue file names an item that is not there
    already_sent: int = 0  # items left out because an earlier letter carried them
    left_out: tuple[LeftOut, ...] = ()  # every candidate not shown, with why (for the editorial desk)
    proposals: tuple[Item, ...] = ()  # members' articles waiting for the team's click, newest first


def select(config: Config, collected: Iterable[Collected], today: date, issue: IssueFile | None = None,
           history: History | None = None) -> Selection:
    """Group items into their sections and keep what belongs in the issue dated `today`.

    The issue file's decisions apply first (hand-written items, overrides, exclusions, pins), then the
    sections' dates, then what earlier letters (`history`) already sent, then near-duplicates, then the order.
    """
    issue = issue or IssueFile()
    tz = ZoneInfo(config.letter.timezone)
    by_section: dict[str, list[Item]] = {s.id: [] for s in config.sections}
    section_of = {s.name: s.section for s in config.sources}
    for result in collected:
        by_section[section_of[result.source]].extend(result.items)
    for section_id, item in issue.extra:
        by_section[section_id].append(item)
    waiting = {section_id: [i for i in items if i.proposed] for section_id, items in by_section.items()}
    by_section = {section_id: [i for i in items if not i.proposed] for section_id, items in by_section.items()}
    _for_members(config, by_section)
    candidates = _snapshot(by_section)  # every item the letter may show: a proposal already among them is not one
    left_out = [LeftOut(section_id, item, EXCLUDED) for section_id, items in by_section.items() for item in items
                if any(matches(name, item) for name in issue.exclude)]
    problems, unknown = _apply_issue(issue, by_section)
    notes: list[str] = []
    before = _snapshot(by_section)
    for section in config.sections:
        items, dropped = _in_time(section, by_section[section.id], today, tz)
        by_section[section.id] = items
        if dropped:
            notes.append(_("{id}: {dropped} item(s) outside the section's dates left out").format(
                             id=section.id, dropped=dropped))
    left_out += _gone(before, by_section, OUTSIDE)
    once = {s.id for s in config.sections if not s.repeat}
    before = _snapshot(by_section)
    already_sent, sent_in = _drop_sent(by_section, history, once) if history else (0, [])
    if already_sent:
        letters = f"sent on {', '.join(d.isoformat() for d in sent_in)}; " if sent_in else ""
        notes.append(_("{already_sent} item(s) already sent in an earlier letter left out ({letters}--include-sent "
                       "keeps them)").format(already_sent=already_sent, letters=letters))
    left_out += _gone(before, by_section, SENT)
    kinds: dict[str, str] = {s.id: s.kind for s in config.sections}
    before = _snapshot(by_section)
    notes.extend(merge_duplicates(by_section, kinds, tz))
    left_out += _gone(before, by_section, DUPLICATE)
    featured = _take_featured(issue.featured, by_section)
    problems.extend(_lost(issue, by_section, featured, unknown))
    sections: list[Section] = []
    for section in _ordered(config.sections, issue.sections):
        kept = _pinned_first(by_section[section.id], issue.pin)
        if len(kept) > section.max_items:
            notes.append(_("{id}: {left_out} item(s) over max_items left out").format(
                             id=section.id, left_out=len(kept) - section.max_items))
            left_out += [LeftOut(section.id, item, OVER_MAX) for item in kept[section.max_items:]]
        if kept:
            sections.append(Section(section.id, section.title, section.kind, tuple(kept[: section.max_items]),
                                    section.default_image))
        else:
            notes.append(_("{id}: no item, section left out").format(id=section.id))
    proposals = _proposals(config, waiting, [i for items in candidates.values() for i in items], today, tz, history,
                           issue)
    return Selection(tuple(sections), tuple(notes), tuple(featured), tuple(problems), already_sent,
                     tuple(left_out), proposals)


def _proposals(config: Config, waiting: dict[str, list[Item]], candidates: list[Item], today: date, tz: ZoneInfo,
               history: History | None, issue: IssueFile) -> tuple[Item, ...]:
    """The members' articles to propose: inside their section's dates, not sent by an earlier letter, not excluded,
    and not already among the letter's items (an accepted one is an item of the issue file, with its address)."""
    taken = {canonical_url(i.url) for i in candidates if i.url} | {title_key(i.title) for i in candidates}
    urls = {canonical_url(u): history.sent_on.get(u, date.min) for u in history.urls} if history else {}
    found: list[Item] = []
    for section in config.sections:
        items, _outside = _in_time(section, waiting.get(section.id, []), today, tz)
        found += [i for i in items if not (i.url and canonical_url(i.url) in taken)
                  and title_key(i.as_member_news().title) not in taken
                  and not (history and _sent_in(i, history, urls))
                  and not any(matches(name, i) for name in issue.exclude)]
    return tuple(sorted(found, key=lambda i: -(i.date.timestamp() if i.date else 0)))


def _snapshot(by_section: dict[str, list[Item]]) -> dict[str, list[Item]]:
    return {section_id: list(items) for section_id, items in by_section.items()}


def _gone(before: dict[str, list[Item]], after: dict[str, list[Item]], reason: str) -> list[LeftOut]:
    """The items in `before` that a step took out of `after` (a merged copy keeps its source and uid)."""
    kept = {(i.source, i.uid) for items in after.values() for i in items}
    return [LeftOut(section_id, item, reason) for section_id, items in before.items() for item in items
            if (item.source, item.uid) not in kept]


def _where(issue: IssueFile) -> str:
    return str(issue.path) if issue.path else "issue file"


def matches(name: str, item: Item) -> bool:
    """Whether the issue file's `name` (a url or a uid) names this item."""
    if name == item.uid:
        return True
    return bool(item.url) and "//" in name and canonical_url(name) == canonical_url(item.url or "")


def _for_members(config: Config, by_section: dict[str, list[Item]]) -> None:
    """Items of a source or a section for members only are marked so, in place (the members' edition alone
    carries them)."""
    members = {s.name for s in config.sources if s.audience == "members"}
    for section in config.sections:
        by_section[section.id] = [
            replace(i, audience="members") if section.audience == "members" or i.source in members else i
            for i in by_section[section.id]]


def _apply_issue(issue: IssueFile, by_section: dict[str, list[Item]]) -> tuple[list[Problem], set[str]]:
    """Overrides, exclusions and pins, in place; a name that matches no item is a warning naming it."""
    problems: list[Problem] = []
    unknown: set[str] = set()
    every = [item for items in by_section.values() for item in items]
    for name, key in issue.names():
        if not any(matches(name, item) for item in every):
            unknown.add(name)
            problems.append(Problem(_where(issue), _("{key}: no item has the url or uid {name!r}; check it against "
                                                     "the draft (digest draft) or the record of the letter that "
                                                     "carried it").format(key=key, name=name)))
    for override in issue.overrides:
        for section_id, items in list(by_section.items()):
            for item in [i for i in items if matches(override.item, i)]:
                changed = replace(item, title=override.title or item.title,
                                  summary=override.summary if override.summary is not None else item.summary,
                                  image=override.image or item.image, audience=override.audience or item.audience)
                items.remove(item)
                by_section[override.section or section_id].append(changed)
    pinned = issue.pin + issue.featured
    for section_id, items in by_section.items():
        by_section[section_id] = [
            replace(i, pinned=True) if any(matches(n, i) for n in pinned) else i
            for i in items if not any(matches(n, i) for n in issue.exclude)
        ]
    return problems, unknown


def _lost(issue: IssueFile, by_section: dict[str, list[Item]], featured: list[Item], unknown: set[str]
          ) -> list[Problem]:
    """A pinned or featured item that exists but is not in the letter (outside its dates): say so, by name."""
    kept = featured + [i for items in by_section.values() for i in items]
    copies = [Item(uid=c.uid, source=c.source, title="", url=c.url) for i in kept for c in i.also_in]
    return [Problem(_where(issue), _("{key}: {name!r} is outside its section's dates; left out").format(
                                       key=key, name=name))
            for key, names in (("pin", issue.pin), ("featured", issue.featured)) for name in names
            if name not in unknown and not any(matches(name, i) for i in kept + copies)]


def _drop_sent(by_section: dict[str, list[Item]], history: History, once: set[str]) -> tuple[int, list[date]]:
    """Leave out, in place, items an earlier letter sent from the `once` sections, unless pinned; how many, and
    the dates of the letters that sent them."""
    urls = {canonical_url(u): history.sent_on.get(u, date.min) for u in history.urls}
    dropped, letters = 0, set()
    for section_id, items in by_section.items():
        if section_id not in once:
            continue
        kept = []
        for item in items:
            sent = _sent_in(item, history, urls)
            if sent is None or item.pinned:
                kept.append(item)
            else:
                dropped += 1
                letters.add(sent)
        by_section[section_id] = kept
    return dropped, sorted(letters - {date.min})


def _sent_in(item: Item, history: History, urls: dict[str, date]) -> date | None:
    """The date of the earlier letter that sent this item (by uid, else by address); None if none did."""
    if item.uid in history.uids:
        return history.sent_on.get(item.uid, date.min)
    return urls.get(canonical_url(item.url)) if item.url else None


def _take_featured(names: tuple[str, ...], by_section: dict[str, list[Item]]) -> list[Item]:
    """The "À la une" items in the order the issue file lists them, taken out of their sections."""
    featured: list[Item] = []
    for name in names:
        for items in by_section.values():
            found = next((i for i in items if matches(name, i)), None)
            if found is not None and found not in featured:
                items.remove(found)
                featured.append(found)
                break
    return featured


def _pinned_first(items: list[Item], pins: tuple[str, ...]) -> list[Item]:
    """Pinned items first, in the order the issue file lists them; the others keep their order."""
    def rank(item: Item) -> int:
        return next((n for n, name in enumerate(pins) if matches(name, item)), len(pins))

    return sorted(items, key=rank)  # sorted is stable: unpinned items stay in reading order


def _ordered(sections: tuple[SectionConfig, ...], order: tuple[str, ...]) -> list[SectionConfig]:
    """The sections the issue file orders first, in its order, then the others as sources.toml has them."""
    first = [s for name in order for s in sections if s.id == name]
    return first + [s for s in sections if s not in first]


def merge_duplicates(by_section: dict[str, list[Item]], kinds: dict[str, str], tz: ZoneInfo) -> list[str]:
    """Keep one copy of each story across the letter (in place); notes say how many were merged per section.

    Copies are the same canonical url, or titles that match closely once normalized (within one kind of
    section, and on the same day for events). The richer copy is kept (picture, longer teaser), with the
    others noted in its `also_in`; an exact tie keeps the copy met first, in section order.
    """
    order = [(section_id, item) for section_id, items in by_section.items() for item in items]
    groups: list[list[tuple[str, Item]]] = []
    index_url: dict[str, int] = {}
    titles = _TitleIndex()
    for section_id, item in order:
        key = _title_key(item, kinds[section_id], tz)
        url = canonical_url(item.url) if item.url else None
        found = index_url.get(url) if url else None
        if found is None:
            found = titles.find(key)
            if found is not None and _other_link_of_same_source(groups[found], item):
                found = None  # one feed's items with different links are different items ("Re: …" posts)
        if found is None:
            found = len(groups)
            groups.append([])
        groups[found].append((section_id, item))
        if url:
            index_url.setdefault(url, found)
        titles.add(key, found)
    return _keep_richest(groups, by_section, kinds)


def _other_link_of_same_source(group: list[tuple[str, Item]], item: Item) -> bool:
    """Whether the group holds an item of `item`'s source with another link."""
    link = canonical_url(item.url) if item.url else None
    return any(other.source == item.source and (canonical_url(other.url) if other.url else None) != link
               for _, other in group)


def _keep_richest(groups: list[list[tuple[str, Item]]], by_section: dict[str, list[Item]],
                  kinds: dict[str, str]) -> list[str]:
    merged: dict[str, int] = {}
    for group in groups:
        if len(group) == 1:
            continue
        first_kind = kinds[group[0][0]]
        best = max(range(len(group)), key=lambda n: (_richness(group[n][1], kinds[group[n][0]] == first_kind), -n))
        home, kept = group[best]
        others = [(s, i) for n, (s, i) in enumerate(group) if n != best]
        copies = kept.also_in + tuple(Copy(i.source, i.uid, i.url) for _, i in others)
        pinned = kept.pinned or any(i.pinned for _, i in others)
        by_section[home][by_section[home].index(kept)] = replace(kept, also_in=copies, pinned=pinned)
        for section_id, item in others:
            by_section[section_id].remove(item)
            merged[section_id] = merged.get(section_id, 0) + 1
    return [_("{section_id}: {count} duplicate(s) left out (kept the richer copy)").format(
                section_id=section_id, count=count) for section_id, count in
            merged.items()]


def _richness(item: Item, same_kind: bool) -> tuple[bool, bool, bool, int, bool]:
    """Which copy of a story to keep: one of the first copy's kind, pinned, with a picture, the longer teaser."""
    return same_kind, item.pinned, item.image is not None, len(item.summary), item.url is not None


def title_key(title: str) -> str:
    """A title with case, accents, punctuation and French stop words ignored: 'appel projets fonds jeunesse'."""
    ascii_text = unicodedata.normalize("NFKD", title.casefold()).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text)
    return " ".join(w for w in words if w not in STOP_WORDS)


def _title_key(item: Item, kind: str, tz: ZoneInfo) -> tuple[str, str]:
    """(scope, normalized title): titles are compared within one kind of section, with the same numbers
    and, for events, on the same day."""
    title = title_key(item.title)
    scope = kind + "#" + ",".join(re.findall(r"\d+", title))
    if kind == "agenda" and event_start(item):
        scope += "@" + _day(event_start(item), tz).isoformat()
    return scope, title


class _TitleIndex:
    """Normalized titles seen so far, found again exactly or by similarity.

    Only titles sharing at least half their words are compared with difflib: a ratio of 0.92 needs far more
    than that, and comparing every pair made 2,000 items take seconds.
    """

    def __init__(self) -> None:
        self.groups: dict[tuple[str, str], int] = {}
        self.words: dict[tuple[str, str], list[tuple[str, str]]] = {}

    def add(self, key: tuple[str, str], group: int) -> None:
        if key in self.groups or not key[1]:
            return
        self.groups[key] = group
        for word in set(key[1].split()):
            self.words.setdefault((key[0], word), []).append(key)

    def find(self, key: tuple[str, str]) -> int | None:
        """The group of an equal or close enough title in the same scope, else None."""
        scope, title = key
        if not title or key in self.groups:
            return self.groups.get(key)
        words = set(title.split())
        shared: dict[tuple[str, str], int] = {}
        for word in words:
            for other in self.words.get((scope, word), ()):
                shared[other] = shared.get(other, 0) + 1
        matcher: difflib.SequenceMatcher[str] | None = None  # made only for a candidate: costly for each title
        for other, count in shared.items():
            if 2 * count < len(words):
                continue
            if matcher is None:
                matcher = difflib.SequenceMatcher(None, "", title, autojunk=False)  # b is cached: vary a
            matcher.set_seq1(other[1])
            if (matcher.real_quick_ratio() >= NEAR_DUPLICATE_RATIO and matcher.quick_ratio() >= NEAR_DUPLICATE_RATIO
                    and matcher.ratio() >= NEAR_DUPLICATE_RATIO):
                return self.groups[other]
        return None


def _in_time(section: SectionConfig, items: list[Item], today: date, tz: ZoneInfo) -> tuple[list[Item], int]:
    """The section's items inside its dates, in reading order, and how many were outside. A pinned item is in
    whatever its date (the team chose it for this letter; an accepted contribution is pinned), except an event
    already over."""
    if section.kind == "agenda":
        horizon = today + timedelta(days=section.horizon_days)
        events = [i for i in items if event_start(i) and event_last_day(i, tz) >= today
                  and (i.pinned or _day(event_start(i), tz) <= horizon)]
        return sorted(events, key=lambda i: (event_start(i), i.title)), len(items) - len(events)
    oldest = today - timedelta(days=section.window_days)
    dated = [i for i in items if i.date and (i.pinned or oldest < _day(i.date, tz) <= today)]
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


@lru_cache(maxsize=65536)
def canonical_url(url: str) -> str:
    """A url with scheme, 'www.', trailing slash, fragment and tracking parameters ignored."""
    parsed = urlparse(url.strip())
    host = parsed.netloc.lower().removeprefix("www.")
    query = [(k, v) for k, v in parse_qsl(parsed.query, keep_blank_values=True)
             if not k.lower().startswith("utm_") and k.lower() not in TRACKING]
    path = parsed.path.rstrip("/") or ""
    return f"//{host}{path}" + (f"?{urlencode(sorted(query))}" if query else "")


def make_letter(config: Config, sections: tuple[Section, ...], today: date, web_path: str) -> Letter:
    """The issue dated `today` with its sections; `web_path` is where its web version lies under base_url (the
    letter's folder owner names it)."""
    letter = config.letter
    return Letter(
        title=letter.title, date=today, language=letter.language, sections=sections,
        base_url=letter.base_url, unsubscribe_url=letter.unsubscribe_url, sender=letter.sender,
        address=letter.address, timezone=letter.timezone,
        web_url=letter.base_url.rstrip("/") + "/" + web_path,
        footer_links=letter.footer_links,
    )
