"""Hardening, class 11: fetch politeness (a limit per site under a global one, Retry-After honoured)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from digest.collectors.fetch import MAX_RETRY_AFTER, retry_after
from digest.config import FetchConfig

from .feedserver import rss
from .test_fetch import collect, settings, web


class Site:
    """One site's server: how many requests it saw at once, and when each came."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most = 0
        self.times: list[float] = []
        self.spans: list[tuple[float, float]] = []  # (start, end) of each answer
        self.answers: list[tuple[int, dict[str, str]]] = []  # the next answers to give, then 200s


class Handler(BaseHTTPRequestHandler):
    site: Site
    delay: float = 0.3

    def do_GET(self) -> None:
        site = self.site
        with site.lock:
            site.in_flight += 1
            site.most = max(site.most, site.in_flight)
            site.times.append(time.monotonic())
            code, headers = site.answers.pop(0) if site.answers else (200, {})
            started = time.monotonic()
        time.sleep(self.delay if code == 200 else 0)
        body = rss(self.path.strip("/").replace("/", "-")) if code == 200 else b"busy"
        self.send_response(code)
        for name, value in {"Content-Type": "application/rss+xml", "Content-Length": str(len(body)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        with site.lock:
            site.in_flight -= 1
            site.spans.append((started, time.monotonic()))

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def sites(http_servers: Callable[[str, type[Handler]], str]) -> Callable[[str], tuple[str, Site]]:
    """start(host): a site on `host` whose answers the test sets and whose requests it counts."""

    def start(host: str) -> tuple[str, Site]:
        site = Site()
        return http_servers(host, type("H", (Handler,), {"site": site})), site

    return start


def test_politeness_at_most_four_connections_per_site_by_default(
        sites: Callable[[str], tuple[str, Site]], tmp_path: Path) -> None:
    (one, first), (two, second) = sites("127.0.0.1"), sites("127.0.0.2")
    sources = [web(f"a{n}", f"{one}/a/{n}") for n in range(8)] + [web(f"b{n}", f"{two}/b/{n}") for n in range(8)]
    defaults = FetchConfig()
    assert (defaults.per_host, defaults.concurrency) == (4, 32)
    results, _ = collect(sources, settings(tmp_path, concurrency=defaults.concurrency, per_host=defaults.per_host,
                                           deadline=10))
    assert all(not r.failed for r in results.values())
    assert first.most == 4 and second.most == 4  # both sites at once, each at most 4


def test_politeness_the_global_limit_holds_over_every_site(
        sites: Callable[[str], tuple[str, Site]], tmp_path: Path) -> None:
    servers = [sites(f"127.0.0.{n}") for n in range(1, 5)]
    sources = [web(f"s{n}-{k}", f"{base}/x/{k}") for n, (base, _) in enumerate(servers) for k in range(3)]
    results, seconds = collect(sources, settings(tmp_path, concurrency=4, per_host=4, deadline=10))
    assert all(not r.failed for r in results.values())
    spans = [span for _, site in servers for span in site.spans]
    at_once = max(sum(1 for start, end in spans if start <= moment < end) for moment, _ in spans)
    assert at_once == 4  # four sites of three sources each, never more than four answers at once
    assert seconds >= 0.85  # 12 requests of 0.3 s, 4 at a time: three rounds


def test_politeness_retry_after_is_honoured(sites: Callable[[str], tuple[str, Site]], tmp_path: Path) -> None:
    base, site = sites("127.0.0.1")
    site.answers = [(503, {"Retry-After": "1"}), (429, {"Retry-After": "1"})]
    results, _ = collect([web("busy", f"{base}/busy/1", timeout=3)], settings(tmp_path, retries=2, deadline=10))
    assert not results["busy"].failed
    assert len(site.times) == 3
    assert site.times[1] - site.times[0] >= 0.95 and site.times[2] - site.times[1] >= 0.95  # not the 0.05 s backoff


def test_politeness_a_retry_after_past_the_deadline_gives_up_at_once_saying_so(
        sites: Callable[[str], tuple[str, Site]], tmp_path: Path) -> None:
    base, site = sites("127.0.0.1")
    site.answers = [(503, {"Retry-After": "120"})]
    results, _seconds = collect([web("busy", f"{base}/busy/2")], settings(tmp_path, deadline=5))
    assert len(site.times) == 1  # given up at once: not one more try
    assert "HTTP 503 Service Unavailable; the server asked to try again in 120 s, after the collection's " \
           "deadline" in results["busy"].problems[0].message


def test_politeness_retry_after_as_a_date_or_garbage() -> None:
    assert retry_after("7") == 7.0 and retry_after("99999") == MAX_RETRY_AFTER
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date past: at once
    assert retry_after("bientôt") is None and retry_after(None) is None
