"""Sitemaps (sitemaps.org), for a site that publishes no feed: each page listed becomes an item.

A Google News sitemap gives each page's title and date; a plain one only its address and last change, so the
title is made from the address's last words (« /actualites/jumelage-avec-kaolack » → « Jumelage avec kaolack »).
Only the newest MAX_ENTRIES pages are read. A sitemap index (a list of sitemaps) is not read here: digest's
discovery (digest.collectors.discovery) picks the sitemap of the index that changed last.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from lxml import etree

from digest.collectors.base import Context, Fetched, hashed_uid
from digest.config import SourceConfig
from digest.errors import SourceError
from digest.i18n import _
from digest.model import Collected, Item
from digest.text import fold, safe_url

MAX_ENTRIES = 200
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"
IMAGE = "{http://www.google.com/schemas/sitemap-image/1.1}"
# An address's last part that says nothing: a number, an id, "index".
MEANINGLESS = re.compile(r"^(\d+|[a-z]{0,8}\d+|index|default|page|article)$")


def parser() -> etree.XMLParser:
    """An XML parser that fetches nothing and expands no entity (a sitemap is a stranger's file)."""
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)


def root_of(body: bytes) -> etree._Element:
    """The sitemap's root element; SourceError when it is not XML."""
    try:
        return etree.fromstring(body, parser())
    except etree.XMLSyntaxError as exc:
        raise SourceError(_("invalid XML, not a readable sitemap: {reason}").format(reason=fold(str(exc)))) from None


def children(root: etree._Element) -> Iterator[tuple[str, str]]:
    """A sitemap index's sitemaps: (address, last change)."""
    for entry in root.iter(f"{SM}sitemap"):
        yield (entry.findtext(f"{SM}loc") or "").strip(), (entry.findtext(f"{SM}lastmod") or "").strip()


def collect(source: SourceConfig, fetched: Fetched, ctx: Context) -> Collected:
    """The newest pages of a sitemap as items."""
    root = root_of(fetched.body)
    if root.tag == f"{SM}sitemapindex":
        raise SourceError(_("a sitemap index, not a sitemap: give the address of one of its sitemaps"))
    if root.tag != f"{SM}urlset":
        raise SourceError(_("XML, but not a sitemap; check the url"))
    items = [item for entry in root.iter(f"{SM}url") if (item := _item(entry, source, fetched.url)) is not None]
    if not items:
        raise SourceError(_("the sitemap lists no page digest can read"))
    items.sort(key=lambda i: i.date or datetime.min.replace(tzinfo=UTC), reverse=True)
    return Collected(source.name, tuple(items[:MAX_ENTRIES]), ())


def _item(entry: etree._Element, source: SourceConfig, base: str) -> Item | None:
    url = safe_url((entry.findtext(f"{SM}loc") or "").strip(), base)
    if url is None:
        return None
    news = entry.find(f"{NEWS}news")
    title = fold(news.findtext(f"{NEWS}title") or "") if news is not None else ""
    stamp = (news.findtext(f"{NEWS}publication_date") if news is not None else None) or entry.findtext(f"{SM}lastmod")
    title = title or title_from(url)
    if not title:
        return None
    image = safe_url((entry.findtext(f"{IMAGE}image/{IMAGE}loc") or "").strip(), url)
    return Item(uid=url or hashed_uid(title), source=source.name, title=title, url=url, date=parse_date(stamp),
                image=image)


def title_from(url: str) -> str:
    """A title made from an address's last meaningful part; '' when it has none."""
    for part in reversed([p for p in urlsplit(url).path.split("/") if p]):
        words = unquote(re.sub(r"\.(html?|php|aspx?)$", "", part, flags=re.IGNORECASE))
        words = re.sub(r"^\d+[-_]", "", words)  # « 1234-jumelage » : SPIP's and Joomla's numbers
        if MEANINGLESS.match(words.lower()) or not re.search(r"[^\W\d_]{3}", words):
            continue
        text = fold(re.sub(r"[-_+]+", " ", words))
        return text[:1].upper() + text[1:]
    return ""


def parse_date(stamp: str | None) -> datetime | None:
    """A W3C date (2026-11-05, 2026-11-05T10:00:00+01:00) as an aware datetime; None when absent or unreadable."""
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
