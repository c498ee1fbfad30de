"""The response cache: each web source's last good body, with the validators for a conditional GET.

`<cache>/<source>.cache` holds the body exactly as decoded from the wire, then a last line of JSON: the address,
ETag, Last-Modified, content type, size and SHA-256 of the body. A new body is held in memory (spilled to a
temporary file in the cache folder past SPILL bytes) and written under the final name by one rename, only once
its collector read items from it: the cache never holds a partial file nor a body that failed. The file's
modification time is when the server last confirmed the copy (a 304 touches it): the age the warnings give.

`<cache>/<source>.items.json` keeps the items read from that body, so that an unchanged feed (a 304) costs no
parsing. It is used only when the body's hash, the reading context and digest's collector code all match.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from digest.i18n import Nn_, _, ngettext
from digest.model import Item, Problem

# Past this size a body being received goes to a temporary file rather than memory.
SPILL = 256 * 1024
# A temporary file older than this was left by a build that was killed: removed when the cache opens.
STALE_TEMPORARY_SECONDS = 3600
TAIL = 16 * 1024  # the metadata line is at most this long


@dataclass(frozen=True)
class Meta:
    """What the cache keeps beside a body: where it came from and the validators to ask if it changed."""

    url: str
    final_url: str
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    size: int = 0
    sha256: str = ""


@dataclass(frozen=True)
class Entry:
    """A cached copy on disk: its metadata, its file and when the server last confirmed it."""

    meta: Meta
    path: Path
    stored: float  # seconds since the epoch

    def body(self) -> bytes:
        """The cached body (read only when a collector needs it)."""
        with self.path.open("rb") as stream:
            return stream.read(self.meta.size)


class Pending:
    """A body being received: in memory, then in a temporary file past SPILL bytes; kept only on commit."""

    def __init__(self, folder: Path, name: str, meta: Meta) -> None:
        self.folder = folder
        self.name = name
        self.target = folder / f"{name}.cache"
        self.meta = meta
        self.size = 0
        self._buffer = bytearray()
        self._stream: IO[bytes] | None = None
        self.path: Path | None = None
        self.closed = False  # committed or discarded

    def write(self, chunk: bytes) -> None:
        """Append a piece of the body."""
        self.size += len(chunk)
        if self._stream is not None:
            self._stream.write(chunk)
            return
        self._buffer += chunk
        if len(self._buffer) > SPILL:
            self._open()
            assert self._stream is not None
            self._stream.write(self._buffer)
            self._buffer = bytearray()

    def _open(self) -> None:
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=f".{self.name}.", suffix=".tmp")
        self.path = Path(temporary)
        self._stream = os.fdopen(handle, "w+b")

    def body(self) -> bytes:
        """The whole body received."""
        if self._stream is None:
            return bytes(self._buffer)
        self._stream.flush()
        self._stream.seek(0)
        data = self._stream.read(self.size)
        self._stream.seek(0, os.SEEK_END)
        return data

    def commit(self) -> Entry:
        """Make this body the source's cached copy, in one rename. (No fsync: a copy torn by a power cut fails
        to parse and is treated as absent; the cache only saves work.)"""
        # Hashed here, in the writer's thread, not while receiving: hashing releases the GIL and the event
        # loop would then queue behind the parser thread to get it back, for every chunk.
        digest = hashlib.sha256(self.body()).hexdigest()
        if self._stream is None:
            self._open()
            assert self._stream is not None
            self._stream.write(self._buffer)
        meta = Meta(**{**asdict(self.meta), "size": self.size, "sha256": digest})
        self._stream.write(b"\n" + json.dumps(asdict(meta)).encode("utf-8") + b"\n")
        self._stream.close()
        self._buffer = bytearray()  # the body now lives in the file only
        assert self.path is not None
        os.chmod(self.path, 0o644)
        os.replace(self.path, self.target)
        self.closed = True
        return Entry(meta, self.target, time.time())

    def discard(self) -> None:
        """Forget this body; the previous cached copy stays. Does nothing once committed."""
        if self.closed:
            return
        self.closed = True
        self._buffer = bytearray()
        if self._stream is not None:
            self._stream.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


class Cache:
    """The cache folder (default `.digest-cache/` beside sources.toml)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._remove_leftovers()

    def entry(self, name: str, url: str) -> Entry | None:
        """The cached copy of source `name` if it was fetched from `url` (a changed url starts afresh)."""
        path = self.folder / f"{name}.cache"
        try:
            with path.open("rb") as stream:
                size = os.fstat(stream.fileno()).st_size
                stream.seek(max(0, size - TAIL))
                meta = Meta(**json.loads(stream.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]))
                stored = os.fstat(stream.fileno()).st_mtime
        except (OSError, ValueError, TypeError):
            return None  # missing or unreadable: as if never cached
        if meta.url != url or meta.size + len(json.dumps(asdict(meta))) + 2 != size:
            return None
        return Entry(meta, path, stored)

    def start(self, name: str, meta: Meta) -> Pending:
        """A pending body for source `name`."""
        return Pending(self.folder, name, meta)

    def confirm(self, entry: Entry) -> None:
        """The server said the copy is unchanged (304): its age starts again from now."""
        os.utime(entry.path)

    def items(self, name: str, key: str) -> tuple[tuple[Item, ...], tuple[Problem, ...]] | None:
        """The items read earlier from the body and context that `key` names, if they were kept."""
        try:
            data = json.loads((self.folder / f"{name}.items.json").read_text(encoding="utf-8"))
            if data["key"] != key:
                return None
            return (tuple(_item(i) for i in data["items"]),
                    tuple(Problem(p["where"], p["message"]) for p in data["problems"]))
        except (OSError, ValueError, TypeError, KeyError):
            return None

    def keep_items(self, name: str, key: str, items: tuple[Item, ...], problems: tuple[Problem, ...]) -> None:
        """Keep the items read from a cached body, for the next time it is unchanged."""
        data = {"key": key, "items": [_record(i) for i in items], "problems": [asdict(p) for p in problems]}
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=f".{name}.items.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(json.dumps(data, ensure_ascii=False).encode("utf-8"))
            os.chmod(temporary, 0o644)
            os.replace(temporary, self.folder / f"{name}.items.json")
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _remove_leftovers(self) -> None:
        now = time.time()
        for leftover in self.folder.glob(".*.tmp"):
            try:
                if now - leftover.stat().st_mtime > STALE_TEMPORARY_SECONDS:
                    leftover.unlink()
            except OSError:
                continue


def items_key(sha256: str, *parts: object) -> str:
    """The key under which items read from a body are kept: the body, the context, digest's reading code."""
    return hashlib.sha256("\x1f".join([sha256, _code_fingerprint(), *map(repr, parts)]).encode()).hexdigest()


@functools.cache
def _code_fingerprint() -> str:
    """A hash of the code that turns bodies into items: a changed collector never reuses old items."""
    collectors = Path(__file__).resolve().parent
    package = collectors.parent
    files = sorted(collectors.glob("*.py")) + [package / n for n in ("text.py", "repair.py", "dates.py", "model.py")]
    digest = hashlib.sha256()
    for file in files:
        if file.exists():
            digest.update(file.read_bytes())
    return digest.hexdigest()


def _record(item: Item) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for f in fields(Item):
        value = getattr(item, f.name)
        if value == f.default:
            continue
        if isinstance(value, datetime):
            zone = value.tzinfo.key if isinstance(value.tzinfo, ZoneInfo) else None
            value = {"datetime": value.isoformat(), "zone": zone}  # the zone, for arithmetic across DST
        elif isinstance(value, tuple):
            raise TypeError(_("items with merged copies are not kept"))  # only the selector sets those
        record[f.name] = value
    return record


def _item(record: dict[str, Any]) -> Item:
    values: dict[str, Any] = {k: _datetime(v) if isinstance(v, dict) else v for k, v in record.items()}
    return Item(**values)


def _datetime(value: dict[str, Any]) -> datetime:
    moment = datetime.fromisoformat(value["datetime"])
    return moment.astimezone(ZoneInfo(value["zone"])) if value.get("zone") else moment


def age(seconds: float) -> str:
    """'3 days ago', 'an hour ago', 'just now': how old a copy is, in plain words."""
    for size, unit in ((86400, Nn_("a day ago", "{count} days ago")), (3600, Nn_("an hour ago", "{count} hours ago")),
                       (60, Nn_("a minute ago", "{count} minutes ago"))):
        whole = int(seconds // size)
        if whole >= 1:
            return ngettext(*unit, whole).format(count=whole)
    return _("just now")
