"""The programs the tests drive, each from a Debian package, found and reported the same way by every test and
by scripts/system-deps.py (which `make test` runs first to install them).

A test that lacks one never meets it as a traceback: it fails when CI is set (a CI machine must have everything)
and is skipped elsewhere, each time naming the package and the command that installs it. Standard library only
at import time: scripts/system-deps.py imports this module outside pytest, before the tests' .venv exists.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

# program -> the Debian package that installs it, in the order the set-up installs them.
PACKAGES = {
    "chromium": "chromium",  # the browser tests: Playwright drives Debian's Chromium
    "spamassassin": "spamassassin",  # the deliverability test (tests/test_spam.py)
    "dovecot": "dovecot-imapd",  # the IMAP test of `digest bounces`: a real server started by the test
    "npm": "npm",  # `make test` installs axe-core with it, for the accessibility tests
    "openssl": "openssl",  # the TLS send tests make their certificate with it
    "curl": "curl",  # the subscribe tests open a confirmation link as a mail scanner does
}
# Dovecot is a daemon in /usr/sbin, which is not on an ordinary user's PATH on Debian.
SBIN = ("/usr/sbin", "/sbin")


def find(program: str, path: str | None = None) -> str | None:
    """The program's path on PATH (or on `path`) or in the system folders; None when it is not installed."""
    search = os.environ.get("PATH", os.defpath) if path is None else path
    return shutil.which(program, path=os.pathsep.join([search, *SBIN]))


def chromium(path: str | None = None) -> Path | None:
    """The Chromium the tests drive: DIGEST_CHROMIUM when set, else `chromium` found as any program is."""
    named = os.environ.get("DIGEST_CHROMIUM")
    if named:
        return Path(named) if Path(named).is_file() else None
    found = find("chromium", path)
    return Path(found) if found else None


def missing(path: str | None = None) -> list[str]:
    """The Debian packages whose program is not found, in PACKAGES' order."""
    return [package for program, package in PACKAGES.items()
            if (chromium(path) if program == "chromium" else find(program, path)) is None]


def install_command(packages: list[str]) -> str:
    """The one command that installs `packages` on Debian or Ubuntu."""
    return "sudo apt-get install -y --no-install-recommends " + " ".join(packages)


def unavailable(problem: str, ci: bool | None = None) -> NoReturn:
    """Fail the test when CI is set (or `ci`), skip it otherwise, saying `problem`."""
    import pytest  # here, not at the top: scripts/system-deps.py runs without pytest

    if bool(os.environ.get("CI")) if ci is None else ci:
        pytest.fail(problem, pytrace=False)
    pytest.skip(problem)


def not_installed(program: str, package: str) -> str:
    """What a test says when `program` is missing: the package, `make test`, the command."""
    return (f"{program} not found: this test needs Debian's package {package}. `make test` installs it where it "
            f"can; or run `{install_command([package])}`.")


def need(program: str, package: str | None = None, ci: bool | None = None) -> str:
    """The program's path; fails (CI) or skips (elsewhere) with the package and its install command."""
    found = find(program)
    if found:
        return found
    unavailable(not_installed(program, package or PACKAGES[program]), ci)
