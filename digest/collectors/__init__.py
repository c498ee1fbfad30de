"""Collectors: one module per format, each a function from a source's fetched bytes to Items."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from digest.collectors.base import Context, Fetched
from digest.collectors.fetch import FetchSettings, fetch, fetched_from, read_file, settings_for
from digest.config import SourceConfig
from digest.errors import SourceError
from digest.model import Collected, Problem

__all__ = ["MODULES", "FetchSettings", "collect", "collect_all", "collector", "settings_for"]

Collector = Callable[[SourceConfig, Fetched, Context], Collected]

# Each format's module in this package. A module is imported when a source of its format is read, so a letter
# without a calendar never loads icalendar (start-up time is part of every command).
MODULES = {"rss": "rss", "csv": "csvfile", "json": "jsonfile", "toml": "tomlfile", "ics": "ics"}


def collector(fmt: str) -> Collector:
    """The function that reads a source of format `fmt` (config.FORMATS)."""
    module = importlib.import_module(f"{__name__}.{MODULES[fmt]}")
    function: Collector = module.collect
    return function


def collect(source: SourceConfig, ctx: Context, fetcher: Callable[[SourceConfig], Fetched] = fetch) -> Collected:
    """Read one source; a failure becomes a Collected with failed=True and a problem saying why."""
    began = time.perf_counter()
    try:
        collected = collector(source.format)(source, fetcher(source), ctx)
    except SourceError as exc:
        collected = Collected(source.name, (), (Problem(source.name, str(exc)),), failed=True)
    except Exception as exc:  # a collector bug or a library's surprise must not stop the whole letter
        message = f"digest could not read this source: it failed on something in it ({type(exc).__name__}: {exc})"
        collected = Collected(source.name, (), (Problem(source.name, message),), failed=True)
    return replace(collected, seconds=time.perf_counter() - began)


def collect_file(source: SourceConfig, ctx: Context) -> Collected:
    """Read a local source file (a module-level function, so a worker process can run it)."""
    return collect(source, ctx, lambda _source: read_file(Path(source.location)))


def collect_body(source: SourceConfig, ctx: Context, body: bytes, url: str, content_type: str | None) -> Collected:
    """Read a web source's body (a module-level function, so a worker process can run it)."""
    return collect(source, ctx, lambda _source: fetched_from(body, url, content_type, source))


def collect_all(sources: tuple[SourceConfig, ...], ctx: Context, settings: FetchSettings | None = None,
                on_source: Callable[[Collected], None] | None = None) -> list[Collected]:
    """Read every source at once (web ones concurrently), one result per source in config order.

    With `settings.cache_dir` set, each web source's last good body is kept there and used when it fails,
    and each source's health is recorded (unless `settings.record_health` is off); on_source hears of each
    source as it completes.
    """
    from digest.collectors.run import collect_sources  # the web machinery, loaded when collecting

    return collect_sources(sources, ctx, settings or FetchSettings(), on_source)
