"""What the editorial desk shows, in French: every candidate item per section (shown, then left out and why),
the words of the letter, the section order and the pre-send report, rendered with Jinja2 (autoescaped)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from digest import i18n, letterfolder, selector
from digest.config import Config, SectionConfig
from digest.i18n import N_, _, ngettext
from digest.issuefile import ISSUE_SOURCE, IssueFile
from digest.model import Item
from digest.review import check
from digest.review.preview import Snapshot

STATIC = Path(__file__).resolve().parent / "static"
REASONS = {  # translated where shown
    selector.EXCLUDED: N_("Left out by the team"),
    selector.OUTSIDE: N_("Outside the section's dates"),
    selector.SENT: N_("Already sent in an earlier letter"),
    selector.DUPLICATE: N_("Duplicate of another article (the fullest copy is kept)"),
    selector.OVER_MAX: N_("Beyond the section's number of articles (max_items)"),
}
LEVELS = {"error": N_("Error"), "warning": N_("Warning")}  # translated where shown


@dataclass(frozen=True)
class Card:
    """One candidate item as the desk shows it, with what the issue file says of it."""

    anchor: str  # its id in the page, for the report's links
    name: str  # how the issue file names it (url or uid)
    item: Item
    section: str  # the section it was read for ("" for an "À la une" item)
    shown: bool
    reason: str = ""  # why it is left out, in the desk's language
    excluded: bool = False
    pinned: bool = False
    featured: bool = False
    first: bool = False  # first of the pin (or featured) list: no "Monter"
    last: bool = False

    @property
    def moves(self) -> str:
        """Which list Monter / Descendre reorder: featured, pin, or none."""
        return "featured" if self.featured else "pin" if self.pinned else ""


@dataclass(frozen=True)
class Group:
    """A section of the desk: its items in the letter, then those left out."""

    id: str
    title: str
    shown: tuple[Card, ...]
    left_out: tuple[Card, ...]


def _name(item: Item, issue: IssueFile) -> str:
    """The name the issue file already uses for the item, else its url, else its uid."""
    for name in (*issue.featured, *issue.pin, *issue.exclude, *(o.item for o in issue.overrides)):
        if selector.matches(name, item):
            return name
    return item.url or item.uid


def _card(number: int, item: Item, section: str, issue: IssueFile, shown: bool, reason: str = "") -> Card:
    name = _name(item, issue)
    excluded = any(selector.matches(n, item) for n in issue.exclude)
    featured = any(selector.matches(n, item) for n in issue.featured)
    pinned = not featured and any(selector.matches(n, item) for n in issue.pin)
    names = issue.featured if featured else issue.pin if pinned else ()
    return Card(f"item-{number}", name, item, section, shown, reason, excluded, pinned, featured,
                first=bool(names) and selector.matches(names[0], item),
                last=bool(names) and selector.matches(names[-1], item))


def groups(cfg: Config, snapshot: Snapshot) -> tuple[tuple[Card, ...], tuple[Group, ...]]:
    """The "À la une" cards, and every section's cards in the letter's section order."""
    if snapshot.built is None:
        return (), ()
    prepared = snapshot.built.prepared
    issue, letter = prepared.issue, prepared.letter
    counter = iter(range(1, 1_000_000))
    featured = tuple(_card(next(counter), item, "", issue, True) for item in letter.featured)
    shown = {s.id: s.items for s in letter.sections}
    found = []
    for section in section_order(cfg, issue):
        cards = tuple(_card(next(counter), item, section.id, issue, True) for item in shown.get(section.id, ()))
        left = tuple(_card(next(counter), gone.item, section.id, issue, False, _(REASONS[gone.reason]))
                     for gone in prepared.left_out if gone.section == section.id)
        found.append(Group(section.id, section.title, cards, left))
    return featured, tuple(found)


def section_order(cfg: Config, issue: IssueFile) -> list[SectionConfig]:
    """The sections in the letter's order: those the issue file lists first, then the others."""
    first = [s for name in issue.sections for s in cfg.sections if s.id == name]
    return first + [s for s in cfg.sections if s not in first]


def when(item: Item, timezone: str) -> str:
    """The item's date (an event's start) as the team writes it: 20/11/2025, or 18/06/2026 09:30."""
    moment: datetime | None = item.start or item.date
    if moment is None:
        return _("no date")
    local = moment.astimezone(ZoneInfo(timezone))
    return local.strftime("%d/%m/%Y %H:%M" if item.start and not item.all_day else "%d/%m/%Y")


def target(finding: check.Finding, cards: list[Card]) -> str:
    """The anchor of the item or field a finding is about ("" when it is about the whole letter)."""
    if finding.check in ("subject", "preheader"):
        return f"field-{finding.check}"
    for card in cards:
        if (finding.uid and card.item.uid == finding.uid) or (
                finding.url and finding.url in (card.item.url, card.item.image)):
            return card.anchor
    if "[editorial]" in finding.where:  # a place the issue file's reader names, not a sentence
        return "field-editorial"
    return ""


@cache
@functools.cache
def environment() -> jinja2.Environment:
    """The desk's templates (autoescaped: every value from a source or a file is escaped); one environment per
    process, so the page's template is compiled once, not on every click (Jinja reloads it if the file changes)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(STATIC), autoescape=True, trim_blocks=True,
                             lstrip_blocks=True, undefined=jinja2.StrictUndefined, extensions=["jinja2.ext.i18n"])
    env.install_gettext_callables(_, ngettext, newstyle=True)  # type: ignore[attr-defined]  # the extension's
    env.filters["when"] = when
    env.filters["day"] = lambda iso: i18n.day(date.fromisoformat(iso)) if iso else ""
    env.filters["iso_day"] = iso_day
    env.filters["quoted"] = lambda term: _("“{term}”").format(term=term)
    env.filters["clock"] = lambda moment: i18n.clock(moment, seconds=True) if moment else ""
    env.filters["decimal"] = i18n.decimal
    return env


def context(cfg: Config | None, snapshot: Snapshot, token: str) -> dict[str, Any]:
    """Everything the page's template needs."""
    featured, sections = groups(cfg, snapshot) if cfg else ((), ())
    cards = [*featured, *(c for g in sections for c in (*g.shown, *g.left_out))]
    issue = snapshot.built.prepared.issue if snapshot.built else IssueFile()
    findings = [(f, target(f, cards)) for f in snapshot.findings]
    return {
        "s": snapshot, "token": token, "featured": featured, "sections": sections, "issue": issue,
        "findings": findings, "summary": check.summary(snapshot.findings),
        "levels": {level: _(word) for level, word in LEVELS.items()},
        "order": section_order(cfg, issue) if cfg else [],
        "choices": [(s.id, s.title) for s in cfg.sections] if cfg else [],
        "timezone": cfg.letter.timezone if cfg else "Europe/Paris",
        "test_to": ", ".join(cfg.preview.test_to) if cfg else "",
        "approvers": ", ".join(cfg.send.approvers) if cfg else "",
        "size_kb": len((snapshot.html or "").encode("utf-8")) / 1024,
        "editorial_html": snapshot.built.letter.editorial_html if snapshot.built else "",
        "issue_name": snapshot.issue_path.name if snapshot.issue_path else "",
        "look": look_rows(snapshot), "logo": cfg.look.logo if cfg else None,
        "lang": i18n.current(), "languages": list(i18n.NAMES.items()), "script_words": script_words(),
        "hand_source": ISSUE_SOURCE, "audience": check.audience(cfg) if cfg else None,
        "contributions": contributions(cfg) if cfg else [], "contribute": bool(cfg and cfg.contribute.url),
        "proposals": snapshot.proposals, "badges": badges(snapshot.findings) if snapshot.html else [],
        "saved_at": saved_at(snapshot.issue_path),
        "member_sites": bool(cfg and cfg.member_sites_sources),
        **_standing(cfg, snapshot),
    }


def badges(findings: list[check.Finding]) -> list[tuple[str, str]]:
    """The report at a glance: how many errors and warnings (each opens the report), or that all is well."""
    errors = sum(f.level == "error" for f in findings)
    warnings = sum(f.level == "warning" for f in findings)
    shown = [("error", ngettext("{count} error", "{count} errors", errors).format(count=errors))] if errors else []
    shown += [("warning", ngettext("{count} warning", "{count} warnings", warnings).format(count=warnings))] \
        if warnings else []
    return shown or [("ok", _("No problem"))]


def saved_at(path: Path | None) -> datetime | None:
    """When the issue file was last saved (by the desk or by hand); None before its first save."""
    try:
        return datetime.fromtimestamp(path.stat().st_mtime) if path is not None else None
    except OSError:
        return None


def iso_day(typed: str) -> str:
    """A dd/mm/yyyy date as a date field's value (yyyy-mm-dd), '' when it is not one."""
    from digest import dates

    kept = dates.as_typed(typed or "", with_time=False)
    return f"{kept[6:10]}-{kept[3:5]}-{kept[0:2]}" if kept else ""


def _standing(cfg: Config | None, snapshot: Snapshot) -> dict[str, str]:
    """Where the letter on show stands (built, tested, sending, sent), and the banner of one that went out."""
    if cfg is None or not snapshot.letter_date:
        return {"stage": "", "gone": ""}
    day = date.fromisoformat(snapshot.letter_date)
    state = standing(cfg, day)
    stage = state.described if state is not None else _("not built yet (`digest build` writes it)")
    if state is not None:
        stage = " · ".join(w for w in (stage, *release(cfg, state)) if w)
    return {"stage": stage, "gone": gone(cfg, day, state) or ""}


def release(cfg: Config, state: letterfolder.LetterState) -> list[str]:
    """The built letter's approval ([send] approvers) and scheduled send, in the team's words."""
    from digest.delivery import approval, schedule

    found = [approval.described(approval.of_letter(cfg, state.letter))]
    planned = schedule.of_letter(cfg, state.day)
    return [*found, schedule.described(planned) if planned is not None else "", *audience(cfg, state)]


def audience(cfg: Config, state: letterfolder.LetterState) -> list[str]:
    """With a members' edition or a members file: how many members and others, and each edition's counts."""
    from digest import members as member_file
    from digest.audience.subscribers import Subscribers
    from digest.delivery import journal

    if state.letter.members is None and not cfg.members_file:
        return []
    said = []
    if cfg.subscribers_path.is_file():
        with Subscribers(cfg.subscribers_path) as store:
            members, others = store.audience(member_file.read(cfg.members_file))
        said.append(_("Subscribed: {members} member(s), {others} other(s)").format(
            members=i18n.number(members), others=i18n.number(others)))
    said += journal.edition_lines(journal.folder_for(cfg, state.day))
    return said


def standing(cfg: Config, day: date) -> letterfolder.LetterState | None:
    """The letter of `day`'s month in the outbox, as the team sees it (the one whose list send began, first)."""
    from digest.delivery import journal

    return letterfolder.of_month(cfg, cfg.outbox, day, journal.sends(cfg))


def gone(cfg: Config, day: date, state: letterfolder.LetterState | None = None) -> str | None:
    """What the desk says of a letter whose list send began (it no longer changes); None for one still to send."""
    state = state if state is not None else standing(cfg, day)
    if state is None or not state.began:
        return None
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    sent = date.fromisoformat(state.sent_at[:10]) if state.sent_at else state.day
    return _("This letter went out on {day}: it no longer changes here. For the next one, start `digest preview "
             "--date {next}`; contributions accepted here go into it.").format(day=i18n.day(sent),
                                                                                 next=following.isoformat())


@dataclass(frozen=True)
class Proposal:
    """A contribution waiting for the team's decision, as the desk shows it (its thumbnail inline)."""

    item: Any  # digest.contribute.store.Contribution
    thumb: str  # a data: URL, '' without a photo


def contributions(cfg: Config) -> list[Proposal]:
    """The contributions waiting for a decision (none without [contribute] url or a store)."""
    if cfg.contribute.url is None or not cfg.subscribers_path.is_file():
        return []
    import base64

    from digest.contribute.states import State
    from digest.contribute.store import Contributions

    with Contributions(cfg.subscribers_path) as store:
        found = store.listed(State.PROPOSED)
        pictures = {c.picture: store.picture(c.picture) for c in found if c.picture}
    return [Proposal(c, "data:image/jpeg;base64," + base64.b64encode(kept[0]).decode("ascii")
                     if (kept := pictures.get(c.picture)) else "") for c in found]


def script_words() -> dict[str, str]:
    """What the page's script may have to say, in the interface language (it holds no sentence of its own)."""
    return {"no_answer": _("The server does not answer: "), "not_saved": _("The change could not be saved."),
            "sending": _("Sending…"),
            "count": _("{count} characters — a phone shows about {phone}, a computer about {desktop}"),
            "default_text": _(" (default text)"), "no_picture": _("Picture not loaded")}


LOOK_LABELS = {"header": N_("Banner and article titles"), "accent": N_("Section titles"), "link": N_("Links"),
               "button": N_("Agenda date badges"), "accent_dark": N_("Section titles (dark mode)"),
               "link_dark": N_("Links (dark mode)")}  # translated where shown


@dataclass(frozen=True)
class LookRow:
    """One colour of the letter's look as the desk shows it, with its contrast verdict."""

    key: str
    label: str
    value: str
    ratio: str  # "8.2:1"
    needed: str  # "4.5:1"
    passes: bool
    advice: str  # the nearest passing shade, for a colour that fails


def look_rows(snapshot: Snapshot) -> list[LookRow]:
    """Each [look] colour of the letter on show, with its WCAG verdict."""
    from digest import look

    if snapshot.built is None:
        return []
    return [LookRow(v.key, _(LOOK_LABELS[v.key]), v.colour, f"{v.ratio:.1f}:1", f"{v.needed:g}:1", v.passes,
                    "" if v.passes else look.nearest_passing(v.colour, v.other, v.needed))
            for v in look.verdicts(snapshot.built.letter.look)]


def page(cfg: Config | None, snapshot: Snapshot, token: str) -> str:
    """The whole desk page."""
    return environment().get_template("desk.html.j2").render(context(cfg, snapshot, token))


def parts(cfg: Config | None, snapshot: Snapshot, token: str) -> dict[str, str]:
    """The page's parts that change with each build, by element id, for the page to swap in."""
    module = environment().get_template("desk.html.j2").make_module(context(cfg, snapshot, token))
    return {name: str(getattr(module, name.replace("-", "_"))())
            for name in ("status", "build-error", "items", "report", "sections-order", "edito-preview", "inbox",
                         "look-panel", "contributions-list", "proposals-list")}
