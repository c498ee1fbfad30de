"""Member authorities' sites on 127.0.0.1, shaped like the CMSs French local governments run: each site lives
under its own path and behaves as its CMS does (where its feed is, what its home page says), or fails.

Kinds of site (Site.kind):
- wordpress: `<link rel="alternate">` to `feed/` (and a comments feed, to be left aside);
- spip: no `<link>`, a generator meta; its feed at `spip.php?page=backend`;
- drupal: `rss.xml`; joomla: `?format=feed&type=rss` (the home page answers any other query);
- typo3: `?type=100`;
- sitemap: no feed at all, a Google News sitemap at `sitemap.xml`;
- nofeed: a page and nothing else (every other address 404);
- failing: the page links its feed, which answers 500;
- slow: the page answers, the feed waits until the server is told to stop waiting (`release()`).
Feeds honour If-None-Match. Every request is logged by path.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.feedserver import respond


@dataclass(frozen=True)
class Article:
    """One article of a member's site."""

    title: str
    summary: str
    day: datetime
    slug: str


@dataclass
class Site:
    """One member's site: its path on the server, its CMS and its articles."""

    path: str  # "/nancy/"
    kind: str
    articles: list[Article] = field(default_factory=list)


@dataclass
class Sites:
    """The running server: its base URL, the sites it serves, the requests it saw."""

    base: str = ""
    sites: dict[str, Site] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    waiting: threading.Event = field(default_factory=threading.Event)
    slow_seconds: float | None = None  # how long a slow site's feed waits (None: until release())
    delay: float = 0.0  # seconds before every answer: the web's latency, for the benchmark
    lock: threading.Lock = field(default_factory=threading.Lock)

    def address(self, path: str) -> str:
        """A site's address on this server."""
        return self.base + path

    def hits(self, start: str) -> list[str]:
        """The requests whose path (with its query) starts with `start`."""
        return [r for r in self.requests if r.startswith(start)]

    def release(self) -> None:
        """Let the slow sites answer (at the end of a test)."""
        self.waiting.set()


def rss(site: Site, base: str) -> bytes:
    """The site's RSS 2.0 feed."""
    items = "".join(
        f"<item><title>{escape(a.title)}</title><link>{base}{site.path}{a.slug}</link>"
        f"<guid isPermaLink=\"false\">{site.path}{a.slug}</guid><pubDate>{format_datetime(a.day)}</pubDate>"
        f"<description>{escape(a.summary)}</description></item>" for a in site.articles)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{site.path}</title>'
            f"<link>{base}{site.path}</link>{items}</channel></rss>").encode()


def sitemap(site: Site, base: str) -> bytes:
    """The site's Google News sitemap."""
    urls = "".join(
        f"<url><loc>{base}{site.path}{a.slug}</loc><lastmod>{a.day.isoformat()}</lastmod>"
        f"<news:news><news:title>{escape(a.title)}</news:title>"
        f"<news:publication_date>{a.day.isoformat()}</news:publication_date></news:news></url>"
        for a in site.articles)
    return ('<?xml version="1.0" encoding="utf-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{urls}</urlset>').encode()


def home(site: Site) -> bytes:
    """The site's home page as its CMS writes it."""
    head = {
        "wordpress": '<meta name="generator" content="WordPress 6.7">'
                     '<link rel="alternate" type="application/rss+xml" title="Flux" href="feed/">'
                     '<link rel="alternate" type="application/rss+xml" title="Flux des commentaires" '
                     'href="comments/feed/">',
        "spip": '<meta name="generator" content="SPIP 4.3.5">',
        "drupal": '<meta name="Generator" content="Drupal 10 (https://www.drupal.org)">',
        "joomla": '<meta name="generator" content="Joomla! - Open Source Content Management">',
        "typo3": '<meta name="generator" content="TYPO3 CMS">',
        "failing": '<link rel="alternate" type="application/rss+xml" href="actualites.rss">',
        "slow": '<link rel="alternate" type="application/rss+xml" href="actualites.rss">',
    }.get(site.kind, "")
    return (f"<!DOCTYPE html><html lang=\"fr\"><head><title>{site.path}</title>{head}</head>"
            "<body><h1>Bienvenue</h1></body></html>").encode()


class Handler(BaseHTTPRequestHandler):
    """Answers as the site a request's path falls under."""

    state: Sites
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        with self.state.lock:
            self.state.requests.append(self.path)
        if self.state.delay:
            time.sleep(self.state.delay)
        parts = urlsplit(self.path)
        site = next((s for p, s in self.state.sites.items() if parts.path.startswith(p)), None)
        if site is None:
            return self.send(b"not found", "text/plain", 404)
        rest, query = parts.path[len(site.path):], parts.query
        feed = {"wordpress": ("feed/", ""), "spip": ("spip.php", "page=backend"), "drupal": ("rss.xml", ""),
                "joomla": ("", "format=feed&type=rss"), "typo3": ("", "type=100"),
                "failing": ("actualites.rss", ""), "slow": ("actualites.rss", "")}.get(site.kind)
        if feed is not None and (rest, query) == feed:
            return self.feed(site)
        if site.kind == "sitemap" and rest == "sitemap.xml":
            return self.send(sitemap(site, self.state.base), "application/xml")
        if rest == "" and (not query or site.kind == "joomla"):
            return self.send(home(site), "text/html; charset=utf-8")
        self.send(b"<html><body>Page introuvable</body></html>", "text/html", 404)

    def feed(self, site: Site) -> None:
        if site.kind == "failing":
            return self.send(b"<html>Erreur interne</html>", "text/html", 500)
        if site.kind == "slow":
            self.state.waiting.wait(self.state.slow_seconds)
        body = rss(site, self.state.base)
        etag = f'"{abs(hash(body))}"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        return self.send(body, "application/rss+xml; charset=utf-8", headers={"ETag": etag})

    def send(self, body: bytes, ctype: str, code: int = 200, headers: dict[str, str] | None = None) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # digest gave up (its deadline): expected
            respond(self, body, ctype, headers, code)


class QuietServer(ThreadingHTTPServer):
    """A server that does not print the connections digest closed at its deadline."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@contextmanager
def serving(sites: list[Site], host: str = "127.0.0.1", *, delay: float = 0.0, slow_seconds: float | None = None
            ) -> Iterator[Sites]:
    """The sites served on `host` (a loopback address) at a free port, for the length of the block."""
    state = Sites(sites={s.path: s for s in sites}, delay=delay, slow_seconds=slow_seconds)
    handler = type("BoundHandler", (Handler,), {"state": state})
    server = QuietServer((host, 0), handler)
    state.base = f"http://{host}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release()
        server.shutdown()
        server.server_close()
