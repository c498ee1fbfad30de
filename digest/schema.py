"""Checking a TOML file's tables against their keys, shared by sources.toml and the issue file.

A table's keys are a mapping of key -> check. Which keys are required, and the default of the others, come from
the dataclass the table becomes (a field without a default is required): each default is written once, there.
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

Check = Callable[[Any], Any]
Keys = Mapping[str, Check]
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


def defaults(cls: type) -> dict[str, Any]:
    """The dataclass's field defaults by field name; required fields are absent."""
    found: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        if field.default is not dataclasses.MISSING:
            found[field.name] = field.default
        elif field.default_factory is not dataclasses.MISSING:
            found[field.name] = field.default_factory()
    return found


def read_table(table: Mapping[str, Any], keys: Keys, where: str, problems: Problems, cls: type,
               fields: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Check one table: its values by field name of `cls`, each missing one at its field's default.

    `fields` maps a key to its field name where they differ ("from" -> "sender"); a key whose field `cls` does
    not have (worked out later) is optional, None when missing. A bad value or a missing required key is a
    problem, not an exception; its field is None.
    """
    if "id" in table or "name" in table:
        where = f"{where} ({table.get('id') or table.get('name')!s})"
    check_unknown(table, keys, where, problems)
    fields = fields or {}
    known = defaults(cls)
    required = {field.name for field in dataclasses.fields(cls)} - set(known)
    values: dict[str, Any] = {}
    for key, check in keys.items():
        name = fields.get(key, key)
        if key not in table:
            if name in required:
                problems.add(where, f"missing required key '{key}'")
            values[name] = known.get(name)
            continue
        try:
            values[name] = check(table[key])
        except ValueError as exc:
            problems.add(f"{where} {key}", str(exc))
            values[name] = None
    return values


def check_unknown(table: Mapping[str, Any], known: Mapping[str, Any], where: str, problems: Problems) -> None:
    """A problem for each key the table should not have, with the nearest known key as a hint."""
    for key in table:
        if key not in known:
            hint = difflib.get_close_matches(key, list(known), n=1)
            suggestion = f"; did you mean '{hint[0]}'?" if hint else f"; known keys: {', '.join(known)}"
            problems.add(where, f"unknown key '{key}'{suggestion}")


def text(value: Any) -> str:
    """Non-empty text, stripped."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected non-empty text, got {value!r}")
    return value.strip()


def line(value: Any) -> str:
    """Text on one line: no line break or other control character (it may end up in a mail header)."""
    found = text(value)
    if broken := BREAKS.search(found):
        raise ValueError(f"it holds a line break or a control character (U+{ord(broken.group()):04X}), and it "
                         "goes into the e-mail's headers: write it on one line")
    return found


def ascii_only(check: Check) -> Check:
    """`check` for a value written as is into a header that must be ASCII (List-Unsubscribe)."""

    def checked(value: Any) -> Any:
        found = check(value)
        if isinstance(found, str) and not found.isascii():
            raise ValueError("it goes into a header that must be ASCII: write accented letters percent-encoded "
                             f"(é as %C3%A9), got {found!r}")
        return found

    return checked


def boolean(value: Any) -> bool:
    """true or false."""
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def positive_int(value: Any) -> int:
    """A whole number above 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"expected a whole number above 0, got {value!r}")
    return value


def whole(value: Any) -> int:
    """A whole number, 0 or more."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a whole number, 0 or more, got {value!r}")
    return value


def positive(what: str) -> Check:
    """A check for a number above 0; `what` names the unit in the message ("a number of seconds")."""

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ValueError(f"expected {what} above 0, got {value!r}")
        return float(value)

    return check


positive_seconds = positive("a number of seconds")


def seconds(value: Any) -> float:
    """A number of seconds, 0 or more."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"expected a number of seconds, 0 or more, got {value!r}")
    return float(value)


def http_url(value: Any) -> str:
    """An absolute http(s) URL on one line."""
    found = line(value)
    parsed = urlparse(found)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"expected an absolute http(s) URL, got {found!r}")
    return found


def iso_date(value: Any) -> date:
    """A date written YYYY-MM-DD (or a TOML date)."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a date; write it as YYYY-MM-DD, e.g. 2025-11-20") from None


def timezone(value: Any) -> str:
    """An IANA time zone name."""
    found = text(value)
    try:
        ZoneInfo(found)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {found!r}; use an IANA name such as 'Europe/Paris'") from None
    return found


def choice(*choices: str) -> Check:
    """A check for one of the given words."""

    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {value!r}")
        return cast(str, value)

    return check


def matching(pattern: str, expected: str) -> Check:
    """A check for text that matches `pattern` in full; `expected` says what to write instead."""

    def check(value: Any) -> str:
        found = text(value)
        if not re.fullmatch(pattern, found):
            raise ValueError(f"{expected}, got {found!r}")
        return found

    return check
