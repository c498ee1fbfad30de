"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1): a feed format many sites publish beside RSS.

A .json source whose top-level `version` starts with "https://jsonfeed.org/version/" is read here rather than as a
data file: `items` with `id`, `url`, `title`, `content_html` / `content_text`, `summary`, `image`,
`date_published`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from digest.collectors.base import Context, hashed_uid, unreadable
from digest.config import SourceConfig
from digest.dates import parse_date
from digest.errors import SourceError
from digest.i18n import _
from digest.model import Collected, Item, Problem
from digest.text import fold, forbidden_in, html_to_text, made_safe, removed_note, safe_url, teaser

VERSION_PREFIX = "https://jsonfeed.org/version/"
TITLE_FROM_TEXT = 80  # an item without a title (a micro-blog post) is titled by the start of its text


def is_json_feed(data: object) -> bool:
    """Whether parsed JSON is a JSON Feed: an object whose `version` is the spec's URL."""
    return isinstance(data, dict) and str(data.get("version", "")).startswith(VERSION_PREFIX)


def collect_feed(data: Mapping[str, Any], source: SourceConfig, base: str, ctx: Context) -> Collected:
    """Every item of the feed; an item that cannot be read is a warning naming it."""
    entries = data.get("items")
    if not isinstance(entries, list):
        raise SourceError(_('a JSON Feed without an "items" array'))
    home = data.get("home_page_url") if isinstance(data.get("home_page_url"), str) else None
    items: list[Item] = []
    problems: list[Problem] = []
    for number, entry in enumerate(entries, 1):
        removed = forbidden_in(entry)
        try:
            if not isinstance(entry, dict):
                raise ValueError(_("not an object"))
            item = _item(made_safe(entry) if removed else entry, source, home or base, ctx)
        except ValueError as exc:
            problems.append(Problem(source.name, _("item #{number}: {exc}; item skipped").format(
                number=number, exc=exc)))
            continue
        except Exception as exc:  # digest's own failure on one item: that item is lost, not the source
            problems.append(Problem(source.name, unreadable(_("item #{number}").format(number=number), exc)))
            continue
        items.append(item)
        if removed:
            problems.append(Problem(source.name, removed_note(_("item #{number} « {title} »").format(
                                                                  number=number, title=item.title), removed)))
    return Collected(source.name, tuple(items), tuple(problems))


def _item(entry: Mapping[str, Any], source: SourceConfig, base: str, ctx: Context) -> Item:
    text = _text(entry, "content_text") or html_to_text(_text(entry, "content_html"))
    title = html_to_text(_text(entry, "title")) or teaser(text, TITLE_FROM_TEXT)
    if not title:
        raise ValueError(_("no title and no text"))
    url = safe_url(_text(entry, "url") or _text(entry, "external_url") or None, base)
    raw_date = _text(entry, "date_published") or _text(entry, "date_modified")
    try:
        date = parse_date(raw_date, ctx.tz) if raw_date else None
    except ValueError:
        raise ValueError(_("date {raw_date!r} is not an RFC 3339 date such as 2025-11-19T10:00:00+01:00").format(
                             raw_date=raw_date)) from None
    summary = html_to_text(_text(entry, "summary")) or text
    return Item(
        uid=_text(entry, "id") or url or hashed_uid(title, raw_date), source=source.name, title=title, url=url,
        date=date, summary=teaser(fold(summary), ctx.teaser_length),
        image=safe_url(_text(entry, "image") or _text(entry, "banner_image") or None, base),
    )


def _text(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    if value is None:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError(_("{key}: expected text").format(key=key))
    return str(value).strip()
