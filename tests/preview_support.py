"""A copy of the default project in a temporary folder, and the editorial desk running on it, for the tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from digest.review import desk, preview
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


@contextmanager
def running(config_path: Path) -> Iterator[tuple[preview.Preview, desk.Running]]:
    """The desk for `config_path` served on a free port of 127.0.0.1, stopped afterwards."""
    session = preview.Preview(config_path, outbox=config_path.parent / "outbox")
    server = desk.Running(session).start()
    session.start_watching(timeout=30)
    try:
        yield session, server
    finally:
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
