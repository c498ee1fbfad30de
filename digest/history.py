"""What earlier letters already sent: read from outbox/<date>/digest.json of each letter whose list send began
(a trial build, a dry run or a test send never counts), so a later letter never repeats it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from digest.model import Problem

RECORD = "digest.json"


@dataclass(frozen=True)
class History:
    """The uids and urls of every item sent in letters dated before this one (raw; the selector compares)."""

    uids: frozenset[str] = frozenset()
    urls: frozenset[str] = frozenset()
    letters: tuple[date, ...] = ()
    problems: tuple[Problem, ...] = ()
    sent_on: Mapping[str, date] = field(default_factory=dict)  # each uid and url: the letter that sent it


def load(outbox: Path, before: date, began: Callable[[date], bool]) -> History:
    """Every item of the letters in `outbox` dated strictly before `before` whose list send `began`; an
    unreadable record is a warning."""
    uids: set[str] = set()
    urls: set[str] = set()
    sent_on: dict[str, date] = {}
    letters: list[date] = []
    problems: list[Problem] = []
    for day, path in _records(outbox, before):
        if not began(day):
            continue
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            for uid, url in _sent(record):
                uids.add(uid)
                sent_on[uid] = day
                if url:
                    urls.add(url)
                    sent_on[url] = day
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            problems.append(Problem(str(path), f"cannot read what this letter sent ({exc}); its items may repeat"))
            continue
        letters.append(day)
    return History(frozenset(uids), frozenset(urls), tuple(letters), tuple(problems), sent_on)


def _records(outbox: Path, before: date) -> Iterator[tuple[date, Path]]:
    """(date, digest.json) of each earlier letter, oldest first; folders not named by a date are ignored."""
    if not outbox.is_dir():
        return
    for folder in sorted(outbox.iterdir()):
        try:
            day = date.fromisoformat(folder.name)
        except ValueError:
            continue
        if day < before and (folder / RECORD).is_file():
            yield day, folder / RECORD


def _sent(record: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    """(uid, url) of every item a digest.json lists: featured, in sections, and the copies merged into them."""
    items = list(record.get("featured", []))
    for section in record["sections"]:
        items.extend(section["items"])
    for item in items:
        yield str(item["uid"]), item.get("url")
        for copy in item.get("also_in", []):
            yield str(copy["uid"]), copy.get("url")
