"""Shared by the send tests: a built letter to send, a sources.toml pointing at a test server, a subscribers CSV."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from digest.cli import main
from tests.conftest import LETTER_DATE, ROOT, SAMPLES
from tests.smtp_sink import Sink

SECRET = "test-secret-0123456789-abcdefghij"
# Long enough that a folded header would break it, with an '&' that HTML must escape.
LONG_UNSUBSCRIBE = ("https://cites-unies-france.org/lettre/desinscription/confirmer-votre-choix-de-ne-plus-recevoir"
                    "-la-lettre-mensuelle?liste=lettre-de-cuf&origine=courriel")
ACCENTED_TITLE = "La Lettre de Cités Unies France"
DAY = LETTER_DATE.isoformat()


def config_text(port: int, smtp: str = "") -> str:
    """The project's sources.toml with an accented title, a long unsubscribe URL and an [smtp] table."""
    text = (ROOT / "sources.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^unsubscribe_url = .*$', f'unsubscribe_url = "{LONG_UNSUBSCRIBE}"', text)
    text = re.sub(r'(?m)^title = "La Lettre de CUF"$', f'title = "{ACCENTED_TITLE}"', text)
    text = text.replace('url = "samples/', f'url = "{SAMPLES}/')
    return text + f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\nretry_wait = 0\n{smtp}'


def build_letter(folder: Path) -> Path:
    """Build the letter with config_text() into folder/outbox; the outbox."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sources.toml").write_text(config_text(25), encoding="utf-8")
    result = CliRunner().invoke(main, ["build", "-c", str(folder / "sources.toml")])
    assert result.exit_code == 0, result.output
    return folder / "outbox"


def setup(tmp_path: Path, built: Path, port: int, smtp: str = "") -> Path:
    """A copy of the built outbox and a sources.toml for the server on `port`, in tmp_path; the config's path."""
    shutil.copytree(built / DAY, tmp_path / "outbox" / DAY)
    path = tmp_path / "sources.toml"
    path.write_text(config_text(port, smtp), encoding="utf-8")
    return path


def subscribers(path: Path, count: int, extra: str = "") -> Path:
    """A CSV of `count` subscribers user000@example.org... (named), plus `extra` lines."""
    lines = ["email;name;unsubscribed"] + [f"user{i:03d}@example.org;Abonné {i};" for i in range(count)]
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def digest(*args: str) -> Result:
    """Run the CLI in this process."""
    return CliRunner().invoke(main, list(args))



@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The letter, built once for every send test (each test sends from its own copy, see setup)."""
    return build_letter(tmp_path_factory.mktemp("built"))


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The unsubscribe secret in its environment variable (a module uses it with pytest.mark.usefixtures)."""
    monkeypatch.setenv("DIGEST_SECRET", SECRET)


@pytest.fixture
def sink() -> Iterator[Sink]:
    """A real SMTP server on 127.0.0.1 for one test."""
    with Sink() as server:
        yield server


def waited(found: Callable[[], Any], seconds: float = 90.0) -> Any:
    """What `found` gives once it is true: a server (its courier, its clock) works on its own time; the deadline
    only ends a test that would otherwise hang."""
    deadline = time.monotonic() + seconds
    while not (result := found()):
        assert time.monotonic() < deadline, "never came"
        time.sleep(0.05)
    return result
