"""Changes to the issue file made from the editorial desk, written with tomlkit so that comments, key order
and hand edits survive.

Each change names the version of the file it was made on (`version`, a hash of its bytes): a change made on an
older version is refused (`Conflict`), never written over a hand edit. A change whose result the issue file's
own checks refuse is not written either (`Refused`). Messages are in French: the editors read them.
"""

from __future__ import annotations

import copy
import hashlib
import threading
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Array, Table
from tomlkit.toml_document import TOMLDocument

from digest import issuefile
from digest.config import Config
from digest.edit.draft import UNSAFE_IN_COMMENT
from digest.errors import DigestError
from digest.files import write_atomic
from digest.i18n import N_, _

Change = Callable[[TOMLDocument], None]
HEADER = N_("# The month's issue: what the team decides for this letter (written by digest preview, to edit by\n"
            "# hand too). Reference: docs/issue-file-and-desk.md (digest's repository).\n")  # translated where written
MOVES = {"up": -1, "down": 1}


class Conflict(DigestError):
    """The file changed on disk since the page read it: the change is not written."""


class Refused(DigestError):
    """The change would make the issue file wrong: it is not written."""


@dataclass(frozen=True)
class Saved:
    """The file's new version after a change."""

    path: Path
    version: str


# The desk edits one issue file click after click: the file as it is on disk is kept parsed (read_ahead, once the
# page has its letter), and a change starts from a copy of it, which takes a quarter of parsing it again.
_PARSED: dict[Path, tuple[str, TOMLDocument]] = {}
_PARSED_LOCK = threading.Lock()


def read_ahead(path: Path) -> None:
    """Keep the issue file at `path` parsed as it is now, so that the next change made on it starts sooner."""
    try:
        data = path.read_bytes()
        version = hashlib.sha256(data).hexdigest()[:16]
        with _PARSED_LOCK:
            if _PARSED.get(path, ("", None))[0] == version:
                return
        document = tomlkit.parse(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomlkit.exceptions.ParseError):
        return  # a change reads and reports it
    with _PARSED_LOCK:
        _PARSED.clear()  # one file at a time: the month's
        _PARSED[path] = (version, document)


def _document(path: Path, data: bytes, version: str) -> TOMLDocument:
    """The file's bytes `data` (at `version`) parsed: a copy of the kept document when it is that version."""
    with _PARSED_LOCK:
        kept = _PARSED.get(path)
    if kept is not None and kept[0] == version:
        return copy.deepcopy(kept[1])
    return tomlkit.parse(data.decode("utf-8"))


def version_of(path: Path) -> str:
    """A short hash of the file's bytes; "absent" when there is no file yet."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except FileNotFoundError:
        return "absent"


def apply(config: Config, path: Path, version: str, change: Change) -> Saved:
    """Apply `change` to the issue file at `path` if it is still at `version`; check the result, then write it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        data = _(HEADER).encode("utf-8")
        found = "absent"
    else:
        found = hashlib.sha256(data).hexdigest()[:16]
    if found != version:
        raise Conflict(_("The file {name} was changed by hand since the page was shown: your change was not "
                         "saved. The page now shows the file as it is; make the change again if it is still "
                         "needed.").format(name=path.name))
    try:
        document = _document(path, data, found)
    except (UnicodeDecodeError, tomlkit.exceptions.ParseError) as exc:
        raise Refused(_("{name} is not valid TOML ({exc}): correct it by hand first.").format(
                          name=path.name, exc=exc)) from None
    change(document)
    text = tomlkit.dumps(document)
    if text.encode("utf-8") == data:
        return Saved(path, found)  # nothing changed (a field typed back to what it was): nothing written
    try:
        issuefile.parse(path, tomllib.loads(text), config)
    except issuefile.IssueFileError as exc:
        raise Refused(_("Change refused: {problems}").format(problems="; ".join(exc.problems))) from None
    written = text.encode("utf-8")
    write_atomic(path, written)
    return Saved(path, hashlib.sha256(written).hexdigest()[:16])


# --- the changes -----------------------------------------------------------------------------------------


def _names(document: TOMLDocument, key: str) -> Array:
    """The array `key` (pin, featured, exclude), made if missing."""
    if key not in document:
        array = tomlkit.array()
        array.multiline(True)
        _add_top(document, key, array)
    value = document[key]
    assert isinstance(value, Array)
    return value


def _add_top(document: TOMLDocument, key: str, value: Any) -> None:
    """A top-level key, placed before the first table (as TOML requires) so it is not read as the table's."""
    document.add(key, value)  # tomlkit puts a plain key before the tables


def _drop(document: TOMLDocument, key: str, name: str) -> None:
    if key in document:
        array = _names(document, key)
        for index in reversed(range(len(array))):
            if array[index] == name:
                del array[index]


def exclude(name: str) -> Change:
    """Leave the item out ("Exclure"); it is no longer pinned or featured."""
    def change(document: TOMLDocument) -> None:
        _drop(document, "pin", name)
        _drop(document, "featured", name)
        if name not in _names(document, "exclude"):
            _names(document, "exclude").append(name)
    return change


def include(name: str) -> Change:
    """Take the item back in ("Réintégrer")."""
    return lambda document: _drop(document, "exclude", name)


def toggle(key: str, name: str) -> Change:
    """Add the item to `key` (pin or featured) at the end, or take it out if it is there; never also excluded."""
    def change(document: TOMLDocument) -> None:
        if name in _names(document, key):
            _drop(document, key, name)
        else:
            _drop(document, "exclude", name)
            _names(document, key).append(name)
    return change


def move(key: str, name: str, direction: str) -> Change:
    """Move the item one place up or down in `key` (pin or featured)."""
    def change(document: TOMLDocument) -> None:
        array = _names(document, key)
        values = [str(v) for v in array]
        if name not in values:
            return
        index = values.index(name)
        other = index + MOVES[direction]
        if 0 <= other < len(values):
            array[index], array[other] = values[other], values[index]
    return change


def set_text(key: str, value: str) -> Change:
    """Set subject or preheader; an empty value removes the key (the default applies)."""
    def change(document: TOMLDocument) -> None:
        value_ = " ".join(value.split())
        if not value_:
            document.pop(key, None)
        elif key in document:
            document[key] = value_
        else:
            _add_top(document, key, value_)
    return change


def set_editorial(text: str) -> Change:
    """Set the [editorial] text (Markdown), as a multi-line string."""
    def change(document: TOMLDocument) -> None:
        table = document.get("editorial")
        if not isinstance(table, Table):
            table = tomlkit.table()
            document["editorial"] = table
        body = text.replace("\r\n", "\n").strip("\n")
        # the text exactly as typed: a leading newline would come back to the desk's field as a blank first line
        table["text"] = tomlkit.string(body, multiline=True) if body else ""
    return change


def set_sections(order: list[str]) -> Change:
    """Set the order of the sections."""
    def change(document: TOMLDocument) -> None:
        if "sections" in document:
            document["sections"] = order
        else:
            _add_top(document, "sections", order)
    return change


def audience(name: str, members: bool) -> Change:
    """Keep the item for the members' edition (« Réservé aux adhérents »), or give it back to every reader: its
    [[override]]'s audience, written only when it differs from the source's."""
    def change(document: TOMLDocument) -> None:
        tables = _tables(document, "override")
        table = next((t for t in tables if t.get("item") == name), None)
        if table is None:
            table = tomlkit.table()
            table["item"] = name
            tables.append(table)
        table["audience"] = "members" if members else "all"
    return change


def override(name: str, fields: Mapping[str, str]) -> Change:
    """Set the item's [[override]] (title, teaser, image, section); empty fields keep the source's values.

    A field still as the form showed it (`was_<key>`) is not written unless the override already sets it: the
    file holds only what the editor changed.
    """
    def change(document: TOMLDocument) -> None:
        tables = _tables(document, "override")
        table = next((t for t in tables if t.get("item") == name), None)
        values = {key: " ".join(fields.get(key, "").split()) for key in ("title", "teaser", "image", "section")}
        changed = {key: value for key, value in values.items()
                   if (table is not None and key in table) or value != " ".join(fields.get(f"was_{key}", "").split())}
        if not changed:
            return
        if table is None:
            table = tomlkit.table()
            table["item"] = name
            tables.append(table)
        for key, value in changed.items():
            if value:
                table[key] = value
            else:
                table.pop(key, None)
    return change


def add_item(fields: Mapping[str, str], note: str = "") -> Change:
    """Append a hand-written [[item]] (section and title required; the other columns if given; `note` a comment
    on its header line); Refused for a second one with the same title and address (a form sent twice)."""
    def change(document: TOMLDocument) -> None:
        title, url = " ".join(fields.get("title", "").split()), fields.get("url", "").strip()
        for existing in _tables(document, "item"):
            if " ".join(str(existing.get("title", "")).split()) == title and str(existing.get("url", "")) == url:
                raise Refused(_("This article is already in the issue file (same title and address): it was "
                                "not added twice."))
        table = tomlkit.table()
        for key in ("uid", "section", "title", "url", "summary", "image", "image_alt", "date", "place", "start",
                    "end"):
            value = fields.get(key, "").strip()
            if value:
                table[key] = value if key == "summary" else " ".join(value.split())
        if note:  # a contributor's name: nothing TOML refuses in a comment
            table.comment(UNSAFE_IN_COMMENT.sub("", " ".join(note.split())))
        _tables(document, "item").append(table)
    return change


def _tables(document: TOMLDocument, key: str) -> AoT:
    if key not in document:
        document.append(key, tomlkit.aot())
    value = document[key]
    assert isinstance(value, AoT)
    return value
