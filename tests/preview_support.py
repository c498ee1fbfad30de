"""A copy of the default project in a temporary folder, and the editorial desk running on it, for the tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import httpx

from digest.review import desk, preview
from digest.web import layer
from tests.conftest import ROOT, SAMPLES


def make_site(folder: Path) -> Path:
    """Copy the templates and samples into `folder`, with a sources.toml using them; return its path.

    The tests edit these copies, never the project's own templates (other work may be changing them).
    """
    shutil.copytree(ROOT / "templates", folder / "templates")
    shutil.copytree(SAMPLES, folder / "samples")
    text = (ROOT / "sources.toml").read_text(encoding="utf-8")
    assert "\n[letter]\n" in text
    text = text.replace("\n[letter]\n", '\n[letter]\ntemplates = "templates"\n', 1)
    path = folder / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


COOKIES: dict[str, str] = {}  # each running desk's base URL: the Cookie header its login gave


def login(server: desk.Running) -> str:
    """Open the URL with the one-time key as a browser does; the Cookie header the desk set, checked."""
    answer = httpx.get(server.login_url(), follow_redirects=False, timeout=10)
    assert answer.status_code == 200 and f'content="0;url={server.desk.prefix}"' in answer.text, answer.text
    set_cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=strict" in set_cookie, set_cookie
    assert f"Path={server.desk.prefix}" in set_cookie, set_cookie  # no other listener of the machine gets it
    return f"{layer.COOKIE}={answer.cookies[layer.COOKIE]}"


def cookie_for(url: str) -> dict[str, str]:
    """The Cookie header of the running desk `url` belongs to (none for another URL)."""
    return next(({"Cookie": c} for base, c in COOKIES.items() if url.startswith(base)), {})


@contextmanager
def running(config_path: Path, *, logged_in: bool = True, letter_date: date | None = None
            ) -> Iterator[tuple[preview.Preview, desk.Running]]:
    """The desk for `config_path` (the letter of `letter_date`, else its default) served on a free port of
    127.0.0.1 (logged in, as its user is, unless told), stopped afterwards."""
    session = preview.Preview(config_path, letter_date, outbox=config_path.parent / "outbox")
    server = desk.Running(session).start()
    session.start_watching(timeout=30)
    if logged_in:
        COOKIES[server.url] = login(server)
    try:
        yield session, server
    finally:
        COOKIES.pop(server.url, None)
        server.stop()
        session.stop()


def with_issue(folder: Path) -> Path:
    """The project's commented issue file of November 2025, copied into the site; its path."""
    path = folder / "issues" / "2025-11.toml"
    path.parent.mkdir(exist_ok=True)
    shutil.copy(ROOT / "issues" / "2025-11.toml", path)
    return path


def edit(path: Path, old: str, new: str) -> None:
    """Replace `old` (which must be there) by `new` in a file."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
