"""`digest check --links`: every link and image fetched from a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import main
from digest.review import linkcheck
from digest.review.linkcheck import Target
from tests.conftest import LETTER_TABLE


class Recorder:
    """What the server saw: (method, path) of each request, and the most requests in flight at once."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    recorder: Recorder

    def do_HEAD(self) -> None:
        self._answer("HEAD")

    def do_GET(self) -> None:
        self._answer("GET")

    def _answer(self, method: str) -> None:
        recorder = self.recorder
        with recorder.lock:
            recorder.requests.append((method, self.path))
            recorder.in_flight += 1
            recorder.most_in_flight = max(recorder.most_in_flight, recorder.in_flight)
        self.counted = True
        try:
            self._route(method)
        finally:
            self._answered()

    def _answered(self) -> None:
        """Out of flight before its answer goes: once the client has it, it may start another request at once,
        while this thread, slower under load, would otherwise still count this one."""
        if self.counted:
            self.counted = False
            with self.recorder.lock:
                self.recorder.in_flight -= 1

    def _route(self, method: str) -> None:
        path = self.path
        if path.startswith("/wait"):
            time.sleep(0.2)  # long enough for the other requests to overlap with this one
            self._status(200)
        elif path == "/slow":
            time.sleep(3)
            self._status(200)
        elif path == "/missing":
            self._status(404)
        elif path in ("/no-head", "/no-head-501", "/no-head-gone"):
            refused = 501 if path.endswith("501") else 405
            self._status(refused if method == "HEAD" else (410 if path.endswith("gone") else 200))
        elif path == "/moved":
            self._redirect("/ok")
        elif path == "/loop":
            self._redirect("/loop")
        else:
            self._status(200)

    def _status(self, code: int) -> None:
        body = b"<p>page</p>"
        self._answered()
        self.send_response(code)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(body)

    def _redirect(self, to: str) -> None:
        self._answered()
        self.send_response(302)
        self.send_header("Location", to)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # the default 5 drops simultaneous connections, which then wait a 1 s SYN retry


@pytest.fixture
def server() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()
    handler = type("BoundHandler", (Handler,), {"recorder": recorder})
    httpd = Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", recorder
    httpd.shutdown()
    httpd.server_close()


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(urls: list[str], timeout: float = 2.0) -> dict[str, linkcheck.LinkResult]:
    html = "".join(f'<a href="{u}">lien</a>' for u in urls)
    results, _ = linkcheck.check(html, timeout=timeout, allow_private=True)  # the test server is on loopback
    return {r.target.url: r for r in results}


def test_targets_are_every_http_link_and_image_once() -> None:
    html = """<a href="https://e.org/a">Lire</a> <a href="https://e.org/a">Encore</a>
      <a href="mailto:x@e.org">écrire</a> <img src="https://e.org/i.png" alt="Photo"> <a href="#top">haut</a>"""
    assert linkcheck.targets(html) == [Target("https://e.org/a", "link “Lire”"),
                                       Target("https://e.org/i.png", "image “Photo”")]


def test_good_missing_and_redirected_links(server: tuple[str, Recorder]) -> None:
    base, recorder = server
    results = run([f"{base}/ok", f"{base}/missing", f"{base}/moved"])
    assert results[f"{base}/ok"].ok and results[f"{base}/ok"].status == 200
    assert results[f"{base}/missing"].status == 404 and not results[f"{base}/missing"].ok
    assert results[f"{base}/moved"].ok  # redirects are followed to the final page
    assert ("HEAD", "/ok") in recorder.requests and ("GET", "/ok") not in recorder.requests  # HEAD is enough


@pytest.mark.parametrize("path", ["/no-head", "/no-head-501"])
def test_get_when_head_is_refused(server: tuple[str, Recorder], path: str) -> None:
    base, recorder = server
    result = run([base + path])[base + path]
    assert result.ok and result.method == "GET"
    assert [m for m, p in recorder.requests if p == path] == ["HEAD", "GET"]


def test_broken_links_become_errors_naming_status_and_url(server: tuple[str, Recorder]) -> None:
    base, _ = server
    html = (f'<a href="{base}/missing">Rapport annuel</a><a href="{base}/no-head-gone">Ancien</a>'
            f'<img src="{base}/ok" alt="Photo">')
    results, findings = linkcheck.check(html, timeout=2, allow_private=True)
    assert len(results) == 3
    assert [(f.level, f.where) for f in findings] == [("error", "link “Rapport annuel”"), ("error", "link “Ancien”")]
    assert "404 Not Found" in findings[0].message and f"{base}/missing" in findings[0].message
    assert "410" in findings[1].message and "GET" in findings[1].message


def test_timeout_refused_connection_and_redirect_loop(server: tuple[str, Recorder]) -> None:
    base, _ = server
    closed = f"http://127.0.0.1:{free_port()}/page"
    results = run([f"{base}/slow", closed, f"{base}/loop"], timeout=0.5)
    assert results[f"{base}/slow"].error == "no answer within 0.5 s"
    assert results[closed].error == "cannot connect: connection refused"
    assert "redirect" in (results[f"{base}/loop"].error or "")


def test_links_are_fetched_concurrently(server: tuple[str, Recorder]) -> None:
    base, recorder = server
    run([f"{base}/wait{i}" for i in range(8)])
    assert recorder.most_in_flight >= 4  # one at a time would never overlap


def test_concurrency_is_bounded(server: tuple[str, Recorder]) -> None:
    base, recorder = server
    html = "".join(f'<a href="{base}/wait{i}">l</a>' for i in range(8))
    linkcheck.check(html, timeout=2, concurrency=2, allow_private=True)
    assert recorder.most_in_flight == 2


def test_check_links_command_lists_broken_links(server: tuple[str, Recorder],
                                                write_config: Callable[..., Path]) -> None:
    base, _ = server
    items = [{"title": "Page vivante", "url": f"{base}/ok", "date": "2025-11-18"},
             {"title": "Page disparue", "url": f"{base}/missing", "date": "2025-11-17"}]
    # every link of the letter on the test server: `--links` fetches them all, and tests reach loopback only
    letter = LETTER_TABLE.replace("https://cites-unies-france.org", base)
    path = write_config('[[source]]\nname = "news"\nsection = "cuf"\nurl = "news.json"\n',
                        letter=letter, files={"news.json": json.dumps(items)})
    without = CliRunner().invoke(main, ["check", "-c", str(path)])
    assert "broken link" not in without.output  # nothing is fetched without --links
    result = CliRunner().invoke(main, ["check", "-c", str(path), "--links", "--timeout", "2", "--allow-private"])
    assert result.exit_code == 1, result.output
    assert "broken link" in result.output and f"{base}/missing" in result.output
    assert f"{base}/ok" not in [line.split(": ")[-1] for line in result.output.splitlines() if "broken" in line]


@pytest.mark.parametrize("allow_private", [False, True])
def test_a_name_that_does_not_resolve_is_a_finding_on_that_link(server: tuple[str, Recorder],
                                                                 allow_private: bool) -> None:
    base, _ = server
    html = f'<a href="https://nulle-part.invalid/page">perdu</a> <a href="{base}/ok">bon</a>'
    results, _ = linkcheck.check(html, timeout=2.0, allow_private=allow_private)
    found = {r.target.url: r for r in results}
    lost = found["https://nulle-part.invalid/page"]
    assert lost.status is None and lost.error == "cannot connect: unknown host name"
    assert any("nulle-part.invalid" in f.message for f in linkcheck.findings(results))
    assert found[f"{base}/ok"].status == (200 if allow_private else None)  # the guard refuses loopback
