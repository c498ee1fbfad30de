"""TOML data files: an array of tables, [[item]], with the documented columns."""

from __future__ import annotations

import tomllib

from digest.collectors.base import Context, Fetched
from digest.collectors.records import collect_records, with_unknown_columns
from digest.config import SourceConfig
from digest.errors import SourceError
from digest.i18n import _
from digest.model import Collected


def collect(source: SourceConfig, fetched: Fetched, ctx: Context) -> Collected:
    """Every [[item]] table of the file as an Item."""
    try:
        data = tomllib.loads(fetched.body.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise SourceError(_("not UTF-8 (byte {start})").format(start=exc.start)) from None
    except tomllib.TOMLDecodeError as exc:
        raise SourceError(_("not valid TOML: {exc}").format(exc=exc)) from None
    tables = data.get("item")
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise SourceError(_("expected an array of tables written [[item]]"))
    collected = collect_records([(f"[[item]] #{n}", t) for n, t in enumerate(tables, 1)], source, ctx)
    return with_unknown_columns(collected, tables, source)
