"""Writing files whole or not at all: every file digest writes goes through here."""

from __future__ import annotations

import errno
import logging
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from digest.errors import DigestError
from digest.i18n import N_, _

LOG = logging.getLogger("digest.files")
PUBLIC = 0o644  # the letter, the site: anyone may read them
PRIVATE = 0o600  # anything holding an address or a token: the owner only, whatever the umask
PRIVATE_FOLDER = 0o700


@dataclass(frozen=True)
class Written:
    """A file written, and its size in bytes."""

    path: Path
    size: int


def write_atomic(path: Path, data: bytes, overwrite: bool = True, mode: int = PUBLIC) -> Written:
    """Write to a temporary name in the same folder, then rename: readers never see half a file.

    With overwrite=False an existing file is never replaced, even by a race: FileExistsError instead. Any
    other failure (a read-only folder, a full disk) is a WriteFailed naming the file, in plain words.
    `mode` is the file's mode whatever the umask (PRIVATE for addresses and tokens).
    """
    try:
        return _write_file(path, data, overwrite, mode)
    except FileExistsError:
        raise
    except OSError as exc:
        raise failure(path, exc) from None


def _write_file(path: Path, data: bytes, overwrite: bool, mode: int) -> Written:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        if overwrite:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # unlike rename, link fails when the name exists
    finally:
        Path(temporary).unlink(missing_ok=True)  # gone after a rename; after a link, the extra name
    return Written(path, len(data))


LEFTOVER_SECONDS = 3600  # a temporary folder older than this was left by a write that was killed


class WriteFailed(DigestError, OSError):
    """A file or folder could not be written (disk full, read-only folder): one line naming it. Exit 2.

    An OSError still, for callers that treat a failed write as a warning (a cache file, say)."""


# errno values a user reads better as words of their own: a file-size limit is a full disk to them too.
REASONS = {errno.ENOSPC: N_("disk full"), errno.EFBIG: N_("disk full"), errno.EDQUOT: N_("disk full"),
           errno.EROFS: N_("read-only file system"), errno.EACCES: N_("permission denied"),
           errno.EPERM: N_("permission denied")}  # translated where shown


def failure(path: Path, exc: OSError) -> WriteFailed:
    """The one-line error for a write that failed: `could not write outbox/…: disk full`."""
    reason = _(REASONS[exc.errno]) if exc.errno in REASONS else exc.strerror or str(exc)
    return WriteFailed(_("could not write {path}: {reason}").format(path=shown(path), reason=reason))


def shown(path: Path) -> str:
    """The path as the user typed it: relative to the current folder when under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def write_folder(target: Path, files: Mapping[str, bytes]) -> list[Written]:
    """Write a whole folder under a temporary name beside it, then swap it in for `target`.

    All or nothing: if any write fails, `target` is left as it was and WriteFailed names the file.
    """
    _mkdir(target.parent)
    try:
        temporary = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    except OSError as exc:
        raise failure(target, exc) from None
    try:
        written = [_write(temporary, name, data, target) for name, data in files.items()]
        os.chmod(temporary, 0o755)
        _swap(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    _remove_leftovers(target)
    return written


def _remove_leftovers(target: Path) -> None:
    """Remove the temporary folders a killed write of `target` left (an hour old: no write still uses them)."""
    now = time.time()
    for leftover in (*target.parent.glob(f".{target.name}.tmp-*"), *target.parent.glob(f".{target.name}.old-*")):
        try:
            if now - leftover.stat().st_mtime > LEFTOVER_SECONDS:
                shutil.rmtree(leftover)
        except OSError:
            continue


def _mkdir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise failure(folder, exc) from None


def _write(temporary: Path, name: str, data: bytes, target: Path) -> Written:
    """One file of a folder being built; the error names it under its final folder."""
    path = temporary / name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(path, 0o644)
    except OSError as exc:
        raise failure(target / name, exc) from None
    return Written(target / name, len(data))


def _swap(temporary: Path, target: Path) -> None:
    """Put `temporary` in place of `target`: the old folder is renamed aside, then removed once the new is in."""
    aside = target.with_name(f".{target.name}.old-{secrets.token_hex(4)}")
    try:
        if target.exists():
            os.rename(target, aside)
        try:
            os.rename(temporary, target)
        except OSError:
            if aside.exists():
                os.rename(aside, target)  # the old letter goes back where it was
            raise
    except OSError as exc:
        raise failure(target, exc) from None
    shutil.rmtree(aside, ignore_errors=True)


def safe_name(text: str, limit: int = 100) -> str:
    """A file name made from outside text (an address, a title): ASCII letters, digits and @.-_+ only."""
    name = re.sub(r"[^A-Za-z0-9@._+-]", "_", text)[:limit].lstrip(".")
    return name or "_"


# The umask is the process's: blocks of several threads (digest serve's requests, the desk's) share one narrowing,
# the first to enter saving the umask and the last to leave putting it back. Without the count, two blocks that
# overlap could leave 077 in place for good (each putting back what the other had set).
_NARROWED = threading.Lock()
_DEPTH: list[int] = [0, 0o022]  # blocks inside, the umask before the first


@contextmanager
def private_files() -> Iterator[None]:
    """Inside: every file and folder this process creates is its owner's only (umask 077), for writers that
    take no mode (SQLite, mailbox)."""
    with _NARROWED:
        if _DEPTH[0] == 0:
            _DEPTH[1] = os.umask(0o077)
        _DEPTH[0] += 1
    try:
        yield
    finally:
        with _NARROWED:
            _DEPTH[0] -= 1
            if _DEPTH[0] == 0:
                os.umask(_DEPTH[1])


def private_folder(folder: Path) -> Path:
    """Create `folder` (and its parents) owner-only, or narrow it with a note if it is readable by others."""
    with private_files():
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise failure(folder, exc) from None
    narrow(folder)
    return folder


def narrow(path: Path) -> bool:
    """Make a private file 0600 (a folder 0700) when others may read it, with a note; whether it was wider."""
    try:
        status = path.lstat()
    except OSError:
        return False
    if path.is_symlink() or not status.st_mode & 0o077:
        return False
    wanted = PRIVATE_FOLDER if path.is_dir() else PRIVATE
    try:
        os.chmod(path, wanted)
    except OSError:
        return False
    LOG.warning("note: %s was readable by others (%o); now %o: it holds addresses", shown(path),
                status.st_mode & 0o777, wanted)
    return True


def narrow_tree(path: Path) -> list[Path]:
    """narrow() a private folder and everything under it (or one file); the paths narrowed."""
    found = [path] if narrow(path) else []
    if path.is_dir() and not path.is_symlink():
        for child in sorted(path.rglob("*")):
            if narrow(child):
                found.append(child)
    return found
