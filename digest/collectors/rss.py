"""RSS 0.9x/1.0/2.0 and Atom feeds, through feedparser, from bytes the project fetched itself.

Plain RSS 2.0 in UTF-8 (SPIP's backend) is read by rss_fast, into the same entries feedparser would give.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import lxml.html
from lxml import etree

from digest.collectors import rss_fast
from digest.collectors.base import Context, Fetched, hashed_uid, unreadable
from digest.config import SourceConfig
from digest.errors import SourceError
from digest.i18n import _
from digest.model import Collected, Item, Problem
from digest.text import fold, forbidden_in, html_to_text, removed_note, safe_url, teaser


def collect(source: SourceConfig, fetched: Fetched, ctx: Context) -> Collected:
    """Every entry of a feed as an Item; a feed with no entry at all is a failure."""
    local = fetched.url.startswith("file:")  # a local file's path is no base for the feed's relative links
    fast = rss_fast.entries(fetched.body, fetched.content_type, None if local else fetched.url)
    if fast is not None:  # plain RSS 2.0 in UTF-8, read the way feedparser reads it, ten times faster
        link, entries = fast
        return _items(source, ctx, entries, (link if local else fetched.url) or fetched.url, [],
                      lambda: _("the feed holds no entry"))
    import feedparser  # loaded only for a feed the fast reading does not take

    headers = {"content-type": fetched.content_type or "application/xml"}
    if not local:
        headers["content-location"] = fetched.url
    # feedparser's own sanitizer and URI resolver re-parse every HTML field and take half of its time; no
    # markup from a feed ever reaches the letter (html_to_text keeps only text) and links are made absolute
    # and checked by safe_url, so both are switched off.
    parsed = feedparser.parse(fetched.body, response_headers=headers, sanitize_html=False,
                              resolve_relative_uris=False)
    if not parsed.entries:
        raise SourceError(_why_empty(parsed, fetched))
    problems: list[Problem] = []
    if parsed.get("bozo"):
        problems.append(Problem(source.name, _("feed is malformed, read what could be: {reason}").format(
                                                 reason=_reason(parsed))))
    return _items(source, ctx, parsed.entries, parsed.feed.get("link") or fetched.url, problems,
                  lambda: _why_empty(parsed, fetched))


def _items(source: SourceConfig, ctx: Context, entries: list[Any], base: str, problems: list[Problem],
           why_empty: Callable[[], str]) -> Collected:
    items = []
    for number, entry in enumerate(entries, 1):
        try:
            item = _item(entry, source, ctx, base)
        except Exception as exc:  # digest's own failure on one entry: that entry is lost, not the feed
            problems.append(Problem(source.name, unreadable(_("entry #{number}").format(number=number), exc)))
            continue
        if item is None:
            problems.append(Problem(source.name, _("entry #{number} has no title; skipped").format(number=number)))
            continue
        items.append(item)
        removed = forbidden_in([entry.get(k) for k in ("title", "summary", "content", "dc_coverage", "where_name")])
        if removed:  # already gone from the item (html_to_text and fold remove them): said here, naming it
            problems.append(Problem(source.name, removed_note(_("entry #{number} « {title} »").format(
                                                                  number=number, title=item.title), removed)))
    if not items:
        raise SourceError(why_empty())
    return Collected(source.name, tuple(items), tuple(problems))


def _why_empty(parsed: Any, fetched: Fetched) -> str:
    if not fetched.body.strip():
        return _("the body is empty")
    head = fetched.body[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return _("got an HTML page, not a feed; check the url")
    if parsed.get("bozo"):
        return _("invalid XML, not a readable feed: {reason}").format(reason=_reason(parsed))
    if not parsed.get("version"):
        return _("XML, but not an RSS or Atom feed; check the url")
    return _("the feed holds no entry")


def _reason(parsed: Any) -> str:
    exc = parsed.get("bozo_exception")
    return fold(str(exc)) if exc else _("unknown error")


def _item(entry: Mapping[str, Any], source: SourceConfig, ctx: Context, base: str) -> Item | None:
    title = html_to_text(entry.get("title", ""))
    if not title:
        return None
    url = safe_url(entry.get("link"), base)
    summary_html = entry.get("summary", "")
    if not summary_html and entry.get("content"):
        summary_html = entry["content"][0].get("value", "")
    uid = fold(entry.get("id") or "") or entry.get("link") or hashed_uid(title, summary_html)
    return Item(
        uid=uid,
        source=source.name,
        title=title,
        url=url,
        date=_date(entry),
        summary=teaser(html_to_text(summary_html), ctx.teaser_length),
        image=_image(entry, url or base),
        place=fold(_string(entry.get("dc_coverage")) or _string(entry.get("where_name"))) or None,
    )


def _date(entry: Mapping[str, Any]) -> datetime | None:
    """Published, else updated (SPIP's dc:date lands in updated_parsed), as UTC."""
    stamp: time.struct_time | None = entry.get("published_parsed") or entry.get("updated_parsed")
    if stamp is None:
        return None
    return datetime.fromtimestamp(calendar.timegm(stamp), UTC)


def _image(entry: Mapping[str, Any], base: str) -> str | None:
    """SPIP's logo in the content, else media:thumbnail / media:content, else an image enclosure."""
    candidates: list[str | None] = []
    for content in entry.get("content", []):
        candidates.append(_spip_logo(content.get("value", "")))
    candidates += [t.get("url") for t in entry.get("media_thumbnail", [])]
    candidates += [m.get("url") for m in entry.get("media_content", [])
                   if m.get("medium") == "image" or str(m.get("type", "")).startswith("image/")]
    candidates += [link.get("href") for link in entry.get("links", [])
                   if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/")]
    for candidate in candidates:
        url = safe_url(candidate, base)
        if url:
            return url
    return None


# An <img> tag whose attributes mention spip_logo: only that tag is parsed, not the whole article.
SPIP_LOGO_TAG = re.compile(r"<img\b[^>]*spip_logo[^>]*>", re.IGNORECASE)


def _spip_logo(markup: str) -> str | None:
    tag = SPIP_LOGO_TAG.search(markup)
    if tag is None:
        return None
    try:
        root = lxml.html.fragment_fromstring(tag.group(0), create_parent="div")
    except (etree.ParserError, ValueError):
        return None
    for img in root.iter("img"):
        if any(c.startswith("spip_logo") for c in (img.get("class") or "").split()):
            return str(img.get("src") or "") or None
    return None


def _string(value: object) -> str:
    """A field's text, or "" when feedparser gives something else (for <dc:coverage xml:lang="fr">, a mapping
    of the element's attributes): one odd element must not lose the whole source."""
    return value if isinstance(value, str) else ""
