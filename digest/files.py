"""Writing files whole or not at all: every file digest writes goes through here."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from digest.errors import DigestError


class WriteError(DigestError, OSError):
    """A file could not be written; an OSError still, for callers that treat a failed write as a warning."""


@dataclass(frozen=True)
class Written:
    """A file written, and its size in bytes."""

    path: Path
    size: int


def write_atomic(path: Path, data: bytes, overwrite: bool = True) -> Written:
    """Write to a temporary name in the same folder, then rename: readers never see half a file.

    With overwrite=False an existing file is never replaced, even by a race: FileExistsError instead. Any
    other failure (a read-only folder, a full disk) is a WriteError saying which file, in plain words.
    """
    try:
        return _write(path, data, overwrite)
    except FileExistsError:
        raise
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {exc.strerror or exc}; check that digest may write in "
                         f"{path.parent} (and that the disk is not full)") from None


def _write(path: Path, data: bytes, overwrite: bool) -> Written:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        if overwrite:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # unlike rename, link fails when the name exists
    finally:
        Path(temporary).unlink(missing_ok=True)  # gone after a rename; after a link, the extra name
    return Written(path, len(data))


def safe_name(text: str, limit: int = 100) -> str:
    """A file name made from outside text (an address, a title): ASCII letters, digits and @.-_+ only."""
    name = re.sub(r"[^A-Za-z0-9@._+-]", "_", text)[:limit].lstrip(".")
    return name or "_"
