"""JSON data files: an array of objects with the documented columns; a JSON Feed goes to its own reader."""

from __future__ import annotations

import json

from digest.collectors import jsonfeed
from digest.collectors.base import Context, Fetched
from digest.collectors.records import collect_records, with_unknown_columns
from digest.config import SourceConfig
from digest.errors import SourceError
from digest.model import Collected


def collect(source: SourceConfig, fetched: Fetched, ctx: Context) -> Collected:
    """Every object of the JSON array as an Item."""
    try:
        data = json.loads(fetched.body.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise SourceError(f"not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise SourceError(f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if jsonfeed.is_json_feed(data):
        return jsonfeed.collect_feed(data, source, fetched.url, ctx)
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        data = data["items"]
    if not isinstance(data, list):
        raise SourceError("expected an array of objects, [{\"title\": ...}, ...]")
    rows = []
    for number, row in enumerate(data, 1):
        if not isinstance(row, dict):
            raise SourceError(f"element #{number} is not an object")
        rows.append((f"element #{number}", row))
    return with_unknown_columns(collect_records(rows, source, ctx), [r for _, r in rows], source)

