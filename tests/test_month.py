"""A whole month as a new team lives it, in real processes from a folder `digest init` made: a trial build, the
draft, the real letter, its list send to a real SMTP server, the archive published and served at base_url.

The trial letter (dated today, built first) must never become the target once the real one went out: no command
offers it, the archive does not list it, and `digest discard` takes it away."""

from __future__ import annotations

import contextlib
import email
import email.policy
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlparse

import feedparser
import httpx
import pytest

from tests import installed
from tests.send_support import SECRET
from tests.smtp_sink import Sink

TODAY = date.today()
REAL = TODAY + timedelta(days=3)  # the real letter, built after the trial and dated later


def digest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`digest ARGS` in the letter's folder, as the team types it."""
    env = {**os.environ, "DIGEST_SECRET": SECRET}
    return subprocess.run([*installed.command(), *args], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def ok(folder: Path, *args: str) -> str:
    result = digest(folder, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


@pytest.fixture
def lettre(tmp_path: Path) -> Iterator[tuple[Path, Sink]]:
    """A folder made by `digest init`, sending to a real SMTP server on 127.0.0.1, with three subscribers."""
    ok(tmp_path, "init", "lettre")
    folder = tmp_path / "lettre"
    with Sink() as sink:
        with (folder / "sources.toml").open("a", encoding="utf-8") as toml:
            toml.write(f'\n[smtp]\nhost = "127.0.0.1"\nport = {sink.port}\nsecurity = "none"\nretry_wait = 0\n')
        (folder / "abonnes.csv").write_text("email;nom\nanne@example.org;Anne\nbob@example.org;Bob\n"
                                            "chloe@example.org;Chloé\n", encoding="utf-8")
        yield folder, sink


def test_a_month_from_init_to_the_served_archive(lettre: tuple[Path, Sink], tmp_path: Path) -> None:
    folder, sink = lettre
    ok(folder, "build")  # the trial build the README suggests after init: dated today
    ok(folder, "draft", "--date", REAL.isoformat())
    assert (folder / "issues" / f"{REAL:%Y-%m}.toml").is_file()
    ok(folder, "build", "--date", REAL.isoformat())

    sent = ok(folder, "send", "--list", "abonnes.csv", "--yes")  # no --date: the newest letter not yet sent
    assert f"Letter {REAL.isoformat()}" in sent and "also not sent" in sent
    copies = [email.message_from_bytes(r.raw, policy=email.policy.default) for r in sink.recorder.received]
    assert len(copies) == 3 and all(f"l={REAL.isoformat()}" in str(c["List-Unsubscribe"]) for c in copies)

    # The trial letter is superseded: listed as such, never offered again, not published, then discarded.
    letters = ok(folder, "letters")
    assert f"{TODAY.isoformat()} " in letters and "superseded (never sent; a later letter was)" in letters
    again = digest(folder, "send", "--list", "abonnes.csv", "--yes")
    assert again.returncode == 2 and "every letter in" in again.stderr and len(sink.recorder.received) == 3
    published = ok(folder, "publish", "site")
    site = folder / "site"
    assert sorted(p.name for p in site.iterdir()) == [REAL.isoformat(), "feed.xml", "index.html"], published
    index = (site / "index.html").read_text(encoding="utf-8")
    assert re.search(rf"{REAL.day}\u00a0\w+\u00a0{REAL.year}", index) and TODAY.isoformat() + "/" not in index
    assert '<link rel="alternate" type="application/atom+xml"' in index and "9 rue Christiani" in index
    assert '<link rel="alternate" type="application/atom+xml"' in (site / REAL.isoformat() / "letter.html").read_text()
    atom = feedparser.parse((site / "feed.xml").read_bytes())
    assert atom.bozo == 0 and [e.link for e in atom.entries] == [
        f"https://cites-unies-france.org/lettre/{REAL.isoformat()}/letter.html"]
    assert atom.entries[0].title == copies[0]["Subject"] and atom.entries[0].id == atom.entries[0].link
    for private in ("anne@example.org", "t=", "desinscription"):  # no address, no token, no unsubscribe line
        assert private not in (site / "feed.xml").read_text(encoding="utf-8"), private
    discarded = ok(folder, "discard", TODAY.isoformat())
    assert "To bring it back: mv " in discarded and not (folder / "outbox" / TODAY.isoformat()).exists()
    assert (folder / "sends" / "discarded" / TODAY.isoformat() / "letter.html").is_file()
    refused = digest(folder, "discard", REAL.isoformat())
    assert refused.returncode == 2 and "has begun" in refused.stderr

    # digest serve answers every link the letter carries: its web version at base_url, the unsubscribe link.
    html = (folder / "outbox" / REAL.isoformat() / "letter.html").read_text(encoding="utf-8")
    web = next(u for u in re.findall(r'href="([^"]+)"', html) if u.endswith(f"{REAL.isoformat()}/letter.html"))
    unsubscribe = str(copies[0]["List-Unsubscribe"]).split(",")[0].strip("<> ")
    with serving(folder, site) as base:
        page = httpx.get(base + urlparse(web).path)
        assert page.status_code == 200 and page.text == (site / REAL.isoformat() / "letter.html").read_text()
        assert httpx.get(base + "/lettre/").status_code == 200  # the archive
        parsed = urlparse(unsubscribe)
        assert "Me désinscrire" in httpx.get(f"{base}{parsed.path}?{parsed.query}").text


@contextlib.contextmanager
def serving(folder: Path, site: Path) -> Iterator[str]:
    """`digest serve --site` on a free port of 127.0.0.1, for as long as the block runs; its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DIGEST_SECRET": SECRET}
    process = subprocess.Popen([*installed.command(), "serve", "--port", str(port), "--site", str(site)],
                               cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None, "digest serve did not start"
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
