"""`digest sources`, `digest build --offline`, the [fetch] table and the progress display, from the command line."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest import config
from digest.cli import main
from digest.collectors import health
from tests.conftest import ROOT, SAMPLES
from tests.feedserver import FeedServer

FETCH = """\
[fetch]
deadline = 3
retries = 0
cache_dir = "cache"

"""



@pytest.fixture
def web_config(write_config: Callable[..., Path], server: FeedServer) -> Path:
    """A sources.toml with a steady feed (items of 2025), a fresh one (items dated now) and a 404."""
    return write_config(FETCH + "".join(
        f'[[source]]\nname = "{name}"\nsection = "cuf"\nurl = "{server.url(path)}"\n\n'
        for name, path in (("stable", "/feed/stable"), ("frais", "/fresh/frais"), ("disparu", "/status/404"))))


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def lines_of(table: str, name: str) -> list[str]:
    """The table's row for source `name` and its indented lines."""
    lines = table.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(name + " "))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith(" ")), len(lines))
    return lines[start:end]


def test_sources_lists_every_source_before_any_build(web_config: Path) -> None:
    code, out, _ = run("sources", "-c", str(web_config))
    assert code == 0
    assert out.splitlines()[0].split() == ["source", "kind", "last", "success", "HTTP", "items", "newest", "item",
                                           "failures", "state"]
    for name in ("stable", "frais", "disparu"):
        row = lines_of(out, name)
        assert row[0].split()[:3] == [name, "rss", "never"] and row[0].endswith("never read")
        assert row[1].strip().startswith("http://127.0.0.1:")


def test_a_build_records_each_sources_health_for_the_table(web_config: Path, tmp_path: Path) -> None:
    code, out, err = run("build", "-c", str(web_config), "-o", str(tmp_path / "outbox"))
    assert code == 0, err
    assert "\r" not in out  # not a terminal: plain lines, no progress bar
    read = {line.split()[1]: line for line in out.splitlines() if line.startswith("  read ")}
    assert "3 items" in read["stable"] and read["stable"].endswith("HTTP 200")
    assert "failed" in read["disparu"]
    assert ("warning: disparu: HTTP 404 Not Found; no earlier copy to fall back on, so its items are missing "
            "from this letter") in err
    code, out, _ = run("sources", "-c", str(web_config))
    assert code == 0
    stable, frais, disparu = (lines_of(out, n) for n in ("stable", "frais", "disparu"))
    assert stable[0].split()[4:8] == ["200", "3", "2025-11-19", "0"]
    assert stable[0].endswith("stale (nothing new for over 31 days)")  # newest item of 2025, window 31 days
    assert frais[0].endswith("ok")
    assert disparu[0].split()[2:] == ["never", "404", "0", "-", "1", "failing"]
    assert disparu[-1].strip() == "last error: HTTP 404 Not Found"


def test_build_offline_uses_the_cache_alone(web_config: Path, tmp_path: Path, server: FeedServer) -> None:
    run("build", "-c", str(web_config), "-o", str(tmp_path / "outbox"))
    asked = len(server.requests)
    code, out, err = run("build", "--offline", "-c", str(web_config), "-o", str(tmp_path / "offline"))
    assert code == 0, err
    assert len(server.requests) == asked
    read = {line.split()[1]: line for line in out.splitlines() if line.startswith("  read ")}
    assert read["stable"].endswith("cache, just now")
    assert "disparu: --offline, and digest holds no copy of it yet" in err
    assert (tmp_path / "offline" / "2025-11-20" / "letter.html").exists()


def test_sources_check_reads_every_source_now(web_config: Path, server: FeedServer) -> None:
    code, out, err = run("sources", "--check", "-c", str(web_config))
    assert code == 0
    assert len(server.requests) == 3
    assert "warning: disparu: HTTP 404 Not Found" in err
    assert lines_of(out, "frais")[0].split()[4:6] == ["200", "3"]


def test_the_fetch_table_is_checked_with_every_problem_named(write_config: Callable[..., Path]) -> None:
    path = write_config('[fetch]\nconcurrency = 0\nretries = -1\ndeadlne = 30\n\n[[source]]\nname = "a"\n'
                        'section = "cuf"\nurl = "https://example.org/feed"\n')
    code, _, err = run("build", "-c", str(path))
    assert code == 2
    assert f"{path}: [fetch] concurrency: expected a whole number above 0, got 0" in err
    assert f"{path}: [fetch] retries: expected a whole number, 0 or more, got -1" in err
    assert "[fetch]: unknown key 'deadlne'; did you mean 'deadline'?" in err


def test_fetch_settings_default_and_cache_dir_beside_sources_toml(write_config: Callable[..., Path]) -> None:
    path = write_config('[[source]]\nname = "a"\nsection = "cuf"\nurl = "https://example.org/feed"\n')
    fetch = config.load(path).fetch
    assert (fetch.concurrency, fetch.per_host, fetch.deadline, fetch.max_bytes, fetch.retries) == (
        32, 4, 60.0, 10 * 1024 * 1024, 2)
    assert fetch.cache_dir == path.parent.resolve() / ".digest-cache"


def test_a_terminal_gets_a_progress_bar_and_the_lines(write_config: Callable[..., Path], tmp_path: Path) -> None:
    path = write_config(f'[[source]]\nname = "actus"\nsection = "cuf"\nurl = "{SAMPLES / "cuf-actualites.xml"}"\n\n'
                        f'[[source]]\nname = "agenda"\nsection = "agenda"\nurl = "{SAMPLES / "agenda.ics"}"\n')
    output = _in_terminal([sys.executable, "-m", "digest", "build", "-c", str(path), "-o", str(tmp_path / "out")])
    assert "Collecting" in output and "\x1b[K" in output
    assert output.rindex("\x1b[?25h") > output.rindex("\x1b[?25l")  # the cursor is shown again
    assert "read actus" in output and "read agenda" in output


def _in_terminal(command: list[str]) -> str:
    """Run a command with a pseudo-terminal as its output; what it printed."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(command, stdout=follower, stderr=follower, cwd=ROOT)
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 20)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the command ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=20)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("newest", "last_new", "failures", "state"), [
    (NOW - timedelta(days=10), None, 0, "ok"),
    (NOW - timedelta(days=40), None, 0, "stale"),
    (None, NOW - timedelta(days=40), 0, "stale"),  # undated items (events): when a new one last appeared
    (None, NOW - timedelta(days=5), 0, "ok"),
    (NOW - timedelta(days=40), None, 2, "failing, stale"),
    (NOW - timedelta(days=1), None, 1, "failing"),
])
def test_stale_means_nothing_new_for_longer_than_the_sections_window(
        write_config: Callable[..., Path], newest: datetime | None, last_new: datetime | None, failures: int,
        state: str) -> None:
    cfg = config.load(write_config('[[source]]\nname = "a"\nsection = "cuf"\nurl = "https://example.org/f"\n'))
    record = health.Record("a", "rss", "https://example.org/f", last_attempt=NOW.isoformat(),
                           newest_item=newest.isoformat() if newest else None,
                           last_new_item=last_new.isoformat() if last_new else None, consecutive_failures=failures)
    row = health.rows(cfg, {"a": record}, NOW)[0]
    assert row.state == state and row.window_days == 31


def test_a_build_with_every_kind_of_fault_completes_within_its_deadline(
        write_config: Callable[..., Path], server: FeedServer, tmp_path: Path) -> None:
    faults = {"lent": "/slow", "muet": "/hang", "bombe": "/gzipbomb", "page": "/html", "boucle": "/loop",
              "vide": "/empty", "casse": "/invalid-xml", "disparu": "/status/410"}
    sources = {"bon": "/feed/bon", "autre": "/redirect/2/autre", **faults}
    path = write_config("[fetch]\ndeadline = 2\nretries = 1\ncache_dir = \"cache\"\n\n" + "".join(
        f'[[source]]\nname = "{name}"\nsection = "cuf"\nurl = "{server.url(where)}"\ntimeout = 1\n\n'
        for name, where in sources.items()))
    code, _, err = run("build", "-c", str(path), "-o", str(tmp_path / "outbox"))
    assert code == 0, err
    letter = (tmp_path / "outbox" / "2025-11-20" / "letter.txt").read_text(encoding="utf-8")
    for title in ("bon #1", "bon #2", "bon #3", "autre #1", "autre #2", "autre #3"):
        assert title in letter
    warned = {line.split(":")[1].strip() for line in err.splitlines() if line.startswith("warning: ")}
    assert set(faults) <= warned
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [
        "autre.cache", "autre.items.json", "bon.cache", "bon.items.json", "health.json"]


def test_a_cache_folder_that_cannot_be_made_is_a_clear_error(write_config: Callable[..., Path]) -> None:
    path = write_config('[fetch]\ncache_dir = "sources.toml/cache"\n\n[[source]]\nname = "a"\nsection = "cuf"\n'
                        f'url = "{SAMPLES / "cuf-actualites.xml"}"\n')
    code, _, err = run("build", "-c", str(path))
    assert code == 2
    assert f"Error: cannot use the cache folder {path}/cache: Not a directory; set [fetch] cache_dir" in err
    assert "Traceback" not in err
