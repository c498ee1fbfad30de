"""Fetching from the web: every fault against a real server on 127.0.0.1, the cache, retries, limits, encodings."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from digest import __version__, collectors
from digest.collectors import health
from digest.collectors.base import Context
from digest.collectors.cache import Cache, Meta
from digest.config import FetchConfig, SourceConfig
from digest.model import Collected
from tests.feedserver import FeedServer, rss

CTX = Context(tz=ZoneInfo("Europe/Paris"))



def web(name: str, url: str, fmt: str = "rss", timeout: float = 1.0) -> SourceConfig:
    """A web source feeding the 'cuf' section."""
    return SourceConfig(name=name, section="cuf", url=url, location=url, format=fmt, timeout=timeout)


def settings(folder: Path, **changes: Any) -> FetchConfig:
    """A [fetch] table of short limits, so that every fault resolves in a second or two."""
    values: dict[str, Any] = {"deadline": 2.0, "retries": 1, "max_bytes": 1024 * 1024,
                              "cache_dir": folder / "cache", "concurrency": 8}
    values.update(changes)
    return FetchConfig(**values)


def collect(sources: list[SourceConfig], fetch: FetchConfig, offline: bool = False
            ) -> tuple[dict[str, Collected], float]:
    """Collect (retrying after 0.05 s, not 0.5), and how long it took."""
    began = time.monotonic()
    results = collectors.collect_all(tuple(sources), CTX, fetch, offline=offline, backoff=0.05)
    return {r.source: r for r in results}, time.monotonic() - began


def titles(result: Collected) -> list[str]:
    return [item.title for item in result.items]


def leftovers(folder: Path) -> list[str]:
    """Files in the cache that are not a cached copy, its items or the health record: partial files."""
    return [p.name for p in folder.iterdir()
            if not p.name.endswith((".cache", ".items.json")) and p.name != health.FILE]


def refused_url() -> str:
    """An address on loopback where nothing listens (a port just freed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/feed"


# path on the test server (or a full address), the cause the warning must give in plain words
FAULTS = [
    ("refused", "connection refused"),
    ("http://feeds.digest-test.invalid/rss", "DNS lookup failed"),
    ("/hang", "no answer within"),
    ("/slow", "still sending when the collection's deadline of 2 s passed"),
    ("/status/404", "HTTP 404 Not Found"),
    ("/status/410", "HTTP 410 Gone"),
    ("/status/500", "HTTP 500 Internal Server Error (after 2 tries)"),
    ("/loop", "redirect loop"),
    ("/loop-a", "redirect loop"),
    ("/big", "body larger than 1 MB"),
    ("/big-chunked", "body larger than 1 MB"),
    ("/gzipbomb", "body larger than 1 MB"),
    ("/html", "an HTML page, not a feed"),
    ("/invalid-xml", "invalid XML"),
    ("/not-a-feed", "not an RSS or Atom feed"),
    ("/empty", "empty body"),
    ("/blank", "empty body"),
    ("/truncated", "before the whole body arrived"),
]


def fault_url(server: FeedServer, where: str) -> str:
    if where == "refused":
        return refused_url()
    return where if where.startswith("http") else server.url(where)


def fault_limits(tmp_path: Path, where: str) -> tuple[FetchConfig, float]:
    """The [fetch] table and the sources' timeout for one fault: the short ones only where they are the fault
    (a slow body meets the deadline, a silent server the timeout), roomy elsewhere, so that a loaded machine never
    turns a fault into another one."""
    deadline = 2.0 if where == "/slow" else 60.0
    return settings(tmp_path, deadline=deadline), (1.0 if where == "/hang" else 20.0)


@pytest.mark.parametrize(("where", "cause"), FAULTS, ids=[f[0].strip("/") for f in FAULTS])
def test_a_fault_is_a_named_warning_and_the_other_sources_are_complete(
        server: FeedServer, tmp_path: Path, where: str, cause: str) -> None:
    fetch, timeout = fault_limits(tmp_path, where)
    sources = [web("one", server.url("/feed/one"), timeout=20.0),
               web("broken", fault_url(server, where), timeout=timeout),
               web("two", server.url("/redirect/3/two"), timeout=20.0)]
    results, _seconds = collect(sources, fetch)
    assert titles(results["one"]) == ["one #1", "one #2", "one #3"]
    assert titles(results["two"]) == ["two #1", "two #2", "two #3"]
    broken = results["broken"]
    assert broken.failed and not broken.items
    message = str(broken.problems[0])
    assert message.startswith("broken: ") and cause in message, message
    assert "no earlier copy" in message
    assert leftovers(tmp_path / "cache") == []
    assert not (tmp_path / "cache" / "broken.cache").exists()


@pytest.mark.parametrize(("where", "cause"), FAULTS, ids=[f[0].strip("/") for f in FAULTS])
def test_a_fault_falls_back_on_the_last_good_copy_and_says_its_age(
        server: FeedServer, tmp_path: Path, where: str, cause: str) -> None:
    fetch, timeout = fault_limits(tmp_path, where)
    url = fault_url(server, where)
    copy = _seed_cache(tmp_path / "cache", "broken", url, rss("gardé", count=2), days_old=3)
    results, _seconds = collect([web("one", server.url("/feed/one"), timeout=20.0),
                                 web("broken", url, timeout=timeout)], fetch)
    assert titles(results["one"]) == ["one #1", "one #2", "one #3"]
    broken = results["broken"]
    assert titles(broken) == ["gardé #1", "gardé #2"] and not broken.failed
    message = str(broken.problems[0])
    assert message.startswith("broken: ") and cause in message and message.endswith("using the copy of 3 days ago")
    assert broken.origin == "cache, 3 days ago"
    assert copy.read_bytes() == _cache_bytes(copy)  # the good copy is untouched
    assert leftovers(tmp_path / "cache") == []


_SEEDED: dict[Path, bytes] = {}


def _seed_cache(folder: Path, name: str, url: str, body: bytes, days_old: float) -> Path:
    pending = Cache(folder).start(name, Meta(url=url, final_url=url, content_type="application/rss+xml"))
    pending.write(body)
    pending.commit()
    stamp = time.time() - days_old * 86400
    os.utime(pending.target, (stamp, stamp))
    _SEEDED[pending.target] = pending.target.read_bytes()
    return pending.target


def _cache_bytes(path: Path) -> bytes:
    return _SEEDED[path]


def test_an_unchanged_feed_costs_a_304_and_its_cached_copy_is_used(server: FeedServer, tmp_path: Path) -> None:
    fetch = settings(tmp_path)
    first, _ = collect([web("etag", server.url("/feed/etag"))], fetch)
    cached = (tmp_path / "cache" / "etag.cache").read_bytes()
    second, _ = collect([web("etag", server.url("/feed/etag"))], fetch)
    asked = server.hits("/feed/etag")[-1]["headers"]
    assert asked["If-None-Match"] == f'"etag-{len(rss("etag"))}"'
    assert asked["If-Modified-Since"] == "Wed, 19 Nov 2025 10:00:00 GMT"
    assert first["etag"].origin == "HTTP 200" and second["etag"].origin == "HTTP 304"
    assert titles(second["etag"]) == titles(first["etag"]) and not second["etag"].problems
    assert (tmp_path / "cache" / "etag.cache").read_bytes() == cached
    assert health.load(tmp_path / "cache")["etag"].http_status == 304


def test_a_500_then_200_is_retried_and_a_404_is_not(server: FeedServer, tmp_path: Path) -> None:
    results, _ = collect([web("flaky", server.url("/flaky/f1")), web("missing", server.url("/status/404"))],
                         settings(tmp_path))
    assert titles(results["flaky"]) == ["f1 #1", "f1 #2", "f1 #3"] and not results["flaky"].problems
    assert len(server.hits("/flaky/f1")) == 2
    assert len(server.hits("/status/404")) == 1


def test_retries_are_bounded(server: FeedServer, tmp_path: Path) -> None:
    collect([web("down", server.url("/status/503"))], settings(tmp_path, retries=3))
    assert len(server.hits("/status/503")) == 4


def test_redirect_chains_are_followed_up_to_the_limit(server: FeedServer, tmp_path: Path) -> None:
    results, _ = collect([web("near", server.url("/redirect/5/near")), web("far", server.url("/redirect/6/far"))],
                         settings(tmp_path, max_redirects=5))
    assert titles(results["near"]) == ["near #1", "near #2", "near #3"]
    assert "more than 5 redirects" in str(results["far"].problems[0])


def test_requests_name_the_project_and_accept_compression(server: FeedServer, tmp_path: Path) -> None:
    results, _ = collect([web("packed", server.url("/gzip/packed")), web("zlib", server.url("/deflate/zlib")),
                          web("raw", server.url("/rawdeflate/raw"))], settings(tmp_path))
    assert titles(results["packed"]) == ["packed #1", "packed #2", "packed #3"]
    assert titles(results["zlib"]) == ["zlib #1", "zlib #2", "zlib #3"]
    assert titles(results["raw"]) == ["raw #1", "raw #2", "raw #3"]
    headers = server.hits("/gzip/packed")[0]["headers"]
    assert headers["User-Agent"].startswith(f"digest/{__version__} ")
    assert "gzip" in headers["Accept-Encoding"]


def test_charsets_are_read_right_and_mojibake_is_repaired(server: FeedServer, tmp_path: Path) -> None:
    results, _ = collect([web("latin1", server.url("/latin1")), web("cp1252", server.url("/cp1252")),
                          web("mojibake", server.url("/mojibake"))], settings(tmp_path))
    assert titles(results["latin1"]) == ["Coopération décentralisée", "Été à Lyon"]
    assert not results["latin1"].problems
    assert titles(results["cp1252"]) == ["L’été – œuvres à 5 €", "Coopération"]
    # "&amp;lt;" in a title's HTML is the text "&lt;": entities are decoded once, never twice
    assert titles(results["mojibake"]) == ["Coopération décentralisée", "a &lt; b", "Tom & Jerry"]


def test_a_csv_with_a_broken_row_keeps_its_good_rows(server: FeedServer, tmp_path: Path) -> None:
    results, _ = collect([web("membres", server.url("/csv-broken"), fmt="csv")], settings(tmp_path))
    result = results["membres"]
    assert titles(result) == ["Premier", "Deux"]
    assert [str(p) for p in result.problems] == [
        "membres: line 5: more fields than the header has; row skipped",
        "membres: line 3: date: '31/02/2025' is not a date (no such day in that month): dates are written "
        "day/month/year, e.g. 31/12/2025; row skipped"]
    assert (tmp_path / "cache" / "membres.cache").exists()


def test_concurrency_is_bounded_and_used(server: FeedServer, tmp_path: Path) -> None:
    server.delay = 0.3
    try:
        sources = [web(f"c{n}", server.url(f"/feed/c{n}")) for n in range(6)]
        _, bounded = collect(sources, settings(tmp_path / "a", concurrency=2))
        assert server.most_at_once("/feed/c") == 2
        assert bounded >= 0.9  # three rounds of 0.3 s
        server.requests.clear()
        _, _wide = collect(sources, settings(tmp_path / "b", concurrency=6, per_host=6))
        assert server.most_at_once("/feed/c") == 6  # one round, not three (its time: bench_fetch)
    finally:
        server.delay = 0.0


def test_the_deadline_covers_sources_still_waiting_for_a_connection(server: FeedServer, tmp_path: Path) -> None:
    sources = [web(f"h{n}", server.url("/hang"), timeout=5) for n in range(3)]
    results, _seconds = collect(sources, settings(tmp_path, concurrency=1, deadline=1.0))  # (time: bench_fetch)
    messages = [str(results[f"h{n}"].problems[0]) for n in range(3)]
    assert "no answer within the collection's deadline of 1 s" in messages[0]
    assert all("waited for a free connection" in m for m in messages[1:])


def test_a_bad_answer_never_replaces_the_last_good_copy(server: FeedServer, tmp_path: Path) -> None:
    source, fetch = web("bascule", server.url("/switch/bascule")), settings(tmp_path)
    server.switch["bascule"] = "feed"
    collect([source], fetch)
    good = (tmp_path / "cache" / "bascule.cache").read_bytes()
    server.switch["bascule"] = "html"
    results, _ = collect([source], fetch)
    assert titles(results["bascule"]) == ["bascule #1", "bascule #2", "bascule #3"]
    assert "an HTML page, not a feed" in str(results["bascule"].problems[0])
    assert (tmp_path / "cache" / "bascule.cache").read_bytes() == good
    server.switch["bascule"] = "feed2"
    results, _ = collect([source], fetch)
    assert titles(results["bascule"]) == ["bascule nouveau", "bascule #1"] and not results["bascule"].problems
    assert (tmp_path / "cache" / "bascule.cache").read_bytes() != good


def test_offline_reads_the_cache_alone(server: FeedServer, tmp_path: Path) -> None:
    sources = [web("hors-ligne", server.url("/feed/hors-ligne")), web("jamais", server.url("/feed/jamais"))]
    collect(sources[:1], settings(tmp_path))
    before = len(server.requests)
    results, _ = collect(sources, settings(tmp_path), offline=True)
    assert len(server.requests) == before  # not one request
    assert titles(results["hors-ligne"]) == ["hors-ligne #1", "hors-ligne #2", "hors-ligne #3"]
    assert results["hors-ligne"].origin == "cache, just now" and not results["hors-ligne"].problems
    assert results["jamais"].failed and "--offline, and digest holds no copy" in str(results["jamais"].problems[0])


def test_health_records_successes_failures_and_the_newest_item(server: FeedServer, tmp_path: Path) -> None:
    source, fetch = web("suivi", server.url("/switch/suivi")), settings(tmp_path)
    server.switch["suivi"] = "feed"
    collect([source], fetch)
    first = health.load(tmp_path / "cache")["suivi"]
    assert (first.http_status, first.items, first.consecutive_failures, first.last_error) == (200, 3, 0, None)
    assert first.newest_item == "2025-11-19T10:03:00+00:00" and first.last_success is not None
    server.switch["suivi"] = "404"
    collect([source], fetch)
    collect([source], fetch)
    failing = health.load(tmp_path / "cache")["suivi"]
    assert failing.consecutive_failures == 2 and failing.http_status == 404
    assert failing.last_error == "HTTP 404 Not Found" and failing.last_success == first.last_success
    assert failing.items == 3 and failing.from_cache
    server.switch["suivi"] = "feed2"
    collect([source], fetch)
    healed = health.load(tmp_path / "cache")["suivi"]
    assert healed.consecutive_failures == 0 and healed.last_error is None
    assert healed.newest_item == "2025-11-20T10:02:00+00:00"


def test_collect_keeps_its_one_source_shape_for_a_web_source(server: FeedServer) -> None:
    result = collectors.collect(web("seul", server.url("/redirect/2/seul")), CTX)
    assert titles(result) == ["seul #1", "seul #2", "seul #3"]
    failed = collectors.collect(web("perdu", server.url("/status/404")), CTX)
    assert failed.failed and "HTTP 404 Not Found" in str(failed.problems[0])
