"""Proposals: the members' sites' articles that concern international action, waiting for the team's click.

A `member-sites` source (digest.collectors.membersites) marks what it found `proposed`; the selector keeps those out
of the letter (Prepared.proposals). Here each is numbered once in the store's `proposals` part, so that the number
`digest proposals` shows is the one `digest proposals accept N` takes, whatever was built in between; and the
team's decision is kept: accepting writes the article as a pinned [[item]] of the issue file of the next letter
whose list send has not begun, titled « Ville de Nancy — … » and linking to the member's page; dismissing keeps it
out of every later list.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from digest import issuefile
from digest.config import Config
from digest.edit import issueedit
from digest.errors import DigestError
from digest.i18n import _
from digest.model import Item
from digest.store import Part, now


class State(StrEnum):
    """Where a proposal stands."""

    WAITING = "waiting"
    ACCEPTED = "accepted"
    DISMISSED = "dismissed"


class NotWaiting(DigestError):
    """No proposal waiting for a decision has this number."""


@dataclass(frozen=True)
class Proposal:
    """One member's article proposed to the team, with its number."""

    id: int
    uid: str
    member: str
    title: str
    url: str
    published: datetime | None
    summary: str
    image: str
    why: tuple[str, ...]
    section: str
    audience: str
    state: State
    letter: str = ""


COLUMNS = "id, uid, member, title, url, published, summary, image, why, section, audience, state, letter"


def _proposal(row: tuple[Any, ...]) -> Proposal:
    pid, uid, member, title, url, published, summary, image, why, section, audience, state, letter = row
    found = json.loads(why or "[]")
    return Proposal(int(pid), str(uid), str(member), str(title), str(url),
                    datetime.fromisoformat(published) if published else None, str(summary), str(image),
                    tuple(str(w) for w in found) if isinstance(found, list) else (), str(section), str(audience),
                    State(state), str(letter))


class Proposals(Part):
    """The proposals part of the store."""

    def record(self, items: Iterable[tuple[str, Item]]) -> None:
        """Number the (section, item) proposals not seen before; a waiting one takes the article's latest words."""
        with self._transaction() as db:
            for section, item in items:
                values = (item.member, item.title, item.url or "", item.date.isoformat() if item.date else "",
                          item.summary, item.image or "", json.dumps(list(item.why), ensure_ascii=False), section,
                          item.audience)
                db.execute("INSERT INTO proposal (uid, member, title, url, published, summary, image, why, section, "
                           "audience, seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (uid) DO UPDATE "
                           "SET member=excluded.member, title=excluded.title, url=excluded.url, "
                           "published=excluded.published, summary=excluded.summary, image=excluded.image, "
                           "why=excluded.why, section=excluded.section, audience=excluded.audience "
                           "WHERE state='waiting'", (item.uid, *values, now()))

    def by_uid(self, uids: Iterable[str]) -> dict[str, Proposal]:
        """The proposals of these uids."""
        wanted = list(uids)
        found: dict[str, Proposal] = {}
        for start in range(0, len(wanted), 500):  # SQLite's bound on parameters
            chunk = wanted[start:start + 500]
            marks = ", ".join("?" * len(chunk))
            for row in self._db.execute(f"SELECT {COLUMNS} FROM proposal WHERE uid IN ({marks})", chunk):
                proposal = _proposal(row)
                found[proposal.uid] = proposal
        return found

    def get(self, number: int) -> Proposal | None:
        """The proposal with this number."""
        row = self._db.execute(f"SELECT {COLUMNS} FROM proposal WHERE id=?", (number,)).fetchone()
        return _proposal(row) if row else None

    def decide(self, number: int, state: State, letter: str = "") -> bool:
        """Record the team's decision on a waiting proposal; False when it was not waiting."""
        with self._transaction() as db:
            changed = db.execute("UPDATE proposal SET state=?, decided=?, letter=? WHERE id=? AND state='waiting'",
                                 (state.value, now(), letter, number)).rowcount
        return bool(changed)


def section_of(cfg: Config, item: Item) -> str:
    """The section a proposal would go into: its source's."""
    return next((s.section for s in cfg.sources if s.name == item.source), "")


def waiting(cfg: Config, items: tuple[Item, ...]) -> list[Proposal]:
    """The build's proposals, numbered (recorded in the store when new), without those the team decided on."""
    if not items:
        return []
    with Proposals(cfg.subscribers_path) as store:
        store.record((section_of(cfg, item), item) for item in items)
        known = store.by_uid(item.uid for item in items)
    return [known[item.uid] for item in items if item.uid in known and known[item.uid].state == State.WAITING]


def proposed(cfg: Config, number: int) -> Proposal:
    """The waiting proposal `number`; NotWaiting otherwise."""
    found = None
    if cfg.subscribers_path.is_file():
        with Proposals(cfg.subscribers_path) as store:
            found = store.get(number)
    if found is None or found.state != State.WAITING:
        state = (_("accepted") if found.state == State.ACCEPTED else _("dismissed")) if found else _("no such "
                                                                                                       "proposal")
        raise NotWaiting(_("proposal {number} cannot be decided ({state}); `digest proposals` lists those "
                           "waiting").format(number=number, state=state))
    return found


def as_item(found: Proposal) -> Item:
    """The proposal as the letter's item: « Ville de Nancy — title »."""
    return Item(uid=found.uid, source="", title=found.title, url=found.url or None, date=found.published,
                summary=found.summary, image=found.image or None, member=found.member).as_member_news()


def accept(cfg: Config, day: date, number: int, *, version: str | None = None) -> Path:
    """Put the waiting proposal into the issue file of the letter dated `day`, pinned; the issue file's path.
    `version`: the desk's view of the file (a hand edit since wins). The caller chose `day` (a letter not sent)."""
    found = proposed(cfg, number)
    item = as_item(found)
    path = issuefile.path_for(cfg, day)
    when = item.date.astimezone(ZoneInfo(cfg.letter.timezone)).strftime("%d/%m/%Y") if item.date else ""
    fields = {"uid": item.uid, "section": found.section, "title": item.title, "url": item.url or "",
              "summary": item.summary, "image": item.image or "", "date": when}
    changes = [issueedit.add_item(fields, note=_("proposed by the site of {member}").format(member=found.member)),
               issueedit.toggle("pin", item.uid)]
    if found.audience == "members":
        changes.append(issueedit.audience(item.uid, True))

    def change(document: Any) -> None:
        for one in changes:
            one(document)

    issueedit.apply(cfg, path, version if version is not None else issueedit.version_of(path), change)
    with Proposals(cfg.subscribers_path) as store:
        store.decide(number, State.ACCEPTED, letter=f"{day:%Y-%m}")
    return path


def dismiss(cfg: Config, number: int) -> Proposal:
    """Dismiss the waiting proposal: it is never proposed again."""
    found = proposed(cfg, number)
    with Proposals(cfg.subscribers_path) as store:
        store.decide(number, State.DISMISSED)
    return found
