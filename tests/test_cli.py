"""The command line as a user meets it: what `digest build` prints, its exit codes, and no tracebacks."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from digest import __version__
from digest.cli import main

from .conftest import ROOT

FEED = (ROOT / "samples" / "cuf-actualites.xml").read_text(encoding="utf-8")
TWO_SOURCES = """
[[source]]
name = "cuf-feed"
section = "cuf"
url = "feed.xml"
[[source]]
name = "members"
section = "cuf"
url = "missing.csv"
"""


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_build_reports_sections_warnings_files_and_timings(write_config: Callable[..., Path],
                                                           tmp_path: Path) -> None:
    path = write_config(TWO_SOURCES, files={"feed.xml": FEED})
    code, out, err = run("build", "-c", str(path))
    assert code == 0, out + err
    assert "read cuf-feed" in out and "10 items" in out
    assert "Actualités CUF (cuf): 10 kept, from cuf-feed (10)" in out
    assert "warning: members: file not found:" in err and "missing.csv" in err  # named source and reason
    for name in ("letter.html", "letter.txt", "letter.mjml", "letter.eml", "digest.json"):
        assert name in out
        assert (tmp_path / "outbox" / "2025-11-20" / name).is_file()
    assert "collect" in out and "render" in out and " ms" in out
    assert "letter.html in a browser" in out


def test_date_option_and_outbox_option(write_config: Callable[..., Path], tmp_path: Path) -> None:
    path = write_config(TWO_SOURCES, files={"feed.xml": FEED})
    code, out, _ = run("build", "-c", str(path), "--date", "2025-12-01", "-o", str(tmp_path / "elsewhere"))
    assert code == 0
    assert (tmp_path / "elsewhere" / "2025-12-01" / "letter.html").is_file()
    assert "for 1 December 2025" in out


def test_strict_turns_warnings_into_failure_and_writes_nothing(write_config: Callable[..., Path],
                                                               tmp_path: Path) -> None:
    path = write_config(TWO_SOURCES, files={"feed.xml": FEED})
    code, out, err = run("build", "-c", str(path), "--strict")
    assert code == 1
    assert "--strict: 1 warning(s), nothing written" in out + err
    assert not (tmp_path / "outbox").exists()


def test_no_item_at_all_says_so_and_exits_non_zero(write_config: Callable[..., Path]) -> None:
    path = write_config(TWO_SOURCES, files={"feed.xml": FEED})
    code, out, err = run("build", "-c", str(path), "--date", "2030-01-01")
    assert code == 1
    assert "no item to send for 2030-01-01" in out + err
    assert "Traceback" not in out + err


def test_user_errors_exit_2_with_one_clear_message(write_config: Callable[..., Path]) -> None:
    path = write_config(TWO_SOURCES.replace('section = "cuf"', 'section = "cfu"', 1))
    code, out, err = run("build", "-c", str(path))
    assert code == 2
    assert "no section has id 'cfu'; did you mean 'cuf'?" in err and str(path) in err
    assert "Traceback" not in out + err
    code, _, err = run("build", "-c", str(path), "--date", "2025-02-30")
    assert code == 2 and "'2025-02-30' is not a date" in err
    code, _, err = run("build", "-c", str(path.parent / "absent.toml"))
    assert code == 2 and "file not found" in err


def test_template_error_is_a_user_error(write_config: Callable[..., Path], tmp_path: Path) -> None:
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "letter.mjml.j2").write_text("{% for %}", encoding="utf-8")
    (tmp_path / "tpl" / "letter.txt.j2").write_text("x", encoding="utf-8")
    from .conftest import LETTER_TABLE

    path = write_config(TWO_SOURCES, letter=LETTER_TABLE + 'templates = "tpl"\n', files={"feed.xml": FEED})
    code, out, err = run("build", "-c", str(path))
    assert code == 2 and "letter.mjml.j2, line 1" in err and "Traceback" not in out + err


def test_version_and_python_dash_m() -> None:
    code, out, _ = run("--version")
    assert code == 0 and __version__ in out
    result = subprocess.run([sys.executable, "-m", "digest", "--version"], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0 and f"digest, version {__version__}" in result.stdout


def test_help_explains_build() -> None:
    code, out, _ = run("build", "--help")
    assert code == 0
    for option in ("--config", "--date", "--outbox", "--strict"):
        assert option in out
