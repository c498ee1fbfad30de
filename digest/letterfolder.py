"""The owner of outbox/<date>/: the one module that writes a letter's folder, reads it back, lists the letters
and knows where each is in its life (built, tested, sending, sent, published) and what earlier ones sent.

No other module names a file inside a letter's folder: they ask this one. It is part of the build's spine and
imports no capability: what it must know of the list send (the journal's per-state counts) comes in as a
`Sends` callable (day -> recipients per state), which the CLI makes from the send journal (`journal.sends(cfg)`)
and hands to the build (history: only a letter whose list send began counts as sent) and to the letter's state.
The dependency points one way: delivery imports this module, never the reverse. Without a `Sends`, no list send
is known and nothing counts as sent (a dry build, a test).

The private side of a letter (<private_dir>/<date>/, never published) holds its send journal (the delivery's)
and log.json (this module's: when the letter was tested and published).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from digest import __version__, agenda, i18n, inputs
from digest.config import Config
from digest.errors import DigestError
from digest.files import PRIVATE, Written, failure, private_folder, write_atomic, write_folder
from digest.i18n import N_, _
from digest.model import History, Item, Letter, Problem, Rendered

HTML, TEXT, MJML, EML = "letter.html", "letter.txt", "letter.mjml", "letter.eml"
RECORD = "digest.json"  # what was selected: the letter's metadata and every item
INPUTS = "inputs.json"  # the fingerprint of the files it was built from (digest.inputs)
AGENDA = "agenda"  # <day>-<title>.ics, linked from each event
LOGOS = ("logo.png", "logo.jpg", "logo-dark.png", "logo-dark.jpg")  # the [look] logo, made fit for e-mail
PUBLIC = (HTML, TEXT, *LOGOS)  # what a reader of the web version needs, with agenda/
INDEX = "index.html"  # beside the letters: the archive page
LOG = "log.json"  # in the private folder: when the letter was tested and published
EXPORT = "export"  # the exports for an e-mail service (digest export), beside the letter
JOURNAL = "send-journal.sqlite"  # in the private folder: the list send's journal (digest.delivery.journal)
DRY_RUN = "dry-run"  # in the private folder: the dry run's copies, beside the journal
DISCARDED = "discarded"  # in the private folder: letters taken out of the outbox by `digest discard`
MEMBERS = "adherents"  # in the letter's folder: the members' edition (HTML, text, .eml, record); never published


class SendState(StrEnum):
    """Where one recipient of a list send stands in its journal (digest.delivery.journal)."""

    PENDING = "pending"  # not tried yet
    SENDING = "sending"  # DATA is about to go (the "before" row)
    SENT = "sent"
    FAILED = "failed"  # a 5xx
    DEFERRED = "deferred"  # a 4xx: tried again later
    UNKNOWN = "unknown"  # the connection was lost during DATA, or a run died: resent only when asked


class Stage(StrEnum):
    """Where a letter is in its life."""

    BUILT = "built"
    TESTED = "tested"  # a --to send of this build went
    SENDING = "sending"  # its list send began and someone is still to send
    SENT = "sent"  # its list send is complete
    SUPERSEDED = "superseded"  # never sent, and a later letter's list send began


STILL_TO_SEND = (SendState.PENDING, SendState.SENDING, SendState.DEFERRED, SendState.UNKNOWN)
COUNTED = (SendState.SENT, SendState.FAILED, SendState.DEFERRED, SendState.UNKNOWN)  # a sent letter's line counts
COUNT_WORDS: dict[str, str] = {  # the send journal's words, as shown (translated there)
    SendState.SENT: N_("sent"), SendState.FAILED: N_("failed"), SendState.DEFERRED: N_("deferred"),
    SendState.UNKNOWN: N_("unknown"), SendState.PENDING: N_("pending"), SendState.SENDING: N_("sending")}
EPOCH = datetime.fromtimestamp(0, UTC)

Sends = Callable[[date], Mapping[str, int] | None]  # a letter's list send, recipients per state; None: none yet


def no_sends(day: date) -> None:
    """No list send is known (a dry build, a test): nothing counts as sent."""
    return None


class LetterNotBuilt(DigestError):
    """The outbox has no built letter for that date."""


# --- Where ------------------------------------------------------------------------------------------------------

def path(outbox: Path, day: date) -> Path:
    """outbox/<date>/: the letter's public folder."""
    return outbox / day.isoformat()


def private(cfg: Config, day: date) -> Path:
    """<private_dir>/<date>/: the letter's private folder (its send journal, dry-run copies and log)."""
    return cfg.private_dir / day.isoformat()


def web_path(day: date) -> str:
    """The letter's web version, relative to base_url."""
    return f"{day.isoformat()}/{HTML}"


def dated(root: Path) -> list[tuple[date, Path]]:
    """(date, folder) of every folder of `root` named by a date, oldest first; anything else is ignored."""
    found = []
    for folder in root.iterdir() if root.is_dir() else ():
        try:
            found.append((date.fromisoformat(folder.name), folder))
        except ValueError:
            continue
    return sorted(found)


# --- Writing ----------------------------------------------------------------------------------------------------

def write_letter(outbox: Path, letter: Letter, rendered: Rendered, eml: bytes,
                 inputs: Mapping[str, str | None] | None = None, extra: Mapping[str, bytes] | None = None,
                 members: tuple[Letter, Rendered, bytes] | None = None) -> list[Written]:
    """Write outbox/<date>/ (HTML, text, MJML, .eml, record, inputs' fingerprint, agenda/, and the members' edition
    in adherents/ when there is one) whole, in place of the folder there (all or nothing: on failure the previous
    letter stays as it was); return what was written."""
    files = {
        HTML: rendered.html.encode("utf-8"),
        TEXT: rendered.text.encode("utf-8"),
        MJML: rendered.mjml.encode("utf-8"),
        EML: eml,
        RECORD: to_json(letter, rendered).encode("utf-8"),
        **({INPUTS: inputs_json(letter.date, inputs)} if inputs is not None else {}),
        **agenda.ics_files(letter),  # agenda/<day>-<title>.ics, linked from each event ("add to calendar")
        **{name: data for name, data in (extra or {}).items() if name in LOGOS},  # the letter shows its logo
        **(_members_files(*members) if members else {}),
    }
    written = write_folder(path(outbox, letter.date), files)  # swapped in whole: a cancelled event's .ics goes
    return [*written, write_index(outbox, Archive(letter.title, letter.language, letter.address))]


def _members_files(letter: Letter, rendered: Rendered, eml: bytes) -> dict[str, bytes]:
    """The members' edition, as adherents/<file>: what a member receives, and its record."""
    return {f"{MEMBERS}/{HTML}": rendered.html.encode("utf-8"), f"{MEMBERS}/{TEXT}": rendered.text.encode("utf-8"),
            f"{MEMBERS}/{EML}": eml, f"{MEMBERS}/{RECORD}": to_json(letter, rendered).encode("utf-8")}


@dataclass(frozen=True)
class Archive:
    """What the archive page shows besides the letters: the letter's identity, where to subscribe, its feed."""

    title: str
    language: str = "fr"
    address: str = ""  # the association's postal address, as the letter's footer gives it
    subscribe_url: str | None = None
    feed: str | None = None  # the Atom feed beside the page (a published site has one)


def write_index(outbox: Path, archive: Archive, *, into: Path | None = None) -> Written:
    """Write index.html, the web archive: every letter of `outbox` with a web version, newest first, each linked;
    with `into` (a published site), into that folder, listing only the letters it holds."""
    folder = into or outbox
    held = {found.name for _, found in dated(folder)} if into else None
    entries = [e for e in _archived(outbox) if held is None or e[0] in held]
    target = folder / INDEX
    try:
        return write_atomic(target, index_html(entries, archive).encode("utf-8"))
    except OSError as exc:
        raise failure(target, exc) from None


ARCHIVE_TEMPLATE = "archive.html.j2"  # a stock template (templates/), beside the letter's


def index_html(entries: list[tuple[str, str, int]], archive: Archive) -> str:
    """The archive page of (folder, subject, items) entries, oldest first, from the stock template: its words and
    dates in the letter's language (digest's catalogues), relative links (it works opened as a file and served
    under base_url), the way to subscribe and the feed when there are."""
    import jinja2  # a page to write: only then

    from digest.config import package_templates
    from digest.dates import day_month_year  # babel's data: only where a page is written
    from digest.i18n import ngettext, speaking

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(package_templates()), autoescape=True,
                             extensions=["jinja2.ext.i18n"], undefined=jinja2.StrictUndefined)
    env.install_gettext_callables(_, ngettext, newstyle=True)  # type: ignore[attr-defined]  # the extension's
    with speaking(archive.language):
        rows = [{"folder": name, "subject": subject, "day": _long_date(name, archive.language, day_month_year),
                 "articles": ngettext("{count} article", "{count} articles", items).format(count=items)}
                for name, subject, items in reversed(entries)]
        return env.get_template(ARCHIVE_TEMPLATE).render(
            language=archive.language, title=archive.title, address=archive.address, feed=archive.feed,
            subscribe_url=archive.subscribe_url, entries=rows, html=HTML, text=TEXT)


def _long_date(name: str, language: str, written: Callable[[date, str], str]) -> str:
    """'18 décembre 2026' for the folder 2026-12-18 (the name itself if it is not a date)."""
    try:
        return written(date.fromisoformat(name), language)
    except ValueError:
        return name


def _archived(outbox: Path) -> list[tuple[str, str, int]]:
    """(folder, subject, items) of every letter with a web version, oldest first; one whose record cannot be
    read is still listed, by its date."""
    found = []
    for day, folder in on_the_web(outbox):
        try:
            letter = read_built(outbox, day)
            found.append((folder.name, letter.subject or letter.title or folder.name, letter.item_count))
        except LetterNotBuilt:
            found.append((folder.name, folder.name, 0))
    return found


def to_json(letter: Letter, rendered: Rendered) -> str:
    """The record: the letter's metadata and every selected item with all its fields."""
    record = {
        "digest_version": __version__,  # which digest built it: `digest letters` and `digest check` say so
        "title": letter.title,
        "date": letter.date.isoformat(),
        "language": letter.language,
        "subject": rendered.subject,
        "preheader": rendered.preheader,
        "web_url": letter.web_url,
        "unsubscribe_url": letter.unsubscribe_url,
        "from": letter.sender,
        "html_bytes": len(rendered.html.encode("utf-8")),
        "editorial": letter.editorial_text,
        "featured": [item_record(i) for i in letter.featured],
        "sections": [
            {"id": s.id, "title": s.title, "kind": s.kind, "items": [item_record(i) for i in s.items]}
            for s in letter.sections
        ],
    }
    return json.dumps(record, ensure_ascii=False, indent=2) + "\n"


def item_record(item: Item) -> dict[str, Any]:
    """An item as JSON: every field, datetimes in ISO 8601."""
    return {
        "uid": item.uid, "source": item.source, "title": item.title, "url": item.url,
        "date": _iso(item.date), "summary": item.summary, "image": item.image, "place": item.place,
        "start": _iso(item.start), "end": _iso(item.end), "all_day": item.all_day, "pinned": item.pinned,
        "also_in": [{"source": c.source, "uid": c.uid, "url": c.url} for c in item.also_in],
        **({"image_alt": item.image_alt} if item.image_alt else {}),
        **({"audience": item.audience} if item.audience != "all" else {}),
    }


def inputs_json(day: date, fingerprint: Mapping[str, str | None]) -> bytes:
    """The inputs' fingerprint as written beside the letter."""
    return (json.dumps({"date": day.isoformat(), "inputs": dict(fingerprint)}, ensure_ascii=False, indent=2)
            + "\n").encode("utf-8")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# --- Reading back -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BuiltLetter:
    """What `digest build` wrote to outbox/<date>/, read back: the record's fields and the letter itself."""

    folder: Path
    date: date
    title: str
    subject: str
    sender: str
    web_url: str
    unsubscribe_url: str
    html: str
    text: str
    item_count: int = 0  # how many items it carries: "À la une" and every section
    built: datetime = EPOCH  # when it was written
    language: str = "fr"
    preheader: str = ""
    headlines: tuple[str, ...] = ()  # every item's title, "À la une" first, in the letter's order
    built_by: str = ""  # the digest version that built it ("": 0.1.0 or earlier, which did not record it)
    members: BuiltLetter | None = None  # the members' edition (adherents/), when some items are for members only

    @property
    def fingerprint(self) -> str:
        """This build, as a send journal and an approval name it: its HTML and text (both editions'), and its
        subject."""
        both = self.html + self.text + (self.members.html + self.members.text if self.members else "")
        made = hashlib.sha256(both.encode("utf-8")).hexdigest()
        return f"{made}:{self.subject}"

    @property
    def other_version(self) -> str | None:
        """The digest version that built it when it is not this one (None: this one)."""
        if self.built_by == __version__:
            return None
        return self.built_by or _("0.1.0 or earlier")


def read_built(outbox: Path, day: date) -> BuiltLetter:
    """The letter built for `day`; LetterNotBuilt (exit 2) naming the command to run if it is not there."""
    folder = path(outbox, day)
    missing = [n for n in (HTML, TEXT, RECORD) if not (folder / n).is_file()]
    if missing:
        raise LetterNotBuilt(_("the letter for {day} has not been built ({folder} has no {missing}); run `digest "
                               "build --date {iso}` first").format(
                                 day=i18n.day(day), iso=day.isoformat(), folder=folder, missing=', '.join(missing)))
    try:
        members = folder / MEMBERS
        edition = _read_folder(members, day) if all((members / n).is_file() for n in (HTML, TEXT, RECORD)) else None
        return replace(_read_folder(folder, day), members=edition)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LetterNotBuilt(_("{folder}: the built letter cannot be read ({exc}); build it again").format(
                                 folder=folder, exc=exc)) from None


def _read_folder(folder: Path, day: date) -> BuiltLetter:
    """One edition as `digest build` wrote it in `folder` (OSError, ValueError… when it cannot be read)."""
    meta = _record(folder)
    return BuiltLetter(
        folder=folder, date=day, title=meta["title"], subject=meta["subject"], sender=meta["from"],
        web_url=meta["web_url"], unsubscribe_url=meta["unsubscribe_url"],
        html=(folder / HTML).read_text(encoding="utf-8"), text=(folder / TEXT).read_text(encoding="utf-8"),
        item_count=len(meta.get("featured", [])) + sum(len(s.get("items", [])) for s in meta.get("sections", [])),
        built=datetime.fromtimestamp((folder / RECORD).stat().st_mtime, UTC),
        language=str(meta.get("language") or "fr"),
        preheader=str(meta.get("preheader") or ""),
        headlines=tuple(str(i.get("title", "")) for i in [*meta.get("featured", []),
                                                           *(i for s in meta.get("sections", [])
                                                             for i in s.get("items", []))]),
        built_by=str(meta.get("digest_version") or ""),
    )


def letters(outbox: Path) -> list[BuiltLetter]:
    """Every letter of the outbox that reads back whole, oldest first."""
    found = []
    for day, _folder in dated(outbox):
        try:
            found.append(read_built(outbox, day))
        except LetterNotBuilt:
            continue
    return found


def on_the_web(outbox: Path) -> list[tuple[date, Path]]:
    """(date, folder) of every letter with a web version (its HTML), oldest first: what the archive page lists
    and `digest publish` copies."""
    return [(day, folder) for day, folder in dated(outbox) if (folder / HTML).is_file()]


def public_files(folder: Path) -> tuple[str, ...]:
    """The files of a letter's folder a reader of the web version needs (no record, no fingerprint, no .eml)."""
    names = [name for name in PUBLIC if (folder / name).is_file()]
    names.extend(str(p.relative_to(folder)) for p in sorted((folder / AGENDA).rglob("*")) if p.is_file())
    return tuple(names)


def recorded_inputs(folder: Path) -> dict[str, str | None] | None:
    """The fingerprint a build wrote in `folder`; None for a letter built before fingerprints were kept."""
    try:
        found = json.loads((folder / INPUTS).read_text(encoding="utf-8"))["inputs"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return dict(found) if isinstance(found, Mapping) else None


def _record(folder: Path) -> dict[str, Any]:
    """The folder's record, parsed (OSError, ValueError when it cannot be read)."""
    found = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    if not isinstance(found, dict):
        raise ValueError(_("not a JSON object"))
    return found


# --- What earlier letters sent ----------------------------------------------------------------------------------

def load_history(outbox: Path, before: date, began: Callable[[date], bool]) -> History:
    """Every item of the letters in `outbox` dated strictly before `before` whose list send `began` (a trial
    build, a dry run or a test send never counts); an unreadable record is a warning."""
    uids: set[str] = set()
    urls: set[str] = set()
    sent_on: dict[str, date] = {}
    letters_sent: list[date] = []
    problems: list[Problem] = []
    for day, folder in dated(outbox):
        if day >= before or not (folder / RECORD).is_file() or not began(day):
            continue
        try:
            records = [_record(folder), *([_record(folder / MEMBERS)] if (folder / MEMBERS / RECORD).is_file() else [])]
            for uid, url in (found for record in records for found in _carried(record)):
                uids.add(uid)
                sent_on[uid] = day
                if url:
                    urls.add(url)
                    sent_on[url] = day
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            problems.append(Problem(str(folder / RECORD),
                                    _("cannot read what this letter sent ({exc}); its items may repeat").format(
                                        exc=exc)))
            continue
        letters_sent.append(day)
    return History(frozenset(uids), frozenset(urls), tuple(letters_sent), tuple(problems), sent_on)


def began(sends: Sends) -> Callable[[date], bool]:
    """Whether the list send of a date began: a subscriber's server accepted it."""
    return lambda day: bool((found := sends(day)) and found.get("sent"))


def pictures(folder: Path) -> set[str]:
    """The pictures the items of the letter in `folder` show, in either edition (their addresses)."""
    records = [_record(folder), *([_record(folder / MEMBERS)] if (folder / MEMBERS / RECORD).is_file() else [])]
    items = [i for record in records
             for i in [*record.get("featured", []), *(i for section in record["sections"] for i in section["items"])]]
    return {str(item["image"]) for item in items if item.get("image")}


def carried(folder: Path) -> set[str]:
    """The uids of the items the letter in `folder` carries (in either edition)."""
    found = {uid for uid, _url in _carried(_record(folder))}
    if (folder / MEMBERS / RECORD).is_file():
        found |= {uid for uid, _url in _carried(_record(folder / MEMBERS))}
    return found


def _carried(record: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    """(uid, url) of every item a record lists: featured, in sections, and the copies merged into them."""
    items = list(record.get("featured", []))
    for section in record["sections"]:
        items.extend(section["items"])
    for item in items:
        yield str(item["uid"]), item.get("url")
        for copy in item.get("also_in", []):
            yield str(copy["uid"]), copy.get("url")


# --- Where each letter is in its life ---------------------------------------------------------------------------

@dataclass(frozen=True)
class LetterState:
    """One letter of the outbox and where it is in its life."""

    letter: BuiltLetter
    counts: Mapping[str, int] | None  # the list send's journal, per state; None before any list send
    tested: str | None = None  # when the last --to send of this build went
    published: str | None = None
    sent_at: str | None = None  # when its list send first delivered a copy
    # Never list-sent, and a later letter's list send began: a trial or an abandoned draft, never a default.
    superseded: bool = False

    @property
    def day(self) -> date:
        """The letter's date."""
        return self.letter.date

    @property
    def folder(self) -> Path:
        """Its folder in the outbox."""
        return self.letter.folder

    @property
    def subject(self) -> str:
        """Its subject."""
        return self.letter.subject

    @property
    def sender(self) -> str:
        """Its From."""
        return self.letter.sender

    @property
    def built(self) -> datetime:
        """When it was written."""
        return self.letter.built

    @property
    def began(self) -> bool:
        """The list send began: a subscriber's server accepted it."""
        return bool(self.counts and self.counts["sent"])

    @property
    def complete(self) -> bool:
        """The list send ran and no one is left pending, deferred or unknown."""
        return self.counts is not None and not any(self.counts[s] for s in STILL_TO_SEND)

    @property
    def stage(self) -> Stage:
        """Where the letter is: built, tested, sending, sent or superseded."""
        if self.counts is not None:
            return Stage.SENT if self.complete else Stage.SENDING
        if self.superseded:
            return Stage.SUPERSEDED
        return Stage.TESTED if self.tested else Stage.BUILT

    @property
    def described(self) -> str:
        """The stage in words for a person (with the send's counts), and ', published' when it was."""
        if self.counts is not None and self.complete:
            counts = ", ".join(f"{_(COUNT_WORDS.get(s, s))} {self.counts[s]}" for s in COUNTED)
            words = _("sent ({counts})").format(counts=counts)
        elif self.counts is not None:
            counts = ", ".join(f"{_(COUNT_WORDS.get(s, s))} {n}" for s, n in self.counts.items() if n)
            words = _("sending ({counts})").format(counts=counts)
        elif self.superseded:
            words = _("superseded (never sent; a later letter was)")
        else:
            words = _("tested") if self.tested else _("built")
        return words + (", " + _("published") if self.published else "")

    def title(self) -> str:
        """`2025-12-18 « subject »`, as every command names the letter it acts on (quoted as the team writes)."""
        return _("{day} “{subject}”").format(day=self.day.isoformat(), subject=self.subject)


def read(cfg: Config, outbox: Path, day: date, sends: Sends) -> LetterState | None:
    """The letter dated `day` in `outbox`, None when it was not built (or cannot be read back)."""
    try:
        return state_of(cfg, read_built(outbox, day), sends)
    except LetterNotBuilt:
        return None


def state_of(cfg: Config, letter: BuiltLetter, sends: Sends) -> LetterState:
    """Where a built letter is in its life: its list send's counts and its private log."""
    found = sends(letter.date)
    log = _log(private(cfg, letter.date))
    counts = found if found and any(found.values()) else None  # an empty journal: no list send yet
    return LetterState(letter, counts, _since(log.get("tested"), letter.built), log.get("published"),
                       log.get("sent"))


def every(cfg: Config, outbox: Path, sends: Sends) -> list[LetterState]:
    """Every built letter of the outbox, newest first, those superseded by a later list send marked so."""
    states = [state_of(cfg, letter, sends) for letter in reversed(letters(outbox))]
    marked, later_sent = [], False
    for state in states:  # newest first: a letter is superseded when a later one's list send began
        marked.append(replace(state, superseded=later_sent and state.counts is None))
        later_sent = later_sent or state.began
    return marked


def of_month(cfg: Config, outbox: Path, day: date, sends: Sends) -> LetterState | None:
    """The letter of `day`'s month as the team sees it: the one whose list send began, else the one dated `day`,
    else the newest built that month; None when none was built."""
    month = [state for state in every(cfg, outbox, sends) if (state.day.year, state.day.month) == (day.year, day.month)]
    return next((s for s in month if s.began), None) or next((s for s in month if s.day == day), None) or \
        next(iter(month), None)


@dataclass(frozen=True)
class Choice:
    """The letter a command acts on, why, and the other candidates it did not take."""

    letter: LetterState
    reason: str
    others: tuple[LetterState, ...] = ()


def choose(cfg: Config, outbox: Path, given: date | None, sends: Sends, *, sent_ok: bool) -> Choice:
    """--date, else the newest built letter whose list send is not complete (else, if `sent_ok`, the newest)."""
    if given is not None:
        found = read(cfg, outbox, given, sends)
        if found is None:
            raise LetterNotBuilt(_("the letter for {day} has not been built ({folder} has no letter); run "
                                   "`digest build --date {iso}` first").format(
                                     day=i18n.day(given), iso=given.isoformat(), folder=path(outbox, given)))
        return Choice(found, _("given by --date"))
    states = every(cfg, outbox, sends)
    if not states:
        raise LetterNotBuilt(_("{outbox} holds no built letter; run `digest build --date YYYY-MM-DD` first").format(
                                 outbox=outbox))
    waiting = [s for s in states if not s.complete and not s.superseded]
    if waiting:
        others = tuple(s for s in states if not s.complete and s is not waiting[0])
        return Choice(waiting[0], _("the newest letter whose list send is not complete"), others)
    if not sent_ok:
        raise DigestError(_("every letter in {outbox} has been sent to its list (newest: {title}); give --date "
                            "YYYY-MM-DD to act on one of them").format(outbox=outbox, title=states[0].title()))
    return Choice(states[0], _("the newest letter; every list send is complete"))


def discard(cfg: Config, outbox: Path, day: date, sends: Sends) -> Path:
    """Move a letter that was never list-sent out of the outbox, into <private_dir>/discarded/<date>/ (kept, so
    it can be moved back); DigestError (exit 2) for a letter whose list send began. Where it went."""
    state = read(cfg, outbox, day, sends)
    if state is None:
        raise LetterNotBuilt(_("{folder} holds no built letter: nothing to discard").format(folder=path(outbox, day)))
    if state.counts is not None:
        raise DigestError(_("the list send of {day} has begun: that letter is part of the list's history and "
                            "stays (see digest send --status)").format(day=i18n.day(day)))
    target = cfg.private_dir / DISCARDED / day.isoformat()
    for number in range(2, 1000):  # a letter of that date discarded before keeps its place
        if not target.exists():
            break
        target = target.with_name(f"{day.isoformat()}-{number}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        state.folder.rename(target)
    except OSError as exc:
        raise failure(target, exc) from None
    return target


def may_rebuild(day: date, force: bool, sends: Sends) -> int:
    """How many subscribers got the letter of `day` already; DigestError (exit 2) if any and not `force`."""
    found = sends(day)
    sent = found["sent"] if found else 0
    if sent and not force:
        raise DigestError(_("the list send of {day} has begun ({sent} subscriber(s) got it): building it again "
                            "would send them and the others different letters; --force builds it anyway").format(
                              day=i18n.day(day), sent=sent))
    return sent


def changed(cfg: Config, folder: Path, day: date) -> list[str] | None:
    """The inputs that changed (or came or went) since the letter in `folder` was built; None if unknown."""
    before = recorded_inputs(folder)
    if before is None:
        return None
    now = inputs.fingerprint(cfg, day)
    return sorted(label for label in before.keys() | now.keys() if before.get(label) != now.get(label))


def refuse_stale(cfg: Config, letter: LetterState, allow_stale: bool) -> list[str]:
    """The inputs changed since the letter was built; DigestError (exit 2) naming them unless `allow_stale`."""
    found = changed(cfg, letter.folder, letter.day) or []
    if found and not allow_stale:
        raise DigestError(_("these files changed since the letter of {day} was built: {files}; build it again "
                            "(digest build --date {iso}) or add --allow-stale to use it as it was built").format(
                              day=i18n.day(letter.day), iso=letter.day.isoformat(), files=', '.join(found)))
    return found


def note(cfg: Config, day: date, event: str, *, first: bool = False) -> None:
    """Record in the letter's private log that it was tested, sent or published, and when (with `first`, only
    the first time)."""
    target = private(cfg, day) / LOG
    before = _log(target.parent)
    if first and event in before:
        return
    log = {**before, event: datetime.now(UTC).isoformat()}
    try:
        private_folder(target.parent)  # beside the journal: owner only, like everything in the private folder
        write_atomic(target, (json.dumps(log, indent=2) + "\n").encode("utf-8"), mode=PRIVATE)
    except OSError as exc:
        raise failure(target, exc) from None


def _since(moment: str | None, built: datetime) -> str | None:
    """`moment` if it came after the build: a test of an earlier build of the letter does not count."""
    try:
        return moment if moment and datetime.fromisoformat(moment) >= built else None
    except ValueError:
        return None


def _log(folder: Path) -> dict[str, str]:
    try:
        found = json.loads((folder / LOG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}
