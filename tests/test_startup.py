"""Start-up: a command imports what it uses. `python -X importtime` lists every module a real process loads."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import ROOT

# What the build's rendering and web collection load; none of it is needed to print help or read a journal.
HEAVY = ("premailer", "cssutils", "feedparser", "icalendar", "recurring_ical_events", "httpx", "mjml")
CSV = "title;url;date\nFonds Vietnam;https://e.org/vietnam;19/11/2025\n"


def imported(*args: str, cwd: Path = ROOT) -> set[str]:
    """The top-level modules a `python -m digest ARGS` process imported."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "digest", *args], cwd=cwd,
                            capture_output=True, text=True, timeout=120)
    names = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    assert names, result.stderr[-2000:]
    return names


@pytest.mark.parametrize("args", [("--help",), ("build", "--help"), ("send", "--status"), ("sources",), ("letters",),
                                  ("send", "--help"), ("subscribers", "list"), ("subscribers", "stats"),
                                  ("serve", "--help"), ("bounces", "--help"), ("publish", "--help")])
def test_light_commands_import_nothing_heavy(args: tuple[str, ...]) -> None:
    loaded = imported(*args)
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_a_build_from_local_files_loads_no_web_client_no_feedparser(tmp_path: Path) -> None:
    """The default letter: SPIP's plain RSS read without feedparser, local files only, so no httpx."""
    loaded = imported("build", "-c", str(ROOT / "sources.toml"), "-o", str(tmp_path / "outbox"))
    assert "httpx" not in loaded and "feedparser" not in loaded
    # four sources are parsed in-process: no worker pool, so neither multiprocessing nor PIL (no [look] logo)
    assert "multiprocessing" not in loaded and "PIL" not in loaded
    assert "premailer" in loaded  # the letter was rendered: the check above looked at a real build


def test_a_csv_letter_without_editorial_loads_no_calendar_or_markdown(write_config: Callable[..., Path]) -> None:
    path = write_config('[[source]]\nname = "news"\nsection = "cuf"\nurl = "news.csv"\n', files={"news.csv": CSV})
    loaded = imported("build", "-c", str(path))
    assert loaded.isdisjoint({"httpx", "feedparser", "recurring_ical_events", "markdown_it", "nh3"}), loaded
    assert "mjml" in loaded
