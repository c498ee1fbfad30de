"""A real HTTP server on 127.0.0.1 for the fetch tests: good feeds and every way the web fails.

Each path is one behaviour: /feed/<name> (a good RSS feed with ETag and Last-Modified, honouring conditional
GET), /fresh/<name> (items dated now), /slow (one byte per second), /hang (never answers), /status/<code>,
/flaky/<key> (500 once, then the feed), /redirect/<n>/<name> (a chain of 301/302 ending on a feed), /loop and
/loop-a <-> /loop-b, /big (over the cap, announced), /big-chunked (over the cap, no length), /gzipbomb,
/gzip/<name>, /deflate/<name>,
/rawdeflate/<name>, /large/<name> (400 KB), /large-then-slow (300 KB, then nothing), /html, /invalid-xml,
/not-a-feed, /latin1, /cp1252, /empty, /blank, /truncated, /mojibake, /csv-broken, /switch/<name> (what
`server.switch[name]` says: "feed", "html", "404", ...).
Every request is logged with its headers and times.
"""

from __future__ import annotations

import functools
import gzip
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

MB = 1024 * 1024
REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names resolve to loopback only: no test reaches the network, not even the machine's DNS resolver.

    This machine's resolver is a remote server, so a lookup of a `.invalid` name (RFC 6761: never resolves)
    would send a query off the machine. Such names fail here exactly as the resolver would fail them, with
    socket.gaierror EAI_NONAME, before any packet leaves; any other non-loopback name fails the test.
    """

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name.endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if name not in ("localhost", "::1") and not name.startswith("127."):  # 127.0.0.0/8 is all loopback
            raise AssertionError(f"a test tried to resolve {name!r}: only loopback is allowed")
        return REAL_GETADDRINFO(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


def rss(name: str, count: int = 3, encoding: str = "utf-8", declare: bool = True, titles: list[str] | None = None,
        day: int = 19, dated: str | None = None) -> bytes:
    """A small RSS 2.0 feed whose items are titled '<name> #<n>' (or `titles`), encoded as asked."""
    titles = titles or [f"{name} #{n}" for n in range(1, count + 1)]
    items = "".join(
        f"<item><title>{title}</title><link>https://example.org/{name}/{n}</link><guid>{name}-{n}</guid>"
        f"<pubDate>{dated or f'Wed, {day} Nov 2025 10:0{n % 10}:00 +0000'}</pubDate>"
        f"<description>Résumé de {title}</description>"
        "</item>" for n, title in enumerate(titles, 1))
    declaration = f'<?xml version="1.0" encoding="{encoding}"?>' if declare else ""
    text = (f'{declaration}<rss version="2.0"><channel><title>{name}</title><link>https://example.org/</link>'
            f"{items}</channel></rss>")
    return text.encode(encoding)


@dataclass
class FeedServer:
    """The running server: its base URL, the requests it saw, and switches the tests flip."""

    base: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    switch: dict[str, str] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        """The absolute address of `path` on this server."""
        return self.base + path

    def hits(self, path: str) -> list[dict[str, Any]]:
        """The requests made for `path`."""
        return [r for r in self.requests if r["path"] == path]

    def most_at_once(self, prefix: str) -> int:
        """The most requests for paths starting with `prefix` that the server handled at the same time."""
        spans = [(r["start"], r.get("answered", r.get("end", float("inf")))) for r in self.requests
                 if r["path"].startswith(prefix)]
        return max((sum(1 for s, e in spans if s <= start < e) for start, _ in spans), default=0)


def respond(handler: BaseHTTPRequestHandler, body: bytes, ctype: str, headers: dict[str, str] | None = None,
            code: int = 200) -> None:
    """An answer with its length and type (and these headers), as every test server sends one."""
    handler.send_response(code)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


class Handler(BaseHTTPRequestHandler):
    """Routes each path to a behaviour of the feed server."""

    server_state: FeedServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the tests read server.requests instead
        pass

    def do_GET(self) -> None:
        state = self.server_state
        record: dict[str, Any] = {"path": self.path, "headers": dict(self.headers), "start": time.monotonic()}
        with state.lock:
            state.requests.append(record)
        self.record = record
        try:
            if state.delay:
                time.sleep(state.delay)
            self.route(self.path.strip("/").split("/"))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a deadline, a cap): expected in these tests
        finally:
            record["end"] = time.monotonic()

    def route(self, parts: list[str]) -> None:
        head, rest = parts[0], parts[1:]
        simple = {
            "html": lambda: self.send(b"<!DOCTYPE html><html><body><h1>Maintenance</h1></body></html>",
                                      "text/html; charset=utf-8"),
            "invalid-xml": lambda: self.send(b'<?xml version="1.0"?><rss><channel><item><title>A</titl',
                                             "application/rss+xml"),
            "not-a-feed": lambda: self.send(b'<?xml version="1.0"?><config><value>1</value></config>',
                                            "application/xml"),
            "latin1": lambda: self.send(rss("latin1", titles=["Coopération décentralisée", "Été à Lyon"],
                                            encoding="iso-8859-1"), "application/rss+xml"),
            "cp1252": lambda: self.send(rss("cp1252", titles=["L’été – œuvres à 5 €", "Coopération"],
                                            encoding="cp1252", declare=False), "application/rss+xml"),
            "mojibake": lambda: self.send(rss("mojibake", titles=["CoopÃ©ration dÃ©centralisÃ©e", "a &amp;amp;lt; b",
                                                                           "Tom &amp;amp; Jerry"]),
                                          "application/rss+xml"),
            "empty": lambda: self.send(b"", "application/rss+xml"),
            "blank": lambda: self.send(b"\n  \n", "application/rss+xml"),
            "slow": self.slow,
            "hang": self.hang,
            "loop": lambda: self.redirect(301, "/loop"),
            "loop-a": lambda: self.redirect(302, "/loop-b"),
            "loop-b": lambda: self.redirect(302, "/loop-a"),
            "big": lambda: self.send(b" " * (2 * MB), "application/rss+xml"),
            "big-chunked": self.big_chunked,
            "gzipbomb": self.gzipbomb,
            "truncated": self.truncated,
            "csv-broken": lambda: self.send(
                b"title;url;date\nPremier;https://example.org/1;2025-11-18\nCass\xc3\xa9e;https://example.org/c;31/02/2025\n"
                b"Deux;https://example.org/2;2025-11-19\nTrois;https://example.org/3;2025-11-19;de trop\n", "text/csv"),
        }
        if head in simple:
            simple[head]()
        elif head == "feed":
            self.feed(rest[0])
        elif head == "large":
            self.feed(rest[0], rss(rest[0], titles=[f"{rest[0]} #{n} " + "x" * 4000 for n in range(1, 101)]))
        elif head == "large-then-slow":
            self.large_then_slow()
        elif head == "fresh":
            self.send(rss(rest[0], dated=formatdate(usegmt=True)), "application/rss+xml")
        elif head == "deflate":  # zlib-wrapped, as RFC 9110 says; "rawdeflate": bare, as some servers send it
            self.send(zlib.compress(rss(rest[0])), "application/rss+xml", {"Content-Encoding": "deflate"})
        elif head == "rawdeflate":
            packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
            self.send(packer.compress(rss(rest[0])) + packer.flush(), "application/rss+xml",
                      {"Content-Encoding": "deflate"})
        elif head == "gzip":
            self.send(gzip.compress(rss(rest[0])), "application/rss+xml", {"Content-Encoding": "gzip"})
        elif head == "status":
            self.send(b"<html>error</html>", "text/html", code=int(rest[0]))
        elif head == "flaky":
            self.flaky(rest[0])
        elif head == "redirect":
            hops = int(rest[0])
            target = f"/redirect/{hops - 1}/{rest[1]}" if hops > 1 else f"/feed/{rest[1]}"
            self.redirect(301 if hops % 2 else 302, target)
        elif head == "switch":
            self.switched(rest[0])
        else:
            self.send(b"not found", "text/plain", code=404)

    def send_response(self, code: int, message: str | None = None) -> None:
        """Mark the request answered before its first byte goes: once the client has the answer it may start its
        next request, while this thread (slower under load) has not finished yet."""
        getattr(self, "record", {}).setdefault("answered", time.monotonic())
        super().send_response(code, message)

    def send(self, body: bytes, ctype: str, headers: dict[str, str] | None = None, code: int = 200) -> None:
        respond(self, body, ctype, headers, code)

    def feed(self, name: str, body: bytes | None = None) -> None:
        body = body if body is not None else rss(name)
        etag = f'"{name}-{len(body)}"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send(body, "application/rss+xml; charset=utf-8",
                  {"ETag": etag, "Last-Modified": "Wed, 19 Nov 2025 10:00:00 GMT"})

    def flaky(self, key: str) -> None:
        with self.server_state.lock:
            count = self.server_state.counters.get(key, 0)
            self.server_state.counters[key] = count + 1
        if count == 0:
            self.send(b"<html>oops</html>", "text/html", code=500)
        else:
            self.feed(key)

    def switched(self, name: str) -> None:
        mode = self.server_state.switch.get(name, "feed")
        if mode == "feed":
            self.feed(name)
        elif mode == "feed2":
            self.feed(name, rss(name, titles=[f"{name} nouveau", f"{name} #1"], day=20))
        elif mode == "html":
            self.send(b"<!doctype html><html><body>Erreur</body></html>", "text/html")
        else:
            self.send(b"gone", "text/plain", code=int(mode))

    def redirect(self, code: int, location: str) -> None:
        self.send_response(code)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def slow(self) -> None:
        body = rss("slow")
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for byte in body:  # one byte per second: never a read timeout, always too slow
            if self.server_state.stopping.wait(1.0):
                return
            self.wfile.write(bytes([byte]))
            self.wfile.flush()

    def large_then_slow(self) -> None:
        body = rss("lent", titles=[f"lent #{n} " + "x" * 4000 for n in range(1, 101)])
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:300_000])  # past the point where a body goes to a temporary file...
        self.wfile.flush()
        self.server_state.stopping.wait(30)  # ...then nothing more

    def hang(self) -> None:
        self.server_state.stopping.wait(30)

    def big_chunked(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"x" * 65536
        for _ in range(64):  # 4 MB, with no length announced
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def gzipbomb(self) -> None:
        self.send(gzip_bomb(), "application/rss+xml", {"Content-Encoding": "gzip"})

    def truncated(self) -> None:
        body = rss("truncated")
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body) + 500))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.close_connection = True


@functools.cache
def gzip_bomb() -> bytes:
    """64 MB of zeros, gzipped to about 64 KB: small on the wire, far past any cap once decoded."""
    return gzip.compress(b"\0" * (64 * MB), compresslevel=9)


@contextmanager
def serve() -> Iterator[FeedServer]:
    """Run a FeedServer on 127.0.0.1 (a free port) for the duration of the block."""
    state = FeedServer()
    handler = type("BoundHandler", (Handler,), {"server_state": state})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stopping.set()
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def running_server() -> Iterator[FeedServer]:
    """One feed server for a test module."""
    with serve() as running:
        yield running


@pytest.fixture
def server(running_server: FeedServer) -> FeedServer:
    """The module's feed server, its request log and counters emptied for this test."""
    running_server.requests.clear()
    running_server.counters.clear()
    return running_server


@pytest.fixture
def http_servers() -> Iterator[Callable[[str, type[BaseHTTPRequestHandler]], str]]:
    """Start HTTP servers on given loopback addresses (any free port) with a handler class; all stopped after the
    test. `start(host, handler)` gives the server's base URL."""
    running: list[ThreadingHTTPServer] = []

    def start(host: str, handler: type[BaseHTTPRequestHandler]) -> str:
        httpd = ThreadingHTTPServer((host, 0), handler)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        running.append(httpd)
        return f"http://{host}:{httpd.server_address[1]}"

    yield start
    for httpd in running:
        httpd.shutdown()
        httpd.server_close()
