"""The team's decisions on contributions, from the desk or `digest contributions`.

Accepting writes the contribution as an `[[item]]` of the issue file of the next letter whose list send has not
begun (`letter_for`: never a letter that went out), pinned, so that it is in that letter whatever its section's
dates (tomlkit: the file's comments stay; the item's header names the contributor), and its picture into
`issues/images/`, from where `digest publish` puts it at `base_url`; the contact's mail, naming that letter, is
queued. Refusing queues a mail with the team's message. Each decision is made once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from digest import dates, issuefile, letterfolder
from digest.config import Config
from digest.contribute.states import State
from digest.contribute.store import Contribution, Contributions
from digest.edit import issueedit
from digest.errors import DigestError
from digest.files import write_atomic
from digest.i18n import _

IMAGES = "images"  # beside the issue files, and at base_url once published
PUBLISHED = "published-images.json"  # in the private folder: the pictures `digest publish` put out


class NotProposed(DigestError):
    """No proposed contribution has this number (none, not yet confirmed, or already decided)."""


def images_dir(cfg: Config) -> Path:
    """Where accepted contributions' pictures wait to be published: issues/images/ beside sources.toml."""
    return cfg.root / issuefile.FOLDER / IMAGES


def published_pictures(cfg: Config) -> set[str]:
    """The names of the contributed pictures `digest publish` has copied to a destination."""
    try:
        found = json.loads((cfg.private_dir / PUBLISHED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return {str(name) for name in found} if isinstance(found, list) else set()


def record_published(cfg: Config, names: Iterable[str]) -> None:
    """Note that these pictures were published (the letter that shows them may then go out)."""
    kept = sorted(published_pictures(cfg) | set(names))
    cfg.private_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(cfg.private_dir / PUBLISHED, json.dumps(kept, indent=0).encode("utf-8"))


def unpublished(cfg: Config, shown: Iterable[str]) -> list[str]:
    """The contributed pictures among the addresses `shown` (under base_url's images/) that no `digest publish`
    has put out yet: a reader would see a broken picture."""
    prefix = urljoin(cfg.letter.base_url, f"{IMAGES}/")
    names = {url[len(prefix):] for url in shown if url.startswith(prefix)}
    return sorted(names - published_pictures(cfg))


def proposed(cfg: Config, number: int) -> Contribution:
    """The proposed contribution `number`; NotProposed otherwise."""
    with Contributions(cfg.subscribers_path) as store:
        found = store.get_contribution(number)
    if found is None or found.status != State.PROPOSED:
        state = found.status if found else _("no such contribution")
        raise NotProposed(_("contribution {number} cannot be decided ({state}); `digest contributions list` "
                            "shows those waiting").format(number=number, state=state))
    return found


def letter_for(cfg: Config, wanted: date, sends: letterfolder.Sends) -> date:
    """The letter a contribution accepted now goes into: the one of `wanted`'s month, unless a letter of that
    month began its list send (then the promise could not be kept): the next month's, dated its first day."""
    day = wanted
    while (state := letterfolder.of_month(cfg, cfg.outbox, day, sends)) is not None and state.began:
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return day


def form_day(typed: str) -> str:
    """An item's date as the team typed it, as the issue file keeps it (dd/mm/yyyy); DigestError otherwise."""
    kept = dates.as_typed(typed, with_time=False)
    if kept is None:
        raise DigestError(_("{typed!r} is not a date: write it day/month/year, for instance 05/12/2026").format(
            typed=typed))
    return kept


def accept(cfg: Config, day: date, number: int, *, title: str = "", text: str = "", when: str | None = None,
           version: str | None = None, agenda: str | None = None) -> Path:
    """Put the proposed contribution into the issue file of the letter dated `day` (with the team's `title`,
    `text` and date `when`, dd/mm/yyyy, if given), pinned; the issue file's path. `version`: the desk's view of
    the file (a hand edit since wins). The caller chose `day` with letter_for()."""
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
              "summary": text or found.text, "image": image, "image_alt": found.alt if image else "",
              "date": found.day if when is None else when, "place": found.place, "start": found.start}
    member = _("member")
    who = f"{found.authority} ({found.contact})" + (f", {member}" if found.member else "")
    added = issueedit.add_item(fields, note=_("contribution {number} from {who}").format(number=number, who=who))
    pinned = issueedit.toggle("pin", uid)  # accepted for this letter: first in its section, never cut by max_items

    def change(document: Any) -> None:
        added(document)
        pinned(document)

    issueedit.apply(cfg, path, version if version is not None else issueedit.version_of(path), change)
    with Contributions(cfg.subscribers_path) as store:
        store.decide(number, State.ACCEPTED, letter=f"{day:%Y-%m}")
    return path


def refuse(cfg: Config, number: int, note: str) -> None:
    """Refuse the proposed contribution, with the team's message to its contact."""
    proposed(cfg, number)
    with Contributions(cfg.subscribers_path) as store:
        store.decide(number, State.REFUSED, " ".join(note.split())[:1000])
