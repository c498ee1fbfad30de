"""Checking a TOML file's tables against their keys, shared by sources.toml and the issue file.

Each key is declared once, as a field of the dataclass its table becomes: `field(default=…, metadata=key(check,
help))` (as MkDocs declares `c.Type(default=…)` per option). The field gives the default (none: the key is
required), the metadata the check and a line of help; the reader and the docs' test both read them there.
Every problem is collected with the file and the key, so that all of them are reported at once.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, cast
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digest.i18n import N_, _

Check = Callable[[Any], Any]
# What a mail header cannot hold: a line break would start a header of its own (RFC 5322 2.2). No value of ours
# needs a control character either.
BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


class Problems:
    """Collects problems with the file and key they concern, to report all of them at once."""

    def __init__(self, path: object) -> None:
        self.path = path
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        """Record a problem at `where` (a table and key, e.g. "[letter] title")."""
        self.items.append(f"{self.path}: {where}: {message}")


def key(check: Check, help: str, *, name: str | None = None, part: str | None = None,
        optional: bool = False) -> dict[str, Any]:
    """The metadata that makes a dataclass field a key of its table: `field(default=…, metadata=key(…))`.

    `check` turns the file's value into the field's (or raises ValueError saying what to write); `help` is one
    line for the docs. `name` is the key where it differs from the field ("from" for `sender`); `part` the table
    it is written in when one dataclass gathers several (the issue file's [editorial]); `optional` a key that may
    be left out although its field has no default, because the loader works the value out (None when missing).
    A field without a default is a required key; the default of the others is the field's.
    """
    return {"check": check, "help": help, "key": name, "part": part, "optional": optional}


def keys(cls: type, part: str | None = None) -> dict[str, dataclasses.Field[Any]]:
    """The fields of `cls` that are keys of its table (or of `part`), by key name, in declaration order."""
    return {field.metadata["key"] or field.name: field for field in dataclasses.fields(cls)
            if "check" in field.metadata and field.metadata["part"] == part}


def declared(cls: type, part: str | None = None) -> list[tuple[str, str]]:
    """Each key of the table `cls` (or `part` of it) with its line of help."""
    return [(name, field.metadata["help"]) for name, field in keys(cls, part).items()]


def _default(field: dataclasses.Field[Any]) -> Any:
    """The field's default; dataclasses.MISSING for a required key."""
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None if field.metadata["optional"] else dataclasses.MISSING


def read_table(table: Mapping[str, Any], cls: type, where: str, problems: Problems,
               part: str | None = None) -> dict[str, Any]:
    """Check one table against the keys declared on `cls` (or `part` of them): values by field name.

    A missing key takes its field's default. A bad value or a missing required key is a problem, not an
    exception; its field is None.
    """
    if "id" in table or "name" in table:
        where = f"{where} ({table.get('id') or table.get('name')!s})"
    declared_keys = keys(cls, part)
    check_unknown(table, declared_keys, where, problems)
    values: dict[str, Any] = {}
    for name, field in declared_keys.items():
        if name not in table:
            default = _default(field)
            if default is dataclasses.MISSING:
                problems.add(where, _("missing required key '{name}'").format(name=name))
                default = None
            values[field.name] = default
            continue
        try:
            values[field.name] = field.metadata["check"](table[name])
        except ValueError as exc:
            problems.add(f"{where} {name}", str(exc))
            values[field.name] = None
    return values


def check_unknown(table: Mapping[str, Any], known: Mapping[str, Any], where: str, problems: Problems) -> None:
    """A problem for each key the table should not have, with the nearest known key as a hint."""
    for key in table:
        if key not in known:
            hint = difflib.get_close_matches(key, list(known), n=1)
            if hint:
                said = _("unknown key '{key}'; did you mean '{hint}'?").format(key=key, hint=hint[0])
            else:
                said = _("unknown key '{key}'; known keys: {known}").format(key=key, known=", ".join(known))
            problems.add(where, said)


def text(value: Any) -> str:
    """Non-empty text, stripped."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(_("expected non-empty text, got {given!r}").format(given=value))
    return value.strip()


def line(value: Any) -> str:
    """Text on one line: no line break or other control character (it may end up in a mail header)."""
    found = text(value)
    if broken := BREAKS.search(found):
        raise ValueError(_("it holds a line break or a control character (U+{code_point:04X}), and it goes into the "
                           "e-mail's headers: write it on one line").format(code_point=ord(broken.group())))
    return found


def ascii_only(check: Check) -> Check:
    """`check` for a value written as is into a header that must be ASCII (List-Unsubscribe)."""

    def checked(value: Any) -> Any:
        found = check(value)
        if isinstance(found, str) and not found.isascii():
            raise ValueError(_("it goes into a header that must be ASCII: write accented letters percent-encoded "
                               "(é as %C3%A9), got {found!r}").format(found=found))
        return found

    return checked


def boolean(value: Any) -> bool:
    """true or false."""
    if not isinstance(value, bool):
        raise ValueError(_("expected true or false, got {given!r}").format(given=value))
    return value


def positive_int(value: Any) -> int:
    """A whole number above 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(_("expected a whole number above 0, got {given!r}").format(given=value))
    return value


def whole(value: Any) -> int:
    """A whole number, 0 or more."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(_("expected a whole number, 0 or more, got {given!r}").format(given=value))
    return value


def within(low: int, high: int) -> Check:
    """A check for a whole number from `low` to `high`."""

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(_("expected a whole number from {low} to {high}, got {given!r}").format(
                low=low, high=high, given=value))
        return value

    return check


def positive(what: str) -> Check:
    """A check for a number above 0; `what` names the unit in the message ("a number of seconds")."""

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ValueError(_("expected {what} above 0, got {given!r}").format(what=_(what), given=value))
        return float(value)

    return check


positive_seconds = positive(N_("a number of seconds"))


def seconds(value: Any) -> float:
    """A number of seconds, 0 or more."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(_("expected a number of seconds, 0 or more, got {given!r}").format(given=value))
    return float(value)


def http_url(value: Any) -> str:
    """An absolute http(s) URL on one line."""
    found = line(value)
    parsed = urlparse(found)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(_("expected an absolute http(s) URL, got {found!r}").format(found=found))
    return found


def iso_date(value: Any) -> date:
    """A date written YYYY-MM-DD (or a TOML date)."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(_("{given!r} is not a date; write it as YYYY-MM-DD, e.g. 2025-11-20").format(
            given=value)) from None


def timezone(value: Any) -> str:
    """An IANA time zone name."""
    found = text(value)
    try:
        ZoneInfo(found)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(_("unknown time zone {found!r}; use an IANA name such as 'Europe/Paris'").format(
            found=found)) from None
    return found


def choice(*choices: str) -> Check:
    """A check for one of the given words."""

    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError(_("expected one of {choices}, got {given!r}").format(
                choices=", ".join(choices), given=value))
        return cast(str, value)

    return check


def matching(pattern: str, expected: str) -> Check:
    """A check for text that matches `pattern` in full; `expected` says what to write instead."""

    def check(value: Any) -> str:
        found = text(value)
        if not re.fullmatch(pattern, found):
            raise ValueError(_("{expected}, got {found!r}").format(expected=_(expected), found=found))
        return found

    return check
