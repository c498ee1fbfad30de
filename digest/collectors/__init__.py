"""Collectors: one module per format, each a function from a source's fetched bytes to Items.

Which module reads which format, and which extensions imply it, is declared once in digest.collectors.formats.
This package's start imports no collector and no web machinery: sources.toml is checked against the formats
without loading a parser (start-up time is part of every command).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from digest.collectors.base import Context, Fetched
from digest.collectors.formats import BY_NAME
from digest.config import FetchConfig, MemberSitesConfig, SourceConfig
from digest.errors import SourceError
from digest.i18n import _
from digest.model import Collected, Problem

__all__ = ["collect", "collect_all", "collector"]

Collector = Callable[[SourceConfig, Fetched, Context], Collected]


def collector(fmt: str) -> Collector:
    """The function that reads a source of format `fmt`, its module imported now (a letter without a calendar
    never loads icalendar)."""
    module = importlib.import_module(f"{__name__}.{BY_NAME[fmt].module}")
    function: Collector = module.collect
    return function


def collect(source: SourceConfig, ctx: Context, fetcher: Callable[[SourceConfig], Fetched] | None = None
            ) -> Collected:
    """Read one source (by default its file or address, fetched alone); a failure becomes a Collected with
    failed=True and a problem saying why."""
    if fetcher is None:
        from digest.collectors.fetch import fetch

        fetcher = fetch
    began = time.perf_counter()
    try:
        collected = collector(source.format)(source, fetcher(source), ctx)
    except SourceError as exc:
        collected = Collected(source.name, (), (Problem(source.name, str(exc)),), failed=True)
    except Exception as exc:  # a collector bug or a library's surprise must not stop the whole letter
        message = _("digest could not read this source: it failed on something in it ({name}: {exc})").format(
                      name=type(exc).__name__, exc=exc)
        collected = Collected(source.name, (), (Problem(source.name, message),), failed=True)
    return replace(collected, seconds=time.perf_counter() - began)


def collect_file(source: SourceConfig, ctx: Context) -> Collected:
    """Read a local source file (a module-level function, so a worker process can run it)."""
    from digest.collectors.fetch import read_file

    return collect(source, ctx, lambda _source: read_file(Path(source.location)))


def collect_body(source: SourceConfig, ctx: Context, body: bytes, url: str, content_type: str | None) -> Collected:
    """Read a web source's body (a module-level function, so a worker process can run it)."""
    from digest.collectors.fetch import fetched_from

    return collect(source, ctx, lambda _source: fetched_from(body, url, content_type, source))


def collect_all(sources: tuple[SourceConfig, ...], ctx: Context, fetch: FetchConfig | None = None,
                on_source: Callable[[Collected], None] | None = None, *, offline: bool = False,
                record_health: bool = True, backoff: float | None = None,
                member_sites: MemberSitesConfig | None = None) -> list[Collected]:
    """Read every source at once (web ones concurrently, as the [fetch] table says), one result per source in
    config order.

    With `fetch.cache_dir` set, each web source's last good body is kept there and used when it fails, and each
    source's health is recorded (unless `record_health` is off: a dry build); `offline` reads web sources from
    that cache alone; `backoff` is the wait before a first retry (fetch.BACKOFF); on_source hears of each source
    as it completes; `member_sites` says how a `member-sites` source scores its members' articles.
    """
    from digest.collectors.run import collect_sources  # the web machinery, loaded when collecting

    return collect_sources(sources, ctx, fetch or FetchConfig(), on_source, offline=offline,
                           record_health=record_health, backoff=backoff, member_sites=member_sites)
