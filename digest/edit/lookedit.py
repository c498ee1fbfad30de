"""Changes to the letter's look made from the desk: one `[look]` colour written into sources.toml with tomlkit, so
its comments, key order and hand edits survive; the whole file is checked as `digest build` would read it before
anything is written."""

from __future__ import annotations

from pathlib import Path

import tomlkit
from tomlkit.items import Table

from digest import config
from digest.edit.issueedit import Refused
from digest.errors import ConfigError
from digest.files import write_atomic
from digest.i18n import _

COLOURS = ("header", "accent", "link", "button", "accent_dark", "link_dark")


def set_colour(path: Path, key: str, value: str) -> bool:
    """Write `[look] key = value` into the sources.toml at `path` (the table is added if missing); whether the
    file changed. Refused (with the reason in French) for an unknown key or a value the configuration refuses."""
    if key not in COLOURS:
        raise Refused(_("Unknown colour: {key!r}.").format(key=key))
    text = path.read_text(encoding="utf-8")
    try:
        document = tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        raise Refused(_("{name} is not valid TOML ({exc}): correct it by hand first.").format(
                          name=path.name, exc=exc)) from None
    table = document.get("look")
    if not isinstance(table, Table):
        table = tomlkit.table()
        document["look"] = table
    table[key] = value.strip().lower()
    changed = tomlkit.dumps(document)
    if changed == text:
        return False
    _check(path, changed)
    write_atomic(path, changed.encode("utf-8"))
    return True


def _check(path: Path, text: str) -> None:
    """Refused unless the configuration loads with `text` in place of the file."""
    try:
        config.load(path, text)
    except ConfigError as exc:
        raise Refused(_("Colour refused: {problems}").format(problems="; ".join(exc.problems))) from None
