"""The only stage that writes files: a letter's folder in the outbox, each file written whole or not at all."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from digest.model import Item, Letter, Rendered


@dataclass(frozen=True)
class Written:
    """A file the build wrote, and its size in bytes."""

    path: Path
    size: int


def write_letter(outbox: Path, letter: Letter, rendered: Rendered, eml: bytes) -> list[Written]:
    """Write outbox/<date>/ (letter.html, .txt, .mjml, .eml, digest.json); return what was written."""
    folder = outbox / letter.date.isoformat()
    files = {
        "letter.html": rendered.html.encode("utf-8"),
        "letter.txt": rendered.text.encode("utf-8"),
        "letter.mjml": rendered.mjml.encode("utf-8"),
        "letter.eml": eml,
        "digest.json": to_json(letter, rendered).encode("utf-8"),
    }
    return [write_atomic(folder / name, data) for name, data in files.items()]


def write_atomic(path: Path, data: bytes) -> Written:
    """Write to a temporary name in the same folder, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return Written(path, len(data))


def to_json(letter: Letter, rendered: Rendered) -> str:
    """digest.json: the letter's metadata and every selected item with all its fields."""
    record = {
        "title": letter.title,
        "date": letter.date.isoformat(),
        "language": letter.language,
        "subject": rendered.subject,
        "preheader": rendered.preheader,
        "web_url": letter.web_url,
        "unsubscribe_url": letter.unsubscribe_url,
        "from": letter.sender,
        "html_bytes": len(rendered.html.encode("utf-8")),
        "sections": [
            {"id": s.id, "title": s.title, "kind": s.kind, "items": [item_record(i) for i in s.items]}
            for s in letter.sections
        ],
    }
    return json.dumps(record, ensure_ascii=False, indent=2) + "\n"


def item_record(item: Item) -> dict[str, Any]:
    """An item as JSON: every field, datetimes in ISO 8601."""
    return {
        "uid": item.uid, "source": item.source, "title": item.title, "url": item.url,
        "date": _iso(item.date), "summary": item.summary, "image": item.image, "place": item.place,
        "start": _iso(item.start), "end": _iso(item.end), "all_day": item.all_day,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
