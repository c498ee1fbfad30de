"""Collectors: one module per format, each a function from a source's fetched bytes to Items."""

from __future__ import annotations

import time
from collections.abc import Callable

from digest.collectors import csvfile, ics, jsonfile, rss, tomlfile
from digest.collectors.base import Context, Fetched
from digest.collectors.fetch import fetch
from digest.config import SourceConfig
from digest.errors import SourceError
from digest.model import Collected, Problem

Collector = Callable[[SourceConfig, Fetched, Context], Collected]

COLLECTORS: dict[str, Collector] = {
    "rss": rss.collect,
    "csv": csvfile.collect,
    "json": jsonfile.collect,
    "toml": tomlfile.collect,
    "ics": ics.collect,
}


def collect(source: SourceConfig, ctx: Context, fetcher: Callable[[SourceConfig], Fetched] = fetch) -> Collected:
    """Read one source; a failure becomes a Collected with failed=True and a problem saying why."""
    began = time.perf_counter()
    try:
        collected = COLLECTORS[source.format](source, fetcher(source), ctx)
    except SourceError as exc:
        collected = Collected(source.name, (), (Problem(source.name, str(exc)),), failed=True)
    except Exception as exc:  # a collector bug or a library's surprise must not stop the whole letter
        message = f"unexpected error while reading ({type(exc).__name__}: {exc})"
        collected = Collected(source.name, (), (Problem(source.name, message),), failed=True)
    return Collected(collected.source, collected.items, collected.problems, collected.failed,
                     time.perf_counter() - began)


def collect_all(sources: tuple[SourceConfig, ...], ctx: Context) -> list[Collected]:
    """Read every source, one result per source in config order."""
    return [collect(source, ctx) for source in sources]
