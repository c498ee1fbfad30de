"""`digest draft`: a new issue file listing every item the build would send, for the editors to start from."""

from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo

import tomlkit

from digest import dates, i18n
from digest.errors import DigestError
from digest.files import Written, write_atomic
from digest.i18n import N_, _
from digest.model import Item, Letter

HEADER = N_("""\
# The issue file of {title}, {month}: what the editors decide for this letter.
# Written by `digest draft` for the letter of {day}; `digest build` reads it for every letter of {ym}.
# Every item the build would send is listed below, section by section, by its url (or uid). To act on one,
# copy its line into a list: `pin` (first in its section), `featured` ("À la une" at the top), `exclude`
# (left out), or into an [[override]] table. Reference: docs/issue-file-and-desk.md in digest's repository.

# subject = {subject}
# preheader = "A short line inboxes show after the subject"
# sections = [{sections}]

pin = [
]
featured = [
]
exclude = [
]

[editorial]
title = "Édito"
text = \"\"\"
\"\"\"

# [[override]]
# item = "https://…"
# title = "A shorter title"
# teaser = "Another teaser"
# image = "https://…/picture.jpg"
# section = "{first}"

# [[item]]  # an item with no feed: the columns of a data file, and its section
# section = "{first}"
# title = "…"
# url = "https://…"
# summary = "…"
""")  # translated where written: the team reads the comments in its language


# What TOML does not allow in a comment, or reads as the end of one: control characters and line breaks.
UNSAFE_IN_COMMENT = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class DraftExists(DigestError):
    """The issue file is already there: a draft never overwrites the editors' work."""


def draft_text(letter: Letter) -> str:
    """The issue file's text: commented options, empty lists, and every selected item as a commented line."""
    lines = [_(HEADER).format(
        title=letter.title, month=dates.month_year(letter.date).replace("\u00a0", " "),
        day=i18n.day(letter.date), ym=f"{letter.date:%Y-%m}", subject=_quote(f"{letter.title} – …"),
        sections=", ".join(_quote(s.id) for s in letter.sections),
        first=letter.sections[0].id if letter.sections else "",
    )]
    if not letter.sections:
        lines.append("\n" + _comment(_("No item yet in any section: add articles ([[item]] tables, or in the desk), "
                                       "accept contributions, or build later when the sources have news.")))
    for section in letter.sections:
        lines.append("\n" + _comment(_("--- {title} ({id}): {count} item(s) ---").format(
                                         title=section.title, id=section.id, count=len(section.items))))
        lines.extend(_item_lines(item, ZoneInfo(letter.timezone)) for item in section.items)
    return "\n".join(lines) + "\n"


def _item_lines(item: Item, tz: ZoneInfo) -> str:
    when = item.start or item.date
    day = f"{when.astimezone(tz):%d/%m/%Y}, " if when else ""
    title = _comment(f"{item.title[:100]}  ({day}{item.source})")
    return title + "\n" + _comment(f"    {_quote(item.url or item.uid)},")


def _quote(text: str) -> str:
    """A TOML basic string, written by tomlkit: quotes, backslashes and control characters escaped."""
    quoted = str(tomlkit.string(text).as_string())
    # Valid in TOML, but editors show these as line breaks: escaped, the line reads as one line.
    return quoted.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _comment(text: str) -> str:
    """One TOML comment line: a source's text never ends it early (line breaks and control characters go)."""
    return str(tomlkit.comment(UNSAFE_IN_COMMENT.sub(" ", text)).as_string()).rstrip("\n")


def write_new(path: Path, text: str) -> Written:
    """Write `text` to `path` whole, and only if no file is there (never overwrites, even in a race)."""
    try:
        return write_atomic(path, text.encode("utf-8"), overwrite=False)
    except FileExistsError:
        raise DraftExists(_("{path} already exists; edit it, or move it away to draft a new one").format(
            path=path)) from None
