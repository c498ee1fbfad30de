"""`digest publish DEST`: the public part of the outbox, copied into a folder to put on the web server.

Only the letters the list received go (and a letter named on purpose, published before its send), and of each
only what a reader of the web version needs (digest.letterfolder.public_files): its HTML, the text version the
archive links to, its agenda/ (.ics files the events link to); then the archive's index.html, listing what DEST
holds.
Never a journal, a dry-run copy, an export or the inputs' fingerprint. Each letter's folder in DEST is written
under a temporary name and swapped in whole (files.write_folder), and index.html last, so a reader of DEST never
sees half a letter.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from html import escape
from pathlib import Path

from digest.config import Config
from digest.errors import DigestError
from digest.files import Written, failure, write_atomic, write_folder
from digest.i18n import _
from digest.letterfolder import HTML, INDEX, Archive, Sends, on_the_web, public_files, write_index
from digest.web.feed import FILE as FEED


@dataclass(frozen=True)
class Plan:
    """What publishing copies: each letter's public files by folder (its date), and the archive page."""

    outbox: Path
    folders: dict[str, tuple[str, ...]]  # "2025-11-20" -> (the letter's HTML, "agenda/….ics", …)
    pictures: tuple[Path, ...] = ()  # accepted contributions' pictures, published at DEST/images/

    def names(self) -> list[str]:
        """Every file to copy, as a path inside DEST."""
        return [*(f"{folder}/{name}" for folder, names in self.folders.items() for name in names),
                *(f"{IMAGES}/{p.name}" for p in self.pictures), INDEX, FEED]


IMAGES = "images"
PICTURE = re.compile(r"[0-9a-f]{16}(-vignette)?\.jpg")  # the names digest gives pictures: nothing else is copied


def plan(outbox: Path, days: Collection[str], pictures: Path | None = None) -> Plan:
    """The public files of the letters of `days` ("2025-11-20", …) in `outbox`, oldest letter first, and the
    pictures of accepted contributions in `pictures`."""
    found = sorted(p for p in pictures.iterdir() if PICTURE.fullmatch(p.name)) if pictures and pictures.is_dir() else []
    return Plan(outbox, {folder.name: public_files(folder) for _, folder in on_the_web(outbox)
                         if folder.name in days}, tuple(found))


def publish(plan: Plan, dest: Path, archive: Archive, feed: bytes) -> list[Written]:
    """Copy the plan into `dest`: each letter's folder swapped in whole (its web version pointing at the feed),
    then index.html listing what `dest` holds (letters published earlier included) and the feed; what was
    written."""
    outbox = plan.outbox.resolve()
    if dest.resolve() == outbox or outbox in dest.resolve().parents:
        raise DigestError(_("{dest} is in the outbox: publishing there would replace the letters with their public "
                            "files alone; give a folder of its own, such as site/").format(dest=dest))
    written: list[Written] = []
    for folder, names in plan.folders.items():
        source = plan.outbox / folder
        try:
            files = {name: (source / name).read_bytes() for name in names}
        except OSError as exc:
            raise failure(source, exc) from None
        if HTML in files:
            files[HTML] = with_feed_link(files[HTML], archive.title)
        written.extend(write_folder(dest / folder, files))
    for picture in plan.pictures:  # named by their content: one already there is the same picture
        try:
            (dest / IMAGES).mkdir(parents=True, exist_ok=True)
            written.append(write_atomic(dest / IMAGES / picture.name, picture.read_bytes()))
        except OSError as exc:
            raise failure(picture, exc) from None
    written.append(write_index(plan.outbox, archive, into=dest))
    try:
        written.append(write_atomic(dest / FEED, feed))
    except OSError as exc:
        raise failure(dest / FEED, exc) from None
    return written


def with_feed_link(html: bytes, title: str) -> bytes:
    """The web version with a link to the feed in its head (feed readers find it from any letter)."""
    link = (f'<link rel="alternate" type="application/atom+xml" title="{escape(title)}" href="../{FEED}">'
            ).encode()
    head = html.find(b"</head>")
    return html if head < 0 or link in html else html[:head] + link + html[head:]


@dataclass(frozen=True)
class Publishing:
    """What `digest publish` did or would do: the letters (titles), the plan, and the files written."""

    letters: list[str]
    plan: Plan
    written: list[Written]


def publish_letters(cfg: Config, outbox: Path, dest: Path, sends: Sends, letter_date: date | None, *,
                    dry_run: bool, allow_stale: bool) -> Publishing:
    """Publish into `dest` the letters the list received (and the one of `letter_date`, named on purpose),
    with the archive page and the feed, each letter noted as published; with `dry_run`, only the plan."""
    from digest import letterfolder
    from digest.contribute.moderate import images_dir, record_published
    from digest.web import feed

    states = letterfolder.every(cfg, outbox, sends)
    days = {s.day.isoformat() for s in states if s.began}
    if letter_date is not None:
        chosen = letterfolder.choose(cfg, outbox, letter_date, sends, sent_ok=True).letter
        if not chosen.began:
            letterfolder.refuse_stale(cfg, chosen, allow_stale)
        days.add(chosen.day.isoformat())
    if not days:
        raise DigestError(_("no letter of {outbox} has been sent to the list yet: nothing to publish. `digest "
                            "publish DEST --date YYYY-MM-DD` publishes a letter before its send").format(outbox=outbox))
    found = plan(outbox, days, images_dir(cfg))
    titles = [s.title() for s in reversed(states) if s.day.isoformat() in days]
    if dry_run:
        return Publishing(titles, found, [])
    archive = Archive(cfg.letter.title, cfg.letter.language, cfg.letter.address, cfg.subscribe.url, feed.FILE)
    written = publish(found, dest, archive, feed.for_letters(cfg, states, dest, days))
    record_published(cfg, (picture.name for picture in found.pictures))
    for day in found.folders:
        letterfolder.note(cfg, date.fromisoformat(day), "published")
    return Publishing(titles, found, written)
