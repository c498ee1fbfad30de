"""The set-up `make test` runs first (scripts/system-deps.py) and the helper every test uses for a program it
drives (tests/programs.py): the exact missing packages named, nothing installed by --check, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import programs
from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "system-deps.py"


def fake_path(folder: Path, *present: str) -> str:
    """A PATH holding only stand-ins for `present` (and no apt-get): every other program is hidden."""
    folder.mkdir()
    for program in present:
        stand_in = folder / program
        stand_in.write_text("#!/bin/sh\nexit 0\n")
        stand_in.chmod(0o755)
    return str(folder)


def run_script(path: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "DIGEST_CHROMIUM"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60,
                          env={**env, "PATH": path})


def test_check_names_exactly_the_packages_whose_program_path_hides_and_installs_nothing(tmp_path: Path) -> None:
    # chromium, spamassassin and npm live in /usr/bin, so a PATH without them hides them on any machine;
    # dovecot (in /usr/sbin, searched too) is given a stand-in so that the answer does not depend on this machine.
    result = run_script(fake_path(tmp_path / "bin", "dovecot"), "--check")
    assert result.returncode == 1, result.stderr
    assert "not installed here: chromium spamassassin npm\n" in result.stderr
    assert "Run: sudo apt-get install -y --no-install-recommends chromium spamassassin npm" in result.stderr
    assert "Traceback" not in result.stderr and "installing" not in result.stdout


def test_check_passes_when_every_program_is_found(tmp_path: Path) -> None:
    result = run_script(fake_path(tmp_path / "bin", *programs.PACKAGES), "--check")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "system-deps: chromium, spamassassin, dovecot-imapd, npm: installed\n"


def test_without_apt_get_the_set_up_stops_naming_the_programs_to_install(tmp_path: Path) -> None:
    result = run_script(fake_path(tmp_path / "bin", "dovecot", "npm"))
    assert result.returncode == 1, result.stderr
    assert "not installed here: chromium spamassassin\n" in result.stderr
    assert "no apt-get" in result.stderr and "to install the programs chromium spamassassin" in result.stderr


def test_a_missing_program_fails_on_ci_and_skips_elsewhere_naming_its_package() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"apt-get install -y --no-install-recommends no-such-pkg"):
        programs.need("no-such-program-4b1d", package="no-such-pkg", ci=True)
    with pytest.raises(pytest.skip.Exception, match="Debian's package no-such-pkg"):
        programs.need("no-such-program-4b1d", package="no-such-pkg", ci=False)


def test_a_daemon_in_sbin_is_found_off_the_users_path(tmp_path: Path) -> None:
    sbin = [Path(folder) for folder in programs.SBIN if Path(folder).is_dir()]
    daemon = next(p for folder in sbin for p in sorted(folder.iterdir()) if os.access(p, os.X_OK))
    assert programs.find(daemon.name, path=str(tmp_path)) is not None
