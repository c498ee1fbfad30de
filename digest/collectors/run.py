"""Collecting every source at once: web sources fetched concurrently, each body read by its collector as it
arrives, the last good copy used when a source fails, and each source's health recorded.

The event loop fetches (bounded by [fetch] concurrency and per_host) while one worker thread runs the collectors,
which are CPU-bound: more threads would only fight over the GIL and multiply the memory of big feeds being parsed. A new
body becomes the cached copy only once its collector read items from it; another thread writes the cache files.
An unchanged feed (304) reuses the items kept from its last reading: no parsing at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from digest.collectors import collect_body, collect_file, health
from digest.collectors.base import Context
from digest.collectors.cache import Cache, Entry, Pending, age, items_key
from digest.collectors.fetch import (
    BACKOFF,
    Clients,
    Download,
    FetchFailure,
    Progress,
    fetch_http,
    is_web,
    megabytes,
)
from digest.config import FetchConfig, MemberSitesConfig, SourceConfig
from digest.errors import DigestError, SourceError
from digest.i18n import _
from digest.model import Collected, Problem

OnSource = Callable[[Collected], None]
T = TypeVar("T")


class CacheError(DigestError):
    """The cache folder cannot be created or written."""


def collect_sources(sources: tuple[SourceConfig, ...], ctx: Context, settings: FetchConfig,
                    on_source: OnSource | None = None, *, offline: bool = False, record_health: bool = True,
                    backoff: float | None = None, member_sites: MemberSitesConfig | None = None) -> list[Collected]:
    """Read every source, one result per source in config order; on_source hears of each as it completes.

    `offline` reads web sources from the cache alone; `record_health` off (a dry build) counts no failure;
    `backoff` is the wait before a first retry (BACKOFF unless given).
    """
    with tempfile.TemporaryDirectory(prefix="digest-cache-") as scratch:
        folder = settings.cache_dir or Path(scratch)
        try:
            cache = Cache(folder)
        except OSError as exc:
            raise CacheError(_("cannot use the cache folder {folder}: {reason}; set [fetch] cache_dir in "
                               "sources.toml to a folder digest may write").format(
                                 folder=folder, reason=exc.strerror or exc)) from None
        run = _Run(sources, ctx, settings, cache, on_source, offline=offline,
                   backoff=BACKOFF if backoff is None else backoff, member_sites=member_sites,
                   record_health=record_health)
        results = asyncio.run(run.run())
        if settings.cache_dir is not None and record_health:
            _record_health(settings.cache_dir, sources, run.attempts)
    return results


def _record_health(folder: Path, sources: tuple[SourceConfig, ...], attempts: dict[str, health.Attempt]) -> None:
    names = {s.name for s in sources}
    records = health.update(health.load(folder), list(attempts.values()), datetime.now(UTC))
    try:
        health.save(folder, {name: r for name, r in records.items() if name in names})
    except OSError as exc:
        raise CacheError(_("cannot write {path}: {reason}").format(
                             path=folder / health.FILE, reason=exc.strerror or exc)) from None


class _Run:
    """One collection: its deadline, cache, parser thread and what each source gave."""

    def __init__(self, sources: tuple[SourceConfig, ...], ctx: Context, settings: FetchConfig, cache: Cache,
                 on_source: OnSource | None, *, offline: bool, backoff: float,
                 member_sites: MemberSitesConfig | None = None, record_health: bool = True) -> None:
        self.sources = sources
        self.ctx = ctx
        self.settings = settings
        self.offline = offline
        self.backoff = backoff
        self.cache = cache
        self.on_source = on_source
        self.member_sites = member_sites or MemberSitesConfig()
        self.record_health = record_health  # a dry build counts no failure of a member's site either
        self.progress = {s.name: Progress() for s in sources}
        self.attempts: dict[str, health.Attempt] = {}
        self.pending: list[Pending] = []
        self.entries: dict[str, Entry | None] = {}
        self.deadline_at = 0.0
        # A members file stands for many feeds: parsed like a large letter's.
        workers = parse_workers(len(sources) + MIN_SOURCES_FOR_PROCESSES * sum(
            s.format == "member-sites" for s in sources))
        # Parsing is CPU-bound (feedparser is pure Python): with many sources it runs in worker processes,
        # one per core, each parser thread below waiting on one of them. The pool comes first: it may fork,
        # which is safe only before this collection starts any thread.
        self.processes: Executor | None = _process_pool(workers) if workers > 1 else None
        self.parser = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="digest-collect")
        # Cache files are written by another thread, so that a slow disk never holds up the next parse.
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest-cache")
        self.writes: list[Future[Problem | None]] = []

    async def run(self) -> list[Collected]:
        """Every source's result; those still running at the deadline fall back on their cached copy."""
        self.deadline_at = time.monotonic() + self.settings.deadline
        self.ctx = replace(self.ctx, deadline_at=self.deadline_at)  # collectors stop reading there too
        began = time.perf_counter()
        clients = Clients(self.settings)
        web = [s for s in self.sources if is_web(s)]
        # Every cached copy's metadata, read in one go before any request.
        self.entries = await asyncio.to_thread(lambda: {s.name: self.cache.entry(s.name, s.location) for s in web})
        try:
            tasks = [asyncio.create_task(self._source(clients, s)) for s in self.sources]
            done: set[asyncio.Task[Collected]] = set()
            if tasks:
                done, pending = await asyncio.wait(tasks, timeout=max(0.0, self.deadline_at - time.monotonic()))
                done, pending = await self._sites_finish(tasks, done, pending)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
            await clients.aclose()
            results = [task.result() if task in done else await self._late(source, began)
                       for source, task in zip(self.sources, tasks, strict=True)]
            written = await asyncio.gather(*(asyncio.wrap_future(w) for w in list(self.writes)))
            return _with_problems(results, [p for p in written if p is not None])
        finally:
            self.parser.shutdown(wait=True, cancel_futures=True)
            if self.processes is not None:
                self.processes.shutdown(wait=False, cancel_futures=True)
            self.writer.shutdown(wait=True)
            for body in self.pending:
                body.discard()  # a body whose reading the deadline cancelled: no partial file stays

    async def _sites_finish(self, tasks: list[asyncio.Task[Collected]], done: set[asyncio.Task[Collected]],
                            pending: set[asyncio.Task[Collected]]
                            ) -> tuple[set[asyncio.Task[Collected]], set[asyncio.Task[Collected]]]:
        """Members' sites still being read at the deadline are given the time to take their late sites' cached
        copies (they stop reading at the deadline themselves)."""
        from digest.collectors.membersites import GRACE

        sites = {task for task, source in zip(tasks, self.sources, strict=True)
                 if task in pending and source.format == "member-sites"}
        if not sites:
            return done, pending
        finished, _still = await asyncio.wait(sites, timeout=GRACE * 2)  # their own grace, and their saving
        return done | finished, pending - finished

    async def read_source(self, clients: Clients, source: SourceConfig) -> Collected:
        """One source (or a member's feed) read: fetched, cached, parsed, or its copy; a failure said, not raised."""
        try:
            return await self._read(clients, source)
        except Exception as exc:  # a bug or a library's surprise must not stop the whole letter
            message = _("digest could not read this source: it failed on something in it ({name}: {exc})").format(
                          name=type(exc).__name__, exc=exc)
            self.attempts[source.name] = health.Attempt(source, ok=False, error=message)
            return Collected(source.name, (), (Problem(source.name, message),), failed=True)

    async def fall_back(self, source: SourceConfig, reason: str, status: int | None) -> Collected:
        """A source that failed (a member's feed late at the deadline): its last good copy, if any."""
        return await self._fallback(source, reason, status)

    async def _source(self, clients: Clients, source: SourceConfig) -> Collected:
        began = time.perf_counter()
        return self._done(await self.read_source(clients, source), began)

    def _done(self, collected: Collected, began: float) -> Collected:
        collected = replace(collected, seconds=time.perf_counter() - began)
        if self.on_source:
            self.on_source(collected)
        return collected

    async def _read(self, clients: Clients, source: SourceConfig) -> Collected:
        if source.format == "member-sites":
            return await self._member_sites(clients, source)
        if not is_web(source):
            self.progress[source.name].phase = "parsing"
            collected = await self._in_parser(self._parse, collect_file, source, self.ctx)
            error = collected.problems[0].message if collected.failed and collected.problems else None
            self.attempts[source.name] = health.Attempt(source, not collected.failed, collected.items, error=error)
            return replace(collected, origin=_("local file"))
        if source.name in self.entries:
            cached = self.entries[source.name]
        else:  # a member's feed: its copy is looked up when its site is read
            cached = await self._in_thread(self.cache.entry, source.name, source.location)
        if self.offline:
            return await self._offline(source, cached)
        progress = self.progress.setdefault(source.name, Progress())
        try:
            async with clients.lend(source.location) as client:
                download = await fetch_http(clients, client, source, self.settings, self.cache, cached, progress,
                                            self.deadline_at, self.backoff)
        except FetchFailure as exc:
            return await self._fallback(source, str(exc), exc.status)
        progress.phase = "parsing"
        if download.pending is None:  # 304 Not Modified: the cached copy is current
            assert cached is not None
            await self._in_thread(self.cache.confirm, cached)
            collected = await self._in_parser(self._read_entry, source, cached)
        else:
            self.pending.append(download.pending)
            collected = await self._in_parser(self._read_new, source, download)
        if collected.failed:
            return await self._fallback(source, _reason(collected), download.status)
        self.attempts[source.name] = health.Attempt(source, True, collected.items, status=download.status)
        return replace(collected, origin=f"HTTP {download.status}")

    async def _member_sites(self, clients: Clients, source: SourceConfig) -> Collected:
        from digest.collectors import membersites

        try:
            collected = await membersites.gather(self, clients, source, self.member_sites)
        except SourceError as exc:
            self.attempts[source.name] = health.Attempt(source, ok=False, error=str(exc))
            return Collected(source.name, (), (Problem(source.name, str(exc)),), failed=True, origin="failed")
        self.attempts[source.name] = health.Attempt(source, True, collected.items)
        return replace(collected, origin=_("members' sites"))

    def _read_new(self, source: SourceConfig, download: Download) -> Collected:
        """(Parser thread.) Read a new body; it becomes the cached copy only if items came out of it."""
        pending = download.pending
        assert pending is not None
        collected = self._parse(collect_body, source, self.ctx, pending.body(), download.final_url,
                                pending.meta.content_type)
        if collected.failed:
            pending.discard()  # keep the last good copy, not this one
        else:
            self.writes.append(self.writer.submit(self._store, source, pending, collected))
        return collected

    def _store(self, source: SourceConfig, pending: Pending, collected: Collected) -> Problem | None:
        """(Writer thread.) Keep a good body and its items; a failure is a warning, the items are still used."""
        try:
            entry = pending.commit()
        except OSError as exc:
            pending.discard()
            return Problem(source.name, _("cannot keep a copy in {folder}: {reason}").format(
                                            folder=self.cache.folder, reason=exc.strerror or exc))
        self._keep_items(source, entry, collected)
        return None

    def _read_entry(self, source: SourceConfig, entry: Entry) -> Collected:
        """(Parser thread.) The items of a cached copy: those kept from last time, else read again."""
        key = items_key(entry.meta.sha256, source.name, source.format, self.ctx)
        kept = self.cache.items(source.name, key)
        if kept is not None:
            return Collected(source.name, kept[0], kept[1])
        collected = self._parse(collect_body, source, self.ctx, entry.body(), entry.meta.final_url,
                                entry.meta.content_type)
        if not collected.failed:
            self._keep_items(source, entry, collected)
        return collected

    def _keep_items(self, source: SourceConfig, entry: Entry, collected: Collected) -> None:
        key = items_key(entry.meta.sha256, source.name, source.format, self.ctx)
        with contextlib.suppress(OSError, TypeError, ValueError):  # only a saving of work would be lost
            self.cache.keep_items(source.name, key, collected.items, collected.problems)

    async def _offline(self, source: SourceConfig, cached: Entry | None) -> Collected:
        if cached is None:
            message = _("--offline, and digest holds no copy of it yet: run `digest build` once online")
            return Collected(source.name, (), (Problem(source.name, message),), failed=True, origin="offline")
        collected = await self._in_parser(self._read_entry, source, cached)
        return replace(collected, origin=_("cache, {age}").format(age=age(time.time() - cached.stored)))

    async def _fallback(self, source: SourceConfig, reason: str, status: int | None) -> Collected:
        """The source failed: use its last good copy if there is one, saying how old it is."""
        cached = await self._in_thread(self.cache.entry, source.name, source.location)
        attempt = health.Attempt(source, False, status=status, error=reason)
        if cached is None:
            self.attempts[source.name] = attempt
            message = _("{reason}; no earlier copy to fall back on, so its items are missing from this letter").format(
                          reason=reason)
            return Collected(source.name, (), (Problem(source.name, message),), failed=True, origin="failed")
        collected = await self._in_parser(self._read_entry, source, cached)
        when = age(time.time() - cached.stored)
        if collected.failed:
            self.attempts[source.name] = attempt
            message = _("{reason}; its {copy} cannot be read either ({copy_problem})").format(
                          reason=reason, copy=_copy_of(when), copy_problem=_reason(collected))
            return Collected(source.name, (), (Problem(source.name, message),), failed=True, origin="failed")
        self.attempts[source.name] = replace(attempt, items=collected.items, from_cache=True)
        problems = (Problem(source.name, _("{reason}; using the {copy}").format(
            reason=reason, copy=_copy_of(when))), *collected.problems)
        return replace(collected, problems=problems, origin=_("cache, {age}").format(age=when))

    async def _late(self, source: SourceConfig, began: float) -> Collected:
        """A source still running when the deadline passed: why, then its cached copy."""
        progress = self.progress[source.name]
        limit = _("the collection's deadline of {deadline:g} s").format(deadline=self.settings.deadline)
        reasons = {
            "queued": _("not fetched: {limit} passed while it waited for a free connection (raise [fetch] "
                        "concurrency, per_host or deadline)").format(limit=limit),
            "waiting": _("no answer within {limit}").format(limit=limit),
            "reading": _("still sending when {limit} passed ({received} received); too slow").format(
                           limit=limit, received=megabytes(progress.received)),
            "retrying": _("{last_error}; {limit} passed before it could be tried again").format(
                            last_error=progress.last_error, limit=limit),
            "parsing": _("still being read when {limit} passed").format(limit=limit),
        }
        reason = reasons.get(progress.phase, _("not read within {limit}").format(limit=limit))
        try:
            collected = await asyncio.wait_for(self._fallback(source, reason, progress.status), timeout=10)
        except TimeoutError:
            collected = Collected(source.name, (), (Problem(source.name, reason),), failed=True, origin="failed")
        return self._done(collected, began)

    def _parse(self, function: Callable[..., Collected], *args: object) -> Collected:
        """(Parser thread.) Run a collector here, or in a worker process when there are several."""
        if self.processes is not None:
            from concurrent.futures.process import BrokenProcessPool  # loaded with the pool: see _process_pool

            try:
                return self.processes.submit(function, *args).result()
            except (BrokenProcessPool, OSError, RuntimeError):
                # No worker could start (an embedding program whose __main__ cannot be re-imported, a
                # sandbox without fork) or one died: parse here, more slowly, rather than lose the source.
                self.processes = None
        return function(*args)

    async def _in_parser(self, function: Callable[..., T], *args: object) -> T:
        """Run a collector in a parser thread (as many as there are worker processes, else one)."""
        return await asyncio.get_running_loop().run_in_executor(self.parser, function, *args)

    async def _in_thread(self, function: Callable[..., T], *args: object) -> T:
        """Run a small file operation off the event loop (opening 100 files adds up on a slow disk)."""
        return await asyncio.to_thread(function, *args)


# Below this many sources, starting worker processes (~0.3 s) costs more than parsing on one core saves.
MIN_SOURCES_FOR_PROCESSES = 8


def parse_workers(sources: int) -> int:
    """How many sources to parse at once: one per core (at most 4) for a large letter, else one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(cores, 4) if sources >= MIN_SOURCES_FOR_PROCESSES else 1


def _process_pool(workers: int) -> Executor:
    """Worker processes that already hold the collectors' modules.

    A process with a single thread (the command line) forks them at once: instant, with every module
    already imported. A process running other threads (the preview server) must not fork, since a lock
    another thread holds would stay locked in the child: its workers come from a fork server instead.
    Imported here: a letter of a few sources, parsed in-process, never loads multiprocessing (3 ms a build).
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))
        pool.submit(int).result()  # with "fork", every worker is forked on this first task, right now
        return pool
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["digest.collectors"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


def _with_problems(results: list[Collected], problems: list[Problem]) -> list[Collected]:
    """The results with the late problems (a copy that could not be kept) added to their sources."""
    return [replace(r, problems=(*r.problems, *(p for p in problems if p.where == r.source))) for r in results]


def _copy_of(when: str) -> str:
    """'copy of 3 days ago', 'copy fetched just now'."""
    return _("copy fetched just now") if when == _("just now") else _("copy of {when}").format(when=when)


def _reason(collected: Collected) -> str:
    return "; ".join(p.message for p in collected.problems) or _("no item could be read")
