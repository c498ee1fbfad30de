"""The letter's data: frozen dataclasses that every stage after the collectors shares."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Literal

SectionKind = Literal["news", "agenda"]
Audience = Literal["all", "members"]  # who an item is for: every reader, or the members' edition only


@dataclass(frozen=True)
class Copy:
    """Another source's copy of the same story, merged into the item kept (noted in the letter's record)."""

    source: str
    uid: str
    url: str | None = None


@dataclass(frozen=True)
class Item:
    """One piece of news or one event, as a collector read it from a source.

    Text fields are plain text (never markup); ``url`` and ``image`` are absolute http(s) URLs or None.
    ``date`` is when the item was published; ``start``/``end`` are set for events. All datetimes are
    timezone-aware. For an all-day event ``start`` and ``end`` are midnight of the first and last day
    (``end`` inclusive), in the source's time zone.
    """

    uid: str
    source: str
    title: str
    url: str | None = None
    date: datetime | None = None
    summary: str = ""
    image: str | None = None
    place: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    all_day: bool = False
    also_in: tuple[Copy, ...] = ()  # near-duplicates from other sources, left out in favour of this copy
    pinned: bool = False  # named in the issue file's pin or featured list
    image_alt: str = ""  # what the picture shows, when it says more than the title (a contributed photo)
    audience: Audience = "all"  # "members": in the members' edition only (its source, section or the team said so)
    member: str = ""  # the member authority whose own site published it (a member-sites source)
    why: tuple[str, ...] = ()  # the topics that made a member site's article a proposal
    proposed: bool = False  # a proposal: it waits for the team's click, outside the letter

    def as_member_news(self) -> Item:
        """The item as the letter shows a member's article: « Ville de Nancy — title », no longer a proposal."""
        title = f"{self.member} — {self.title}" if self.member and not self.title.startswith(self.member) else \
            self.title
        return replace(self, title=title, proposed=False)


@dataclass(frozen=True)
class Problem:
    """A warning about one source or one step: the build goes on without the part it names."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True)
class Link:
    """A titled link, such as the footer's resource links."""

    title: str
    url: str


@dataclass(frozen=True)
class Section:
    """A block of the letter: its heading and the items selected for it, in order."""

    id: str
    title: str
    kind: SectionKind
    items: tuple[Item, ...]
    default_image: str | None = None


@dataclass(frozen=True)
class Look:
    """The letter's colours and logo as the stock template shows them; the defaults are the stock letter's."""

    header: str = "#16365f"  # the header and footer band, and the items' titles
    accent: str = "#e0592a"  # section headings
    link: str = "#1b4f8f"
    button: str = "#1b4f8f"
    accent_dark: str = "#f08a5d"  # in dark mode
    link_dark: str = "#8ab8f0"
    logo: str = ""  # the logo's address as the letter shows it; "" for none (the title in text)
    logo_dark: str = ""  # for dark mode
    logo_alt: str = ""
    logo_width: int = 0  # shown size in px (height 0: unknown, a remote logo)
    logo_height: int = 0


@dataclass(frozen=True)
class Letter:
    """One issue of the letter, ready to render."""

    title: str
    date: date
    language: str
    sections: tuple[Section, ...]
    base_url: str
    unsubscribe_url: str
    sender: str
    address: str
    timezone: str
    web_url: str
    footer_links: tuple[Link, ...] = ()
    subject: str = ""
    preheader: str = ""
    featured: tuple[Item, ...] = ()  # the "À la une" block, above the sections
    editorial_title: str = ""
    editorial_html: str = ""  # sanitized HTML of the issue file's Markdown editorial
    editorial_text: str = ""
    look: Look = Look()

    members_edition: bool = False  # this is the members' edition (its web link: the public edition's)

    @property
    def items(self) -> tuple[Item, ...]:
        """Every item of the letter: the featured block first, then section after section."""
        return self.featured + tuple(item for section in self.sections for item in section.items)

    @property
    def for_members(self) -> tuple[Item, ...]:
        """The items for members only: with any, the letter has two editions."""
        return tuple(item for item in self.items if item.audience == "members")

    def public(self) -> Letter:
        """The public edition: the letter without its members-only items (a section left empty goes)."""
        sections = tuple(replace(s, items=tuple(i for i in s.items if i.audience != "members")) for s in self.sections)
        return replace(self, featured=tuple(i for i in self.featured if i.audience != "members"),
                       sections=tuple(s for s in sections if s.items), members_edition=False)

    def members(self) -> Letter:
        """The members' edition: every item."""
        return replace(self, members_edition=True)


@dataclass(frozen=True)
class Rendered:
    """What the renderer produces for one letter: the finished HTML, its text twin and the MJML."""

    html: str
    text: str
    mjml: str
    subject: str
    preheader: str


@dataclass(frozen=True)
class Collected:
    """What collecting one source gave: its items and the problems met on the way."""

    source: str
    items: tuple[Item, ...] = ()
    problems: tuple[Problem, ...] = ()
    failed: bool = False
    seconds: float = 0.0
    origin: str = ""  # how it was read: "file", "HTTP 200", "HTTP 304", "cache, 3 days ago", "failed"


@dataclass(frozen=True)
class History:
    """The uids and urls of every item sent in letters dated before this one (raw; the selector compares)."""

    uids: frozenset[str] = frozenset()
    urls: frozenset[str] = frozenset()
    letters: tuple[date, ...] = ()
    problems: tuple[Problem, ...] = ()
    sent_on: Mapping[str, date] = field(default_factory=dict)  # each uid and url: the letter that sent it
