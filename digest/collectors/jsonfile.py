"""JSON data files: an array of objects with the documented columns; a JSON Feed goes to its own reader."""

from __future__ import annotations

import json

from digest.collectors import jsonfeed
from digest.collectors.base import Context, Fetched
from digest.collectors.records import collect_records, with_unknown_columns
from digest.config import SourceConfig
from digest.errors import SourceError
from digest.i18n import _
from digest.model import Collected


def collect(source: SourceConfig, fetched: Fetched, ctx: Context) -> Collected:
    """Every object of the JSON array as an Item."""
    try:
        data = json.loads(fetched.body.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise SourceError(_("not UTF-8 (byte {start})").format(start=exc.start)) from None
    except json.JSONDecodeError as exc:
        raise SourceError(_("not valid JSON at line {lineno}, column {colno}: {msg}").format(
                              lineno=exc.lineno, colno=exc.colno, msg=exc.msg)) from None
    if jsonfeed.is_json_feed(data):
        return jsonfeed.collect_feed(data, source, fetched.url, ctx)
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        data = data["items"]
    if not isinstance(data, list):
        raise SourceError(_('expected an array of objects, [{"title": ...}, ...]'))
    rows = []
    for number, row in enumerate(data, 1):
        if not isinstance(row, dict):
            raise SourceError(_("element #{number} is not an object").format(number=number))
        rows.append((f"element #{number}", row))
    return with_unknown_columns(collect_records(rows, source, ctx), [r for _, r in rows], source)

