"""The team's decisions on contributions, from the desk or `digest contributions`.

Accepting writes the contribution as an `[[item]]` of the issue file of the letter being made (tomlkit: the
file's comments stay; the item's header names the contributor) and its picture into `issues/images/`, from where
`digest publish` puts it at `base_url`; the contact's mail is queued. Refusing queues a mail with the team's
message. Each decision is made once.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from digest import issuefile
from digest.config import Config
from digest.contribute.states import State
from digest.contribute.store import Contribution, Contributions
from digest.edit import issueedit
from digest.errors import DigestError
from digest.files import write_atomic
from digest.i18n import _

IMAGES = "images"  # beside the issue files, and at base_url once published


class NotProposed(DigestError):
    """No proposed contribution has this number (none, not yet confirmed, or already decided)."""


def images_dir(cfg: Config) -> Path:
    """Where accepted contributions' pictures wait to be published: issues/images/ beside sources.toml."""
    return cfg.root / issuefile.FOLDER / IMAGES


def proposed(cfg: Config, number: int) -> Contribution:
    """The proposed contribution `number`; NotProposed otherwise."""
    with Contributions(cfg.subscribers_path) as store:
        found = store.get_contribution(number)
    if found is None or found.status != State.PROPOSED:
        state = found.status if found else _("no such contribution")
        raise NotProposed(_("contribution {number} cannot be decided ({state}); `digest contributions list` "
                            "shows those waiting").format(number=number, state=state))
    return found


def accept(cfg: Config, day: date, number: int, *, title: str = "", text: str = "", version: str | None = None,
           agenda: str | None = None) -> Path:
    """Put the proposed contribution into the issue file of the letter dated `day` (with the team's `title` and
    `text` if given); the issue file's path. `version`: the desk's view of the file (a hand edit since wins)."""
    found = proposed(cfg, number)
    path = issuefile.path_for(cfg, day)
    image = ""
    if found.picture:
        with Contributions(cfg.subscribers_path) as store:
            kept = store.picture(found.picture)
        if kept is not None:
            folder = images_dir(cfg)
            folder.mkdir(parents=True, exist_ok=True)
            write_atomic(folder / f"{found.picture}.jpg", kept[1])
            write_atomic(folder / f"{found.picture}-vignette.jpg", kept[0])
            image = urljoin(cfg.letter.base_url, f"{IMAGES}/{found.picture}-vignette.jpg")
    section = agenda if found.start and agenda else cfg.contribute.section or ""
    uid = f"contribution-{number}"
    fields = {"uid": uid, "section": section, "title": title or found.title, "url": found.link,
              "summary": text or found.text, "image": image, "date": found.day, "place": found.place,
              "start": found.start}
    # (the photo's alternative text stays with the contribution: a thumbnail repeats its title, so the letter
    # gives it alt="", as every thumbnail)
    who = f"{found.authority} ({found.contact})" + (f", {_('member')}" if found.member else "")
    added = issueedit.add_item(fields, note=_("contribution {number} from {who}").format(number=number, who=who))
    pinned = issueedit.toggle("pin", uid)  # accepted for this letter: first in its section, never cut by max_items

    def change(document: Any) -> None:
        added(document)
        pinned(document)

    issueedit.apply(cfg, path, version if version is not None else issueedit.version_of(path), change)
    with Contributions(cfg.subscribers_path) as store:
        store.decide(number, State.ACCEPTED)
    return path


def refuse(cfg: Config, number: int, note: str) -> None:
    """Refuse the proposed contribution, with the team's message to its contact."""
    proposed(cfg, number)
    with Contributions(cfg.subscribers_path) as store:
        store.decide(number, State.REFUSED, " ".join(note.split())[:1000])
