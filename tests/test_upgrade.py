"""Upgrades keep everything, and what is private can be backed up and restored.

tests/data/v0.1.0/ is a letter's folder as digest 0.1.0 left it: the November letter built, its list send stopped
half-way (two of four addresses sent, two deferred by the server), its journal in sends/. The current digest lists
it, resumes the send to the two others only, and publishes it.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import stat
import subprocess
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from digest import __version__, config
from digest.audience.subscribers import Subscribers
from digest.cli import main
from tests import installed
from tests.smtp_sink import Recorder, Sink

V010 = Path(__file__).parent / "data" / "v0.1.0"
SECRET = "upgrade-secret-0123456789abcdef"  # the one 0.1.0 signed the fixture's copies with
DAY = "2025-11-20"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def old_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the 0.1.0 letter's folder, its journal owner-only as 0.1.0 made it."""
    folder = tmp_path / "lettre"
    shutil.copytree(V010, folder)
    for path in (folder / "sends").rglob("*"):
        path.chmod(0o700 if path.is_dir() else 0o600)
    (folder / "sends").chmod(0o700)
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    monkeypatch.setenv("DIGEST_LANG", "en")
    return folder


def _port(folder: Path, port: int) -> Path:
    path = folder / "sources.toml"
    path.write_text(re.sub(r"(?m)^port = \d+$", f"port = {port}", path.read_text(encoding="utf-8")),
                    encoding="utf-8")
    return path


def test_a_letter_of_0_1_0_is_listed_its_send_resumed_and_published(old_folder: Path) -> None:
    recorder = Recorder()
    with Sink(recorder) as sink:
        cfg = _port(old_folder, sink.port)
        letters = run("letters", "-c", str(cfg))
        assert letters.exit_code == 0, letters.output
        assert f"{DAY}" in letters.output and "sending" in letters.output
        assert "(built by digest 0.1.0 or earlier)" in letters.output
        resumed = run("send", "-c", str(cfg), "--list", str(old_folder / "abonnes.csv"), "--yes", "--allow-stale")
        assert resumed.exit_code == 0, resumed.output
    assert sorted(r.rcpt for r in recorder.received) == ["chloe@example.org", "david@example.org"]  # only these
    status = run("send", "-c", str(cfg), "--status", "--date", DAY)
    assert "sent 4" in status.output, status.output
    published = run("publish", "-c", str(cfg), str(old_folder / "site"))
    assert published.exit_code == 0, published.output
    assert (old_folder / "site" / DAY / "letter.html").is_file() and (old_folder / "site" / "index.html").is_file()


def test_check_says_when_the_letter_was_built_by_another_version(old_folder: Path) -> None:
    checked = run("check", "-c", str(_port(old_folder, 25)), "--date", DAY)
    assert "built by digest 0.1.0 or earlier, not by this one" in checked.output, checked.output
    run("build", "-c", str(old_folder / "sources.toml"), "--date", "2025-11-27")
    record = json.loads((old_folder / "outbox" / "2025-11-27" / "digest.json").read_text(encoding="utf-8"))
    assert record["digest_version"] == __version__  # a letter says which digest built it


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A letter's folder with subscribers, an issue file and a list send's journal."""
    folder = tmp_path / "lettre"
    shutil.copytree(V010, folder)
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    monkeypatch.setenv("DIGEST_LANG", "en")
    (folder / "issues").mkdir()
    (folder / "issues" / "2025-11.toml").write_text('subject = "Novembre"\n', encoding="utf-8")
    with Subscribers(folder / "subscribers.sqlite") as store:
        for name in ("anne", "bruno", "chloe", "david"):
            store.add(f"{name}@example.org", name.title())
    return folder


def test_a_backup_is_whole_owner_only_and_says_what_it_holds(project: Path) -> None:
    made = run("backup", "-c", str(project / "sources.toml"), str(project.parent / "sauvegarde"))
    assert made.exit_code == 0, made.output
    backup = project.parent / "sauvegarde"
    manifest = json.loads((backup / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["digest_version"] == __version__ and manifest["store_version"] > 0
    assert {"subscribers.sqlite", f"sends/{DAY}/send-journal.sqlite", f"sends/{DAY}/log.json", "sources.toml",
            "issues/2025-11.toml"} <= set(manifest["files"])
    assert stat.S_IMODE(backup.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in backup.rglob("*") if p.is_file())
    with sqlite3.connect(backup / "subscribers.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM subscriber").fetchone()[0] == 4
    again = run("backup", "-c", str(project / "sources.toml"), str(backup))
    assert again.exit_code == 2 and "not empty" in again.output  # never over an earlier backup


def test_a_restore_brings_it_back_and_an_erasure_since_stays(project: Path) -> None:
    cfg = project / "sources.toml"
    backup = project.parent / "sauvegarde"
    assert run("backup", "-c", str(cfg), str(backup)).exit_code == 0
    assert run("subscribers", "add", "-c", str(cfg), "emma@example.org").exit_code == 0  # after the backup
    erased = run("subscribers", "erase", "-c", str(cfg), "chloe@example.org")  # the right to erasure, after it
    assert erased.exit_code == 0, erased.output
    (project / "issues" / "2025-11.toml").write_text('subject = "Changé"\n', encoding="utf-8")
    refused = subprocess.run([*installed.command(), "restore", "-c", str(cfg), str(backup)],
                             capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert refused.returncode == 2 and "--yes" in refused.stderr  # it asks first; no terminal, no --yes: nothing
    restored = run("restore", "-c", str(cfg), str(backup), "--yes")
    assert restored.exit_code == 0, restored.output
    assert "1 address(es) erased since the backup were erased again" in restored.output
    with Subscribers(project / "subscribers.sqlite") as store:
        emails = sorted(s.email for s in store.rows())
        assert store.erased("chloe@example.org")
    assert emails == ["anne@example.org", "bruno@example.org", "david@example.org"]  # emma: after the backup
    journal = project / "sends" / DAY / "send-journal.sqlite"
    with sqlite3.connect(journal) as db:
        assert "chloe@example.org" not in {e for (e,) in db.execute("SELECT email FROM recipient")}
    assert (project / "issues" / "2025-11.toml").read_text(encoding="utf-8") == 'subject = "Novembre"\n'
    kept = sorted((project / "subscribers-backups").glob("subscribers-v*.sqlite"))
    assert kept, "the store it replaced is kept"


def test_a_newer_or_changed_backup_is_refused_and_nothing_changes(project: Path) -> None:
    cfg = project / "sources.toml"
    backup = project.parent / "sauvegarde"
    assert run("backup", "-c", str(cfg), str(backup)).exit_code == 0
    before = (project / "subscribers.sqlite").read_bytes()
    (backup / "issues" / "2025-11.toml").write_text('subject = "Trafiqué"\n', encoding="utf-8")
    changed = run("restore", "-c", str(cfg), str(backup), "--yes")
    assert changed.exit_code == 2 and "issues/2025-11.toml" in changed.output
    assert "nothing was restored" in changed.output
    manifest = json.loads((backup / "manifest.json").read_text(encoding="utf-8"))
    manifest["digest_version"] = "99.0.0"
    (backup / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    newer = run("restore", "-c", str(cfg), str(backup), "--yes")
    assert newer.exit_code == 2 and "made by digest 99.0.0" in newer.output
    assert (project / "subscribers.sqlite").read_bytes() == before


def test_a_backup_is_consistent_while_the_store_is_being_written(project: Path) -> None:
    """As while `digest serve` records sign-ups: a writer keeps adding rows during the backup."""
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        with Subscribers(project / "subscribers.sqlite") as store:
            while not stop.is_set():
                store.add(f"writer{written[0]:05d}@example.org")
                written[0] += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while written[0] < 20:  # the writer is under way
            threading.Event().wait(0.01)
        made = run("backup", "-c", str(project / "sources.toml"), str(project.parent / "sauvegarde"))
    finally:
        stop.set()
        thread.join()
    assert made.exit_code == 0, made.output
    with sqlite3.connect(project.parent / "sauvegarde" / "subscribers.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        count = db.execute("SELECT COUNT(*) FROM subscriber").fetchone()[0]
    assert 4 + 20 <= count <= 4 + written[0]
    config.load(project / "sources.toml")  # the project still reads as it was
