"""Shared fixtures: the project's paths, a config writer, an Item factory and a letter date."""

from __future__ import annotations

import os
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from digest import config, i18n
from digest.model import Item

# The feed server's fixtures, and its guard that every test resolves loopback names only (autouse: no test
# reaches the network, not even the machine's DNS resolver).
pytest_plugins = ["tests.feedserver", "tests.send_support"]

ROOT = Path(__file__).resolve().parent.parent

# Compiled templates are cached in the user's cache folder (digest.renderer): the tests, and the processes they
# start, keep theirs in a folder of their own instead of the cache of whoever runs them.
os.environ.setdefault("XDG_CACHE_HOME", tempfile.mkdtemp(prefix="digest-test-cache-"))
# The tests read digest's messages in English (the language of the code), unless a test asks for French: the
# processes they start inherit DIGEST_LANG, the in-process calls i18n.use.
os.environ["DIGEST_LANG"] = "en"
i18n.use("en")
SAMPLES = ROOT / "samples"
LETTER_DATE = date(2025, 11, 20)

LETTER_TABLE = """\
[letter]
title = "La Lettre de CUF"
date = "2025-11-20"
base_url = "https://cites-unies-france.org/lettre/"
unsubscribe_url = "https://cites-unies-france.org/lettre/desinscription"
from = "Cités Unies France <lettre@cites-unies-france.org>"
"""

SECTIONS = """\
[[section]]
id = "cuf"
title = "Actualités CUF"
kind = "news"
max_items = 10
window_days = 31

[[section]]
id = "agenda"
title = "Agenda"
kind = "agenda"
horizon_days = 180
"""

# Two CSV sources, one a section: the editorial tests' usual pair.
NEWS_AND_EVENTS = """
[[source]]
name = "news"
section = "cuf"
url = "news.csv"
[[source]]
name = "events"
section = "agenda"
url = "events.csv"
"""


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a sources.toml in tmp_path from the [letter] table, SECTIONS and the given sources text."""

    def write(sources: str, *, letter: str = LETTER_TABLE, sections: str = SECTIONS,
              files: dict[str, str | bytes] | None = None) -> Path:
        for name, content in (files or {}).items():
            target = tmp_path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
        path = tmp_path / "sources.toml"
        path.write_text(letter + "\n" + sections + "\n" + textwrap.dedent(sources), encoding="utf-8")
        return path

    return write


@pytest.fixture
def default_config() -> config.Config:
    """The project's own sources.toml, which builds the default letter from samples/."""
    return config.load(ROOT / "sources.toml")


def make_item(title: str = "Une actualité", **fields: Any) -> Item:
    """An Item with sensible defaults; any field can be given."""
    values: dict[str, Any] = {
        "uid": fields.pop("uid", None) or f"uid:{title}",
        "source": "test",
        "title": title,
        "url": f"https://example.org/{abs(hash(title))}",
        "date": datetime(2025, 11, 19, 9, 0, tzinfo=UTC),
    }
    values.update(fields)
    return Item(**values)


@pytest.fixture
def french(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The team's language for this test: digest speaks French here and in the processes it starts."""
    monkeypatch.setenv("DIGEST_LANG", "fr")
    i18n.use("fr")
    yield
    i18n.use("en")


def plain(text: str) -> str:
    """`text` with French typography's no-break spaces as plain spaces, to compare with what a test writes."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")
