"""HTTPS: certificates are verified (a self-signed one is refused in plain words), SSL_CERT_FILE is honoured."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.feedserver import FeedServer, Handler
from tests.test_fetch import collect, settings, titles, web

TLS = Path(__file__).resolve().parent / "tls"


@pytest.fixture(scope="module")
def https_base() -> Iterator[str]:
    """An HTTPS feed server on 127.0.0.1 with the self-signed certificate of tests/tls/."""
    state = FeedServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), type("TLSHandler", (Handler,), {"server_state": state}))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(TLS / "cert.pem", TLS / "key.pem")
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}"
    finally:
        state.stopping.set()
        httpd.shutdown()
        httpd.server_close()


def test_an_untrusted_certificate_is_refused_in_plain_words(https_base: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    results, _ = collect([web("secure", f"{https_base}/feed/secure")], settings(tmp_path))
    assert results["secure"].failed and not results["secure"].items
    message = str(results["secure"].problems[0])
    assert message.startswith("secure: the site's certificate is not trusted (self-signed certificate)"), message


def test_a_certificate_trusted_through_ssl_cert_file_is_accepted(https_base: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(TLS / "cert.pem"))
    results, _ = collect([web("secure", f"{https_base}/feed/secure")], settings(tmp_path))
    assert titles(results["secure"]) == ["secure #1", "secure #2", "secure #3"]
