"""Collecting 100 web feeds: time, conditional-GET savings and peak memory.

A server in another process (so that it does not share the collector's GIL) serves 100 RSS feeds on 127.0.0.1 and
delays every response by 200 ms. Targets (issue 3):
  - first collection of the 100 feeds under 1.5 s (one after the other would take 20 s);
  - second collection, nothing changed: every answer a 304, under 0.5 s and under 5 % of the first run's bytes;
  - 100 feeds of 1 MB each: peak memory (RSS) of the collecting process under 300 MB.
The timed pairs of runs are repeated three times (each first run into an empty cache) and the best kept.

The fourth figure runs `digest build` as a whole process with the default [fetch] settings (32 connections, 4 per
site) on 100 feeds served from 100 loopback addresses (127.0.0.1 to 127.0.0.100: 100 sites), target < 2.5 s.

The first three set [fetch] concurrency = 100 (and per_host = 100): they model 100 feeds on 100 different sites
with one server on one address, and with 200 ms per answer 100 feeds take ceil(100 / concurrency) rounds; the
second run's target (0.5 s) needs at most 2 rounds, so 50 or more.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.collectors import collect_all  # noqa: E402 (after the path is set)
from digest.collectors.base import Context  # noqa: E402
from digest.config import FetchConfig, SourceConfig  # noqa: E402
from digest.model import Collected  # noqa: E402

FEEDS = 100
DELAY = 0.2
ROUNDS = 3  # the timed runs are repeated and the best kept, as timeit does: the machine may be busy
TARGET_FIRST, TARGET_SECOND, TARGET_BYTES, TARGET_RSS_MB = 1.5, 0.5, 0.05, 300
CTX = Context(tz=ZoneInfo("Europe/Paris"))


def feed(number: int, size: int) -> bytes:
    """An RSS feed of about `size` bytes: items of a few KB, as the CUF site's SPIP feeds have."""
    items, total, n = [], 0, 0
    text = "Les collectivités françaises et leurs partenaires renforcent leur coopération. " * 20
    while total < size:
        item = (f"<item><title>Actualité {n} du flux {number}</title><link>https://example.org/{number}/{n}</link>"
                f"<guid>f{number}-{n}</guid><pubDate>Wed, 19 Nov 2025 10:00:00 +0000</pubDate>"
                f"<description>&lt;p&gt;{text}&lt;/p&gt;</description></item>")
        items.append(item)
        total += len(item)
        n += 1
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Flux {number}</title>'
            f'<link>https://example.org/</link>{"".join(items)}</channel></rss>').encode()


def free_port() -> int:
    """A port free on loopback (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(size: int, ready: Any, stats: Any, hosts: list[str] | None = None) -> None:
    """The feed server (run in its own process): every answer after DELAY; 304 when the ETag matches.

    asyncio rather than a thread per connection, so that the server's own overhead does not blur the figures.
    """
    bodies = {n: feed(n, size) for n in range(FEEDS)}

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while request := await reader.readuntil(b"\r\n\r\n"):
                lines = request.decode("latin-1").split("\r\n")
                headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
                number = int(lines[0].split()[1].rsplit("/", 1)[1])
                await asyncio.sleep(DELAY)
                etag = f'"{number}-{len(bodies[number])}"'
                if headers.get("If-None-Match") == etag:
                    head, body = f"HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\n", b""
                else:
                    head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml; charset=utf-8\r\n"
                            f"ETag: {etag}\r\nLast-Modified: Wed, 19 Nov 2025 10:00:00 GMT\r\n")
                    body = bodies[number]
                data = (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body
                with stats.get_lock():
                    stats.value += len(data)
                writer.write(data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        if hosts:  # one port on many loopback addresses: as many sites, for the per-site limit
            server = await asyncio.start_server(answer, hosts, free_port(), backlog=256)
        else:
            server = await asyncio.start_server(answer, "127.0.0.1", 0, backlog=256)
        ready.put(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


def sources(port: int) -> tuple[SourceConfig, ...]:
    return tuple(SourceConfig(name=f"feed{n}", section="cuf", url=f"http://127.0.0.1:{port}/feed/{n}",
                              location=f"http://127.0.0.1:{port}/feed/{n}", format="rss", timeout=10.0)
                 for n in range(FEEDS))


def start_server(size: int, hosts: list[str] | None = None) -> tuple[multiprocessing.Process, int, Any]:
    ready: Any = multiprocessing.Queue()
    stats: Any = multiprocessing.Value("q", 0)
    process = multiprocessing.Process(target=serve, args=(size, ready, stats, hosts), daemon=True)
    process.start()
    return process, ready.get(timeout=60), stats


def pair(port: int, stats: Any) -> tuple[tuple[float, int, list[Collected]], tuple[float, int, list[Collected]]]:
    """A first collection into an empty cache, then a second one with nothing changed: (seconds, bytes, results)."""
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        settings = FetchConfig(concurrency=FEEDS, per_host=FEEDS, deadline=30, cache_dir=Path(folder))
        for _ in range(2):
            before, began = stats.value, time.perf_counter()
            results = collect_all(sources(port), CTX, settings)
            runs.append((time.perf_counter() - began, stats.value - before, results))
    return runs[0], runs[1]


def timed_runs() -> list[str]:
    """First and second collection of 100 small feeds, best of ROUNDS; the targets missed."""
    process, port, stats = start_server(size=12_000)
    missed = []
    try:
        pairs = [pair(port, stats) for _ in range(ROUNDS)]
        first, first_bytes, one = min((p[0] for p in pairs), key=lambda run: run[0])
        second, second_bytes, two = min((p[1] for p in pairs), key=lambda run: run[0])
        items = sum(len(r.items) for r in one)
        every = ", ".join(f"{p[0][0]:.2f}" for p in pairs)
        print(f"first run:  {first:.2f} s for {FEEDS} feeds (best of {every}; {first_bytes / 1024:.0f} KB, "
              f"{items} items, {sum(r.failed for r in one)} failed; target < {TARGET_FIRST} s)")
        not_modified = sum(r.origin == "HTTP 304" for r in two)
        share = second_bytes / first_bytes
        every = ", ".join(f"{p[1][0]:.2f}" for p in pairs)
        print(f"second run: {second:.2f} s (best of {every}), {not_modified}/{FEEDS} answered 304, "
              f"{second_bytes / 1024:.1f} KB = {share:.1%} of the first run's bytes "
              f"(targets < {TARGET_SECOND} s, all 304, < {TARGET_BYTES:.0%})")
        if first >= TARGET_FIRST or items == 0:
            missed.append("first run time")
        if second >= TARGET_SECOND or not_modified != FEEDS or share >= TARGET_BYTES:
            missed.append("second run")
        if [len(r.items) for r in two] != [len(r.items) for r in one]:
            missed.append("second run items")
    finally:
        process.terminate()
    return missed


def collect_big(port: int, result: Any) -> None:
    """Collect the 100 big feeds (in a child process); report its peak RSS in MB."""
    from treemem import PeakSampler  # this process and its parsing workers, summed

    with tempfile.TemporaryDirectory() as folder, PeakSampler() as sampler:
        settings = FetchConfig(concurrency=FEEDS, per_host=FEEDS, deadline=300, cache_dir=Path(folder))
        collected = collect_all(sources(port), CTX, settings)
    peak_mb = max(sampler.peak_mb, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    result.put((peak_mb, sum(len(r.items) for r in collected), sum(r.failed for r in collected)))


def memory_run() -> list[str]:
    """Peak RSS of a process collecting 100 feeds of 1 MB each."""
    process, port, stats = start_server(size=1024 * 1024)
    try:
        result: Any = multiprocessing.Queue()
        began = time.perf_counter()
        child = multiprocessing.Process(target=collect_big, args=(port, result))
        child.start()
        peak_mb, items, failed = result.get(timeout=600)
        child.join()
        print(f"100 feeds of 1 MB: peak memory {peak_mb:.0f} MB (PSS, with the parsing workers) "
              f"({stats.value / 1024 / 1024:.0f} MB served, "
              f"{items} items, {failed} failed, {time.perf_counter() - began:.1f} s; target < {TARGET_RSS_MB} MB)")
        return ["peak memory"] if peak_mb >= TARGET_RSS_MB or failed else []
    finally:
        process.terminate()


SITES = [f"127.0.0.{n}" for n in range(1, FEEDS + 1)]
TARGET_SITES = 2.5
CONFIG = """[letter]
title = "Banc d'essai"
base_url = "https://example.org/lettre/"
unsubscribe_url = "https://example.org/desinscription"
from = "Banc <banc@example.org>"

[[section]]
id = "cuf"
title = "Actualités"
max_items = 10
window_days = 100000
"""


def sites_run() -> list[str]:
    """`digest build` as a whole process, default [fetch] settings, 100 feeds on 100 sites of 200 ms each."""
    import subprocess

    process, port, _ = start_server(size=12_000, hosts=SITES)
    try:
        with tempfile.TemporaryDirectory() as folder:
            config = Path(folder) / "sources.toml"
            config.write_text(CONFIG + "".join(
                f'\n[[source]]\nname = "site{n}"\nsection = "cuf"\nurl = "http://{host}:{port}/feed/{n}"\n'
                for n, host in enumerate(SITES)), encoding="utf-8")
            times = []
            for round_ in range(ROUNDS):
                began = time.perf_counter()
                done = subprocess.run([sys.executable, "-m", "digest", "build", "-c", str(config), "--date",
                                       "2025-11-20", "-o", str(Path(folder) / f"outbox{round_}")],
                                      capture_output=True, text=True, check=False)
                times.append(time.perf_counter() - began)
                if done.returncode != 0:
                    print(done.stdout[-2000:], done.stderr[-2000:])
                    return ["100 sites (build failed)"]
    finally:
        process.terminate()
    best = min(times)
    print(f"100 feeds on 100 sites, `digest build` with default [fetch]: {best:.2f} s for the whole process "
          f"(best of {', '.join(f'{t:.2f}' for t in times)}; target < {TARGET_SITES} s)")
    return ["100 sites"] if best >= TARGET_SITES else []


def main() -> int:
    """Run the four measurements; exit 1 when a target is missed."""
    missed = timed_runs() + sites_run() + memory_run()
    if missed:
        print(f"missed: {', '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    multiprocessing.set_start_method("spawn")
    sys.exit(main())
