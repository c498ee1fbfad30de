"""The Atom feed of the published letters (RFC 4287, `feed.xml` beside the archive page): feed readers follow the
letter as the archive lists it. Written with lxml in the Atom namespace, so every value is escaped by the writer.

One entry per published letter, newest first, at most MAX_ENTRIES: its subject, the time its list send began (else
when it was built), its web version, a summary (the preheader and the headlines) and its text version without the
per-subscriber unsubscribe line. Ids are the web versions' addresses: stable across rebuilds and publishes.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from lxml import etree

from digest.text import xml_safe

if TYPE_CHECKING:
    from digest.config import Config
    from digest.letterfolder import LetterState

ATOM = "http://www.w3.org/2005/Atom"
MAX_ENTRIES = 20
FILE = "feed.xml"


@dataclass(frozen=True)
class Entry:
    """One published letter, as the feed shows it."""

    path: str  # the web version, relative to base_url ("2026-12-18/letter.html")
    subject: str
    updated: datetime  # when its list send began, else when it was built (aware)
    preheader: str
    headlines: tuple[str, ...]
    text: str  # the text version, per-subscriber lines left out


def for_letters(cfg: Config, states: Sequence[LetterState], dest: Path, days: Collection[str]) -> bytes:
    """The feed of the letters DEST will hold: those of `days`, published now, and those published before."""
    held = {*days, *(p.name for p in dest.iterdir())} if dest.is_dir() else set(days)
    entries = []
    for state in states:
        if state.day.isoformat() not in held:
            continue
        letter = state.letter
        sent = datetime.fromisoformat(state.sent_at) if state.sent_at else letter.built
        text = "\n".join(line for line in letter.text.splitlines() if letter.unsubscribe_url not in line)
        entries.append(Entry(f"{state.day.isoformat()}/letter.html", letter.subject, sent.astimezone(UTC),
                             letter.preheader, letter.headlines, text))
    return feed_xml(entries, cfg.letter.title, cfg.letter.base_url, cfg.letter.language)


def feed_xml(entries: Sequence[Entry], title: str, base_url: str, language: str) -> bytes:
    """The Atom document of the newest MAX_ENTRIES entries (newest first)."""
    newest = sorted(entries, key=lambda e: e.updated, reverse=True)[:MAX_ENTRIES]
    root = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    root.set("{http://www.w3.org/XML/1998/namespace}lang", language)
    _text(root, "title", title)
    _text(root, "id", base_url)
    _link(root, urljoin(base_url, FILE), "self", "application/atom+xml")
    _link(root, base_url, "alternate", "text/html")
    _text(root, "updated", (newest[0].updated if newest else datetime.fromtimestamp(0).astimezone()).isoformat())
    _text(etree.SubElement(root, f"{{{ATOM}}}author"), "name", title)
    for entry in newest:
        _entry(root, entry, base_url)
    written: bytes = etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)
    return written


def _entry(root: etree._Element, entry: Entry, base_url: str) -> None:
    node = etree.SubElement(root, f"{{{ATOM}}}entry")
    url = urljoin(base_url, entry.path)
    _text(node, "title", entry.subject)
    _text(node, "id", url)
    _link(node, url, "alternate", "text/html")
    _text(node, "updated", entry.updated.isoformat())
    # The headlines the preheader does not already give (a letter's default preheader is its first headlines).
    headlines = [h for h in entry.headlines if h and h not in entry.preheader]
    summary = " · ".join(part for part in (entry.preheader, *headlines) if part)
    _text(node, "summary", summary)
    _text(node, "content", entry.text).set("type", "text")


def _text(parent: etree._Element, name: str, value: str) -> etree._Element:
    node = etree.SubElement(parent, f"{{{ATOM}}}{name}")
    node.text = xml_safe(value)  # a character XML cannot carry would make lxml refuse the whole feed
    return node


def _link(parent: etree._Element, href: str, rel: str, kind: str) -> None:
    etree.SubElement(parent, f"{{{ATOM}}}link", href=href, rel=rel, type=kind)
