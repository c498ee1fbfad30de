"""Sending over STARTTLS and implicit TLS, with a login whose password comes from the environment."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests import programs
from tests.send_support import SECRET, digest, setup, subscribers
from tests.smtp_sink import Sink


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with openssl (the client trusts it via SSL_CERT_FILE)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([programs.need("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, certificate: tuple[Path, Path]) -> None:
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    monkeypatch.setenv("LETTER_SMTP_PASSWORD", "s3cr3t-p4ss")


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    return context


class Logins:
    """An authenticator that accepts one login and remembers every attempt."""

    def __init__(self) -> None:
        self.seen: list[tuple[bytes, bytes]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.seen.append((data.login, data.password))
        return AuthResult(success=(data.login, data.password) == (b"lettre", b"s3cr3t-p4ss"), handled=False)


SMTP_LOGIN = 'username = "lettre"\npassword_env = "LETTER_SMTP_PASSWORD"\n'


def test_starttls_with_a_login_from_the_environment(tmp_path: Path, built: Path,
                                                    certificate: tuple[Path, Path]) -> None:
    logins = Logins()
    with Sink(tls_context=server_context(certificate), require_starttls=True, authenticator=logins,
              auth_require_tls=True) as sink:
        cfg = setup(tmp_path, built, sink.port, smtp=SMTP_LOGIN)
        cfg.write_text(cfg.read_text().replace('security = "none"', 'security = "starttls"'))
        result = digest("send", "-c", str(cfg), "--yes", "--list", str(subscribers(tmp_path / "s.csv", 3)))
        assert result.exit_code == 0, result.output
    assert logins.seen == [(b"lettre", b"s3cr3t-p4ss")]
    assert len(sink.recorder.received) == 3
    assert "s3cr3t" not in cfg.read_text()


def test_implicit_tls_and_a_refused_login(tmp_path: Path, built: Path, certificate: tuple[Path, Path],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    logins = Logins()
    with Sink(ssl_context=server_context(certificate), authenticator=logins, auth_require_tls=False) as sink:
        cfg = setup(tmp_path, built, sink.port, smtp=SMTP_LOGIN)
        cfg.write_text(cfg.read_text().replace('security = "none"', 'security = "ssl"'))
        ok = digest("send", "-c", str(cfg), "--to", "moi@example.org")
        assert ok.exit_code == 0, ok.output
        monkeypatch.setenv("LETTER_SMTP_PASSWORD", "wrong")
        refused = digest("send", "-c", str(cfg), "--to", "moi@example.org")
    assert refused.exit_code == 1
    assert "refused the login of lettre: 535" in refused.output
    assert len(sink.recorder.received) == 1


def test_a_missing_password_variable_is_a_users_error(tmp_path: Path, built: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LETTER_SMTP_PASSWORD")
    cfg = setup(tmp_path, built, 25, smtp=SMTP_LOGIN)
    cfg.write_text(cfg.read_text().replace('host = "127.0.0.1"', 'host = "smtp.example.org"'))
    result = digest("send", "-c", str(cfg), "--to", "moi@example.org")
    assert result.exit_code == 2
    assert "LETTER_SMTP_PASSWORD is empty" in result.output
