"""Hardening, class 8: `digest check --links` never reaches a private or local address taken from the letter."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import main
from digest.review import linkcheck
from digest.review.linkcheck import Target
from tests.conftest import LETTER_TABLE


class Seen(BaseHTTPRequestHandler):
    """Records each request; answers 200, or a redirect to `to` when set."""

    requests: list[tuple[str, str]]
    to: str = ""

    def do_HEAD(self) -> None:
        self.requests.append(("HEAD", self.path))
        self.send_response(302 if self.to else 200)
        if self.to:
            self.send_header("Location", self.to)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self.do_HEAD()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def servers(http_servers: Callable[[str, type[Seen]], str]) -> Callable[[str, str], tuple[str, list[tuple[str, str]]]]:
    """start(host, to): a server on `host` that records what it is asked (and redirects to `to`, if given)."""

    def start(host: str, to: str = "") -> tuple[str, list[tuple[str, str]]]:
        requests: list[tuple[str, str]] = []
        return http_servers(host, type("H", (Seen,), {"requests": requests, "to": to})), requests

    return start


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "100.64.0.1",
                                     "::1", "fe80::1", "fd00:ec2::254", "::ffff:127.0.0.1", "0.0.0.0", "224.0.0.1"])
def test_outbound_private_loopback_link_local_and_metadata_addresses_are_not_public(address: str) -> None:
    assert not linkcheck.is_public(address)


def test_outbound_public_addresses_are(servers: object) -> None:
    assert linkcheck.is_public("93.184.216.34") and linkcheck.is_public("2606:4700::1111")


def test_outbound_a_letters_link_to_a_local_server_receives_no_request(
        servers: Callable[[str, str], tuple[str, list[tuple[str, str]]]],
        write_config: Callable[..., Path]) -> None:
    admin, requests = servers("127.0.0.1", "")
    items = [{"title": "Piège", "url": f"{admin}/admin/delete-all", "date": "2025-11-18"},
             {"title": "Par son nom", "url": f"http://localhost:{admin.rsplit(':', 1)[1]}/admin/x",
              "date": "2025-11-17"}]
    letter = LETTER_TABLE.replace("https://cites-unies-france.org", admin)  # every link of the letter is local
    path = write_config('[[source]]\nname = "news"\nsection = "cuf"\nurl = "news.json"\n',
                        letter=letter, files={"news.json": json.dumps(items)})
    result = CliRunner().invoke(main, ["check", "-c", str(path), "--links", "--timeout", "2"])
    assert requests == []
    assert "private link" in result.output and f"{admin}/admin/delete-all" in result.output
    assert "a private or local address" in result.output and "--allow-private" in result.output
    allowed = CliRunner().invoke(main, ["check", "-c", str(path), "--links", "--timeout", "2", "--allow-private"])
    assert ("HEAD", "/admin/delete-all") in requests and "private-link" not in allowed.output


def test_outbound_a_redirect_to_a_private_address_is_not_followed(
        servers: Callable[[str, str], tuple[str, list[tuple[str, str]]]]) -> None:
    inner, inner_requests = servers("127.0.0.2", "")
    outer, outer_requests = servers("127.0.0.1", f"{inner}/admin/delete-all")
    # 127.0.0.1 stands for a public site here; 127.0.0.2 for the reader's private network.
    results = asyncio.run(linkcheck.fetch_all([Target(f"{outer}/page", "link")], timeout=2,
                                              policy=lambda ip: ip == "127.0.0.1"))
    assert outer_requests == [("HEAD", "/page")] and inner_requests == []
    assert results[0].private and results[0].error == "not fetched: 127.0.0.2, a private or local address"


def test_outbound_a_proxy_from_the_environment_is_not_used_by_the_guarded_check(
        servers: Callable[[str, str], tuple[str, list[tuple[str, str]]]], monkeypatch: pytest.MonkeyPatch) -> None:
    proxy, proxied = servers("127.0.0.1", "")
    inner, inner_requests = servers("127.0.0.2", "")
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    results = asyncio.run(linkcheck.fetch_all([Target(f"{inner}/admin", "link")], timeout=2,
                                              policy=lambda ip: ip == "127.0.0.1"))
    assert proxied == [] and inner_requests == [] and results[0].private
