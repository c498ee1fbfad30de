"""Private files are private: whatever holds an address or a token is 0600 (folders 0700) whatever the umask,
made by real `digest` processes started with umask 022 and 077; a file found wider is narrowed with a note."""

from __future__ import annotations

import mailbox
import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests import installed
from tests.send_support import DAY, SECRET, setup
from tests.smtp_sink import Recorder, Sink

PEOPLE = ("anne@example.org", "bob@example.org")


def digest(cfg: Path, umask: int, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m digest ARGS -c cfg` in its own process, with this umask."""
    def set_umask() -> None:
        os.umask(umask)

    result = subprocess.run([*installed.command(), *args, "-c", str(cfg)], capture_output=True, text=True,
                            env={**os.environ, "DIGEST_SECRET": SECRET}, preexec_fn=set_umask, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def private(root: Path) -> list[tuple[str, int]]:
    """Every file and folder under root that others may read: (path, mode)."""
    return [(str(p.relative_to(root.parent)), mode(p)) for p in [root, *root.rglob("*")] if mode(p) & 0o077]


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_store_journal_dry_run_export_and_done_folder_are_owner_only(tmp_path: Path, built: Path,
                                                                     umask: int) -> None:
    with Sink(Recorder()) as sink:
        cfg = setup(tmp_path, built, sink.port, 'return_path = "lettre-retour@cites-unies-france.org"\n')
        for address in PEOPLE:
            digest(cfg, umask, "subscribers", "add", address)
        digest(cfg, umask, "send", "--list", "--dry-run")
        digest(cfg, umask, "send", "--list", "--yes")
        assert len(sink.recorder.received) == 2
    digest(cfg, umask, "subscribers", "export", str(tmp_path / "abonnes.csv"))
    box = mailbox.Maildir(tmp_path / "Retours", create=True)
    box.add(b"From: a@example.net\nTo: lettre-retour@cites-unies-france.org\nSubject: x\nAuto-Submitted: auto-replied"
            b"\n\nabsent\n")
    digest(cfg, umask, "bounces", "--maildir", str(tmp_path / "Retours"))
    sends = tmp_path / "sends"
    assert (sends / DAY / "send-journal.sqlite").is_file() and list((sends / DAY / "dry-run").glob("*.eml"))
    assert private(sends) == []
    assert mode(tmp_path / "subscribers.sqlite") == 0o600 and mode(tmp_path / "abonnes.csv") == 0o600
    done = tmp_path / "Retours" / ".digest-done"
    assert len(mailbox.Maildir(done)) == 1 and private(done) == []


def test_a_private_file_found_readable_by_others_is_narrowed_with_a_note(tmp_path: Path, built: Path) -> None:
    cfg = setup(tmp_path, built, 25)
    digest(cfg, 0o022, "subscribers", "add", "anne@example.org")
    os.chmod(tmp_path / "subscribers.sqlite", 0o644)  # as an older digest, or a copy, left it
    result = digest(cfg, 0o022, "subscribers", "list")
    assert mode(tmp_path / "subscribers.sqlite") == 0o600
    assert "subscribers.sqlite was readable by others (644); now 600" in result.stderr
    again = digest(cfg, 0o022, "subscribers", "list")
    assert "readable by others" not in again.stderr


def test_blocks_of_private_files_in_several_threads_leave_the_umask_as_it_was() -> None:
    """digest serve's requests run in threads: overlapping blocks must not leave the umask narrowed for good (the
    first block opened, then the second, the first closed, then the second: each putting back what it found would
    leave 077)."""
    import os
    import threading

    from digest.files import private_files

    before = os.umask(0o022)
    entered = [threading.Event(), threading.Event()]
    leave = [threading.Event(), threading.Event()]

    def block(number: int) -> None:
        with private_files():
            entered[number].set()
            leave[number].wait()

    workers = [threading.Thread(target=block, args=(n,)) for n in range(2)]
    try:
        workers[0].start()
        entered[0].wait()
        workers[1].start()
        entered[1].wait()
        assert os.umask(0o077) == 0o077  # narrowed while they are open
        leave[0].set()
        workers[0].join()
        leave[1].set()
        workers[1].join()
        assert os.umask(0o022) == 0o022  # given back once both closed
    finally:
        for event in leave:
            event.set()
        os.umask(before)
