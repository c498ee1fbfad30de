"""The stage that writes the letter: its folder in the outbox, each file written whole or not at all."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from digest import agenda
from digest.files import Written, failure, write_atomic, write_folder
from digest.model import Item, Letter, Rendered


def write_letter(outbox: Path, letter: Letter, rendered: Rendered, eml: bytes, inputs: bytes | None = None
                 ) -> list[Written]:
    """Write outbox/<date>/ (letter.html, .txt, .mjml, .eml, digest.json, inputs.json) whole, in place of the
    folder there (all or nothing: on failure the previous letter stays as it was); return what was written."""
    folder = outbox / letter.date.isoformat()
    files = {
        "letter.html": rendered.html.encode("utf-8"),
        "letter.txt": rendered.text.encode("utf-8"),
        "letter.mjml": rendered.mjml.encode("utf-8"),
        "letter.eml": eml,
        "digest.json": to_json(letter, rendered).encode("utf-8"),
        **({"inputs.json": inputs} if inputs is not None else {}),  # the fingerprint of what it was built from
        **agenda.ics_files(letter),  # agenda/<day>-<title>.ics, linked from each event ("add to calendar")
    }
    written = write_folder(folder, files)  # the whole folder swapped in: a cancelled event's .ics goes with it
    return [*written, write_index(outbox, letter.title, letter.language)]


def write_index(outbox: Path, title: str, language: str = "fr") -> Written:
    """Write outbox/index.html: every letter built, newest first, each linked (the web archive)."""
    path = outbox / "index.html"
    try:
        return write_atomic(path, index_html(list_letters(outbox), title, language).encode("utf-8"))
    except OSError as exc:
        raise failure(path, exc) from None


@dataclass(frozen=True)
class Archived:
    """A letter found in the outbox: its folder name (the date), subject and number of items."""

    folder: str
    subject: str
    items: int


def list_letters(outbox: Path) -> list[Archived]:
    """The letters in the outbox (folders holding letter.html), newest first; digest.json gives the subject."""
    found = []
    for folder in outbox.iterdir() if outbox.is_dir() else ():
        if not (folder / "letter.html").is_file() or folder.name.startswith("."):
            continue
        try:
            record = json.loads((folder / "digest.json").read_text(encoding="utf-8"))
            subject = str(record.get("subject") or record.get("title") or folder.name)
            items = sum(len(s.get("items", [])) for s in record.get("sections", []))
        except (OSError, ValueError, AttributeError):
            subject, items = folder.name, 0  # a letter without a readable digest.json is still listed
        found.append(Archived(folder.name, subject, items))
    return sorted(found, key=lambda a: a.folder, reverse=True)


def index_html(letters: list[Archived], title: str, language: str) -> str:
    """The archive page: relative links, so it works opened as a file and served under base_url."""
    rows = "\n".join(
        f'<li><a href="{quote(a.folder)}/letter.html">{escape(a.subject)}</a>'
        f' <span>{escape(a.folder)} · {a.items} articles · <a href="{quote(a.folder)}/letter.txt">texte</a>'
        "</span></li>"
        for a in letters
    )
    return f"""<!doctype html>
<html lang="{escape(language)}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} – archives</title>
<style>
body {{ font: 16px/1.5 Arial, Helvetica, sans-serif; color: #1f2933; max-width: 640px; margin: 0 auto;
       padding: 24px 16px; }}
h1 {{ color: #16365f; font-size: 24px; }} a {{ color: #1b4f8f; }} ul {{ padding: 0; list-style: none; }}
li {{ padding: 10px 0; border-bottom: 1px solid #dde3e8; }} span {{ display: block; color: #5b6770; font-size: 14px; }}
</style></head>
<body><h1>{escape(title)}</h1>
<ul>
{rows}
</ul></body></html>
"""


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
        "editorial": letter.editorial_text,
        "featured": [item_record(i) for i in letter.featured],
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
        "start": _iso(item.start), "end": _iso(item.end), "all_day": item.all_day, "pinned": item.pinned,
        "also_in": [{"source": c.source, "uid": c.uid, "url": c.url} for c in item.also_in],
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
