"""The set-up `make test` runs first (scripts/system-deps.py) and the helper every test uses for a program it
drives (tests/programs.py): the exact missing packages named, nothing installed by --check, never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
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


def run_script(path: str, *args: str, python: str = sys.executable, user: int | None = None,
               script: Path = SCRIPT) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "DIGEST_CHROMIUM"}
    return subprocess.run([python, str(script), *args], capture_output=True, text=True, timeout=60,
                          env={**env, "PATH": path}, user=user, cwd="/")


def script_copy(folder: Path) -> Path:
    """The set-up script with the one module it reads, copied where another user can read them: the checkout
    may sit in a folder only its owner enters (a clone under /root, a mktemp folder)."""
    for name in ("scripts/system-deps.py", "tests/__init__.py", "tests/programs.py"):
        (folder / "project" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, folder / "project" / name)
    for path in (folder / "project").rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder / "project" / "scripts" / "system-deps.py"


# A stand-in for apt-get: it logs its arguments, and `install` puts a stand-in for each package's program on PATH.
APT_GET = """#!/bin/sh
echo "$DEBIAN_FRONTEND $*" >> {log}
[ "$1" = install ] || exit 0
for package in "$@"; do
  case "$package" in -*|install) continue ;; dovecot-imapd) program=dovecot ;; *) program=$package ;; esac
  printf '#!/bin/sh\\nexit 0\\n' > {bin}/$program && /bin/chmod 755 {bin}/$program
done
"""
# sudo without a password, for a run that is not root: `sudo -n COMMAND...` runs COMMAND.
SUDO = '#!/bin/sh\n[ "$1" = -n ] && shift\nexec "$@"\n'


@pytest.fixture
def world_readable() -> Iterator[Path]:
    """A folder another user (nobody) can enter: pytest's tmp_path is private to the user running the tests."""
    folder = Path(tempfile.mkdtemp(prefix="digest-deps-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def with_apt_get(folder: Path, *present: str) -> tuple[str, Path]:
    """A fake PATH with `present`, apt-get and sudo stand-ins and the real env and true; and apt-get's log."""
    path = fake_path(folder / "bin", *present)
    log = folder / "apt-get.log"
    for name, text in {"apt-get": APT_GET.format(log=log, bin=path), "sudo": SUDO}.items():
        (folder / "bin" / name).write_text(text)
        (folder / "bin" / name).chmod(0o755)
    for name in ("env", "true"):
        (folder / "bin" / name).symlink_to(shutil.which(name) or f"/usr/bin/{name}")
    return path, log


def test_check_names_exactly_the_packages_whose_program_path_hides_and_installs_nothing(tmp_path: Path) -> None:
    # chromium, spamassassin and npm live in /usr/bin, so a PATH without them hides them on any machine;
    # dovecot (in /usr/sbin, searched too) is given a stand-in so that the answer does not depend on this machine.
    result = run_script(fake_path(tmp_path / "bin", "dovecot", "openssl", "curl"), "--check")
    assert result.returncode == 1, result.stderr
    assert "not installed here: chromium spamassassin npm\n" in result.stderr
    assert "Run: sudo apt-get install -y --no-install-recommends chromium spamassassin npm" in result.stderr
    assert "Traceback" not in result.stderr and "installing" not in result.stdout


def test_check_passes_when_every_program_is_found(tmp_path: Path) -> None:
    result = run_script(fake_path(tmp_path / "bin", *programs.PACKAGES), "--check")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "system-deps: chromium, spamassassin, dovecot-imapd, npm, openssl, curl: installed\n"


def test_without_apt_get_the_set_up_stops_naming_the_programs_to_install(tmp_path: Path) -> None:
    result = run_script(fake_path(tmp_path / "bin", "dovecot", "npm", "openssl", "curl"))
    assert result.returncode == 1, result.stderr
    assert "not installed here: chromium spamassassin\n" in result.stderr
    assert "no apt-get" in result.stderr and "to install the programs chromium spamassassin" in result.stderr


def test_it_installs_exactly_the_missing_packages_with_apt_get_as_root_or_with_sudo(tmp_path: Path) -> None:
    path, log = with_apt_get(tmp_path, "dovecot", "openssl", "curl")
    result = run_script(path)
    assert result.returncode == 0, result.stderr
    assert "system-deps: installing chromium spamassassin npm (apt-get)" in result.stdout
    assert log.read_text().splitlines() == [
        "noninteractive update -qq", "noninteractive install -y -qq --no-install-recommends chromium spamassassin npm"]
    assert run_script(path, "--check").returncode == 0  # what apt-get put on PATH is found


def test_not_root_and_no_sudo_it_installs_nothing_and_says_the_one_command(world_readable: Path) -> None:
    path, log = with_apt_get(world_readable, "dovecot", "npm", "openssl", "curl")
    (world_readable / "bin" / "sudo").unlink()
    python, user = sys.executable, None
    if os.geteuid() == 0:  # run it as nobody, with a Python that nobody may run (this one may be under /root)
        python = next((p for p in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3")
                       if world_usable(Path(p))), sys.executable)
        user = 65534
    result = run_script(path, python=python, user=user, script=script_copy(world_readable))
    assert result.returncode == 1, result.stderr
    assert "not installed here: chromium spamassassin\n" in result.stderr and "needs root" in result.stderr
    assert "Run: sudo apt-get install -y --no-install-recommends chromium spamassassin\n" in result.stderr
    assert not log.exists()


def world_usable(program: Path) -> bool:
    """Whether any user may run `program`: every folder on the way to it (links followed) is open to all."""
    real = program.resolve()
    return real.is_file() and all(folder.stat().st_mode & 0o001 for folder in real.parents) \
        and bool(real.stat().st_mode & 0o001)


def test_a_missing_program_fails_on_ci_and_skips_elsewhere_naming_its_package() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"apt-get install -y --no-install-recommends no-such-pkg"):
        programs.need("no-such-program-4b1d", package="no-such-pkg", ci=True)
    with pytest.raises(pytest.skip.Exception, match="Debian's package no-such-pkg"):
        programs.need("no-such-program-4b1d", package="no-such-pkg", ci=False)


def test_a_daemon_in_sbin_is_found_off_the_users_path(tmp_path: Path) -> None:
    sbin = [Path(folder) for folder in programs.SBIN if Path(folder).is_dir()]
    daemon = next(p for folder in sbin for p in sorted(folder.iterdir()) if os.access(p, os.X_OK))
    assert programs.find(daemon.name, path=str(tmp_path)) is not None
