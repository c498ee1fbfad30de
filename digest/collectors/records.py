"""Rows of the data files a team keeps by hand (CSV, JSON, TOML), turned into Items.

Columns: title (required), url, date, summary, image, place, start, end, uid. Dates are ISO 8601
(2025-11-19, 2025-11-19T10:00) or French style (19/11/2025, 19/11/2025 10:00).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from digest.collectors.base import Context, hashed_uid, unreadable
from digest.config import SourceConfig
from digest.dates import has_time, parse_date
from digest.i18n import _
from digest.model import Audience, Collected, Item, Problem
from digest.text import fold, forbidden_in, html_to_text, made_safe, removed_note, safe_url, teaser

COLUMNS = ("uid", "title", "url", "date", "summary", "image", "image_alt", "place", "start", "end", "audience")
MEMBERS = ("members", "adherents", "adhérents")  # what an `audience` column says of an item for members only


def item_from_record(record: Mapping[str, Any], source_name: str, ctx: Context) -> Item:
    """One row of the source named `source_name` as an Item; raises ValueError naming the column at fault."""
    values = {key.strip().lower(): value for key, value in record.items() if isinstance(key, str)}
    title = html_to_text(_text(values.get("title")))
    if not title:
        raise ValueError(_("the title is empty"))
    url = _link(values, "url")
    date = _when(values, "date", ctx)
    start = _when(values, "start", ctx)
    end = _when(values, "end", ctx)
    all_day = start is not None and not has_time(values.get("start"))
    if start and end and end < start:
        raise ValueError(_("end is before start"))
    if start and end is None and all_day:
        end = start  # an all-day end written by hand is the last day: inclusive, as Item wants
    summary = teaser(html_to_text(_text(values.get("summary"))), ctx.teaser_length)
    uid = _text(values.get("uid")) or url or hashed_uid(title, str(date or start or ""))
    return Item(
        uid=uid, source=source_name, title=title, url=url, date=date, summary=summary,
        image=(image := _link(values, "image")), place=fold(_text(values.get("place"))) or None,
        start=start, end=end, all_day=all_day,
        image_alt=fold(html_to_text(_text(values.get("image_alt"))))[:300] if image else "",
        audience=_audience(values),
    )


def _audience(values: Mapping[str, Any]) -> Audience:
    """"members" (or "adhérents") keeps the item for the members' edition; empty or "all" is for every reader."""
    said = _text(values.get("audience")).strip().lower()
    if said in MEMBERS:
        return "members"
    if said in ("", "all", "tous"):
        return "all"
    raise ValueError(_("audience {given!r}: write members (for members only) or all").format(given=said))


def collect_records(
    rows: Iterable[tuple[str, Mapping[str, Any]]], source: SourceConfig, ctx: Context
) -> Collected:
    """Items from (where, row) pairs: a bad row is a named warning and the good rows are kept."""
    items: list[Item] = []
    problems: list[Problem] = []
    for where, row in rows:
        removed = forbidden_in(row)
        try:
            item = item_from_record(made_safe(row) if removed else row, source.name, ctx)
        except ValueError as exc:
            problems.append(Problem(source.name, _("{where}: {exc}; row skipped").format(where=where, exc=exc)))
            continue
        except Exception as exc:  # digest's own failure on one row: that row is lost, not the source
            problems.append(Problem(source.name, unreadable(where, exc)))
            continue
        items.append(item)
        if removed:
            problems.append(Problem(source.name, removed_note(f"{where} « {item.title} »", removed)))
    return Collected(source.name, tuple(items), tuple(problems))


def unknown_columns(names: Iterable[str]) -> list[str]:
    """Column names that digest does not read (a typo in a header loses a whole column)."""
    return [n for n in names if n and n.strip().lower() not in COLUMNS]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        kind = {list: _("a list"), dict: _("a table"), bool: _("true or false")}.get(type(value), _("something else"))
        raise ValueError(_("expected text, got {kind}").format(kind=kind))
    return str(value).strip()


def _link(values: Mapping[str, Any], column: str) -> str | None:
    raw = _text(values.get(column))
    if not raw:
        return None
    url = safe_url(raw)
    if url is None:
        raise ValueError(_("{column} {raw!r} is not an absolute http(s) address").format(column=column, raw=raw))
    return url


def _when(values: Mapping[str, Any], column: str, ctx: Context) -> datetime | None:
    raw = values.get(column)
    if raw is None or raw == "":
        return None
    try:
        return parse_date(raw, ctx.tz)
    except ValueError as exc:
        raise ValueError(f"{column}: {exc}") from None


def with_unknown_columns(collected: Collected, rows: Iterable[Mapping[str, Any]], source: SourceConfig) -> Collected:
    """The rows' keys that digest does not read, one warning each (as the CSV reader warns of its columns)."""
    keys = [k for k in dict.fromkeys(k for row in rows for k in row) if isinstance(k, str)]
    found = tuple(Problem(source.name, _("key '{key}' is not one digest reads; ignored").format(
        key=k)) for k in unknown_columns(keys))
    return Collected(collected.source, collected.items, (*found, *collected.problems))
