"""A copy of the default project in a temporary folder, and a preview server running on it, for the tests."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from digest.review import preview
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
def running(config_path: Path, poll: float = 0.1) -> Iterator[tuple[preview.Preview, preview.PreviewServer]]:
    """A preview of `config_path` served on a free port of 127.0.0.1, stopped afterwards."""
    session = preview.Preview(config_path, poll=poll, outbox=config_path.parent / "outbox")
    server = preview.start_server(session, "127.0.0.1", 0)
    session.start_watching(timeout=30)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield session, server
    finally:
        session.stop()
        server.shutdown()
        server.server_close()


def edit(path: Path, old: str, new: str) -> None:
    """Replace `old` (which must be there) by `new` in a file."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
