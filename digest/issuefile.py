"""The issue file, `issues/<YYYY-MM>.toml` beside sources.toml: what the editors decide for one letter.

It holds the subject and preheader, the editorial (Markdown), the featured ("À la une"), pinned and excluded
items, per-item overrides, hand-written items and the order of the sections. Every problem is collected and
reported at once, with the file and the key, as for sources.toml.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from digest import schema
from digest.collectors.base import Context
from digest.collectors.records import COLUMNS, item_from_record
from digest.config import Config
from digest.errors import ConfigError
from digest.i18n import Nn_, _
from digest.model import Audience, Item
from digest.schema import Problems, key
from digest.text import forbidden_in, made_safe, removed_note, xml_safe

ISSUE_SOURCE = "issue-file"  # the source name of hand-written items, in the report and the letter's record
FOLDER = "issues"


class IssueFileError(ConfigError):
    """The issue file is wrong; lists every problem found at once."""

    heads = Nn_("{count} problem in the issue file:", "{count} problems in the issue file:")


def _names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(_('expected an array of item urls or uids, e.g. ["https://cites-unies-france.org/…"]'))
    return tuple(v.strip() for v in value)


def _section_ids(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(_('expected an array of section ids, e.g. ["cuf", "agenda"]'))
    return tuple(value)


def _markdown(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(_('expected Markdown text, written between triple quotes """…"""'))
    return value


@dataclass(frozen=True)
class Override:
    """New values for some fields of one item, named by url or uid; None keeps the source's value."""

    item: str = field(metadata=key(schema.text, "the url or uid of the item changed"))
    title: str | None = field(default=None, metadata=key(schema.text, "its new title"))
    summary: str | None = field(default=None, metadata=key(schema.text, "its new teaser", name="teaser"))
    image: str | None = field(default=None, metadata=key(schema.http_url, "its new image"))
    section: str | None = field(default=None, metadata=key(schema.text, "the section it moves to"))
    audience: Audience | None = field(default=None, metadata=key(
        schema.choice("all", "members"), "members: in the members' edition only; all: for every reader"))


@dataclass(frozen=True)
class IssueFile:
    """One issue's editorial decisions; the empty default changes nothing in the letter."""

    path: Path | None = None
    # A line break in a subject would start a new mail header: schema.line refuses it.
    subject: str | None = field(default=None, metadata=key(schema.line, "the e-mail's subject"))
    preheader: str | None = field(default=None, metadata=key(schema.line, "the inbox preview text"))
    editorial_title: str = field(default="Édito", metadata=key(schema.text, "the editorial's heading",
                                                               name="title", part="editorial"))
    # Markdown, rendered by digest.editorial.
    editorial: str = field(default="", metadata=key(_markdown, "the editorial, in Markdown", name="text",
                                                    part="editorial"))
    featured: tuple[str, ...] = field(default=(), metadata=key(
        _names, "items shown in an « À la une » block above the sections"))
    pin: tuple[str, ...] = field(default=(), metadata=key(_names, "items shown first in their section, in this order"))
    exclude: tuple[str, ...] = field(default=(), metadata=key(_names, "items left out"))
    overrides: tuple[Override, ...] = ()
    extra: tuple[tuple[str, Item], ...] = ()  # (section id, hand-written item)
    sections: tuple[str, ...] = field(default=(), metadata=key(_section_ids, "the order of the sections"))
    notes: tuple[str, ...] = ()  # what was made safe on reading (characters an e-mail cannot carry removed)

    def names(self) -> list[tuple[str, str]]:
        """Every item name the file uses, with the key that uses it."""
        named = [(n, key) for key, names in (("featured", self.featured), ("pin", self.pin),
                                             ("exclude", self.exclude)) for n in names]
        return named + [(o.item, "[[override]] item") for o in self.overrides]


# The tables of the issue file besides its top level (whose keys IssueFile declares, as it does [editorial]'s).
TABLES = {"editorial": "table", "override": "array of tables", "item": "array of tables"}


def declared_keys() -> list[tuple[str, str, str]]:
    """Every declared key of the issue file as (table, key, help): [[item]] takes a data file's columns."""
    return [(table, name, help) for table, cls, part in (("top level", IssueFile, None),
                                                         ("[editorial]", IssueFile, "editorial"),
                                                         ("[[override]]", Override, None))
            for name, help in schema.declared(cls, part)]


def path_for(config: Config, today: date) -> Path:
    """Where the issue file of the letter dated `today` lives: issues/<YYYY-MM>.toml beside sources.toml."""
    return config.root / FOLDER / f"{today:%Y-%m}.toml"


def load(config: Config, today: date) -> IssueFile:
    """The issue file for `today`, checked; an empty IssueFile when there is none."""
    path = path_for(config, today)
    if not path.is_file():
        return IssueFile()
    return parse(path, _read(path), config)


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise IssueFileError([_("{path}: cannot read: {exc}").format(path=path, exc=exc)]) from None
    except tomllib.TOMLDecodeError as exc:
        raise IssueFileError([toml_error(path, exc)]) from None


def toml_error(path: Path, exc: tomllib.TOMLDecodeError) -> str:
    """'issues/2025-11.toml, line 4: not valid TOML: Expected '=' after a key…' (tomllib hides the line in text)."""
    message = str(exc)
    match = re.search(r"\(at line (\d+), column (\d+)\)", message)
    if not match:
        return _("{path}: not valid TOML: {message}").format(path=path, message=message)
    reason = message[: match.start()].strip()
    return _("{path}, line {line}, column {column}: not valid TOML: {reason}").format(
               path=path, line=match.group(1), column=match.group(2), reason=reason)


def parse(path: Path, data: dict[str, Any], config: Config) -> IssueFile:
    """Check the issue file's tables against the configuration; raise IssueFileError listing every problem."""
    notes = tuple(_unsafe(data))  # typed in the desk or the file: removed here, so no build fails on them
    data = made_safe(data) if notes else data
    problems = Problems(path)
    top_keys = schema.keys(IssueFile)
    schema.check_unknown(data, {**top_keys, **TABLES}, "top level", problems)
    top = schema.read_table({k: v for k, v in data.items() if k in top_keys}, IssueFile, "top level", problems)
    editorial_table = data.get("editorial", {})
    if not isinstance(editorial_table, dict):
        problems.add("editorial", _("expected a table [editorial] with title and text"))
        editorial_table = {}
    editorial = schema.read_table(editorial_table, IssueFile, "[editorial]", problems, "editorial")
    section_ids = [s.id for s in config.sections]
    overrides = _overrides(_array(data, "override", problems), section_ids, problems)
    extra = _extra(_array(data, "item", problems), path, config, problems)
    for number, section in enumerate(top["sections"] or (), 1):
        _check_section(section, f"sections #{number}", section_ids, problems)
    _check_conflicts(top, problems)
    if problems.items:
        raise IssueFileError(problems.items)
    return IssueFile(path=path, **top, **editorial, overrides=tuple(overrides), extra=tuple(extra), notes=notes)


def _unsafe(data: dict[str, Any]) -> list[str]:
    """A note for every key (every [[item]] or [[override]] table) holding characters XML 1.0 forbids."""
    found = []
    for top, value in data.items():
        if isinstance(value, list) and all(isinstance(v, dict) for v in value):
            for number, table in enumerate(value, 1):
                if count := forbidden_in(table):
                    name = xml_safe(str(table.get("title") or table.get("item") or ""))[:80]
                    found.append(removed_note(f"[[{top}]] #{number}" + (f" « {name} »" if name else ""), count))
        elif isinstance(value, dict):
            found += [removed_note(f"[{top}] {name}", count) for name, inner in value.items()
                      if (count := forbidden_in(inner))]
        elif count := forbidden_in(value):
            found.append(removed_note(top, count))
    return found


def _array(data: dict[str, Any], key: str, problems: Problems) -> list[dict[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        problems.add(key, _("expected an array of tables, written [[{key}]]").format(key=key))
        return []
    return value


def _check_section(section: Any, where: str, section_ids: list[str], problems: Problems) -> None:
    if section not in section_ids:
        hint = difflib.get_close_matches(str(section), section_ids, n=1)
        known = _("did you mean '{hint}'?").format(hint=hint[0]) if hint else _("sections are: {sections}").format(
                                                              sections=', '.join(section_ids))
        problems.add(where, _("no section has id {section!r}; {known}").format(section=section, known=known))


def _overrides(tables: list[dict[str, Any]], section_ids: list[str], problems: Problems) -> list[Override]:
    overrides = []
    for number, table in enumerate(tables, 1):
        where = f"[[override]] #{number}"
        values = schema.read_table(table, Override, where, problems)
        if values["section"]:
            _check_section(values["section"], f"{where} section", section_ids, problems)
        if values["item"]:
            overrides.append(Override(**values))
    return overrides


def _extra(tables: list[dict[str, Any]], path: Path, config: Config, problems: Problems
           ) -> list[tuple[str, Item]]:
    """Hand-written items: the columns of a data file, plus the section they go in."""
    ctx = Context(tz=ZoneInfo(config.letter.timezone), teaser_length=config.letter.teaser_length)
    section_ids = [s.id for s in config.sections]
    items = []
    for number, table in enumerate(tables, 1):
        where = f"[[item]] #{number}" + (f" ({table['title']})" if isinstance(table.get("title"), str) else "")
        schema.check_unknown(table, {"section": None, **dict.fromkeys(COLUMNS)}, where, problems)
        section = table.get("section")
        if section is None:
            problems.add(where, _("missing required key 'section'"))
        else:
            _check_section(section, f"{where} section", section_ids, problems)
        try:
            item = item_from_record(table, ISSUE_SOURCE, ctx)
        except ValueError as exc:
            problems.add(where, str(exc))
            continue
        if isinstance(section, str):
            items.append((section, item))
    return items


def _check_conflicts(top: dict[str, Any], problems: Problems) -> None:
    """An item both excluded and pinned or featured is a contradiction the editor must resolve."""
    excluded = set(top["exclude"] or ())
    for listed in ("pin", "featured"):
        for name in top[listed] or ():
            if name in excluded:
                problems.add(listed, _("{name!r} is also in exclude; keep it in one list only").format(name=name))
