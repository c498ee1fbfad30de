"""The build, top to bottom: config -> collectors -> selector -> renderer -> letter folder, timed stage by stage.

`prepare` collects and selects (a frozen `Prepared`); `build` renders it and, unless dry, writes it (a frozen
`Built`). `check`, `preview`, `send` and `export` take these results as they are.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

from digest import collectors, editorial, inputs, issuefile, letterfolder, look, renderer, selector
from digest.collectors.base import Context
from digest.config import DEFAULT_HORIZON_DAYS, Config
from digest.errors import BuildFailed
from digest.files import Written
from digest.i18n import _
from digest.message import build_message
from digest.model import Collected, History, Item, Letter, Problem, Rendered


@dataclass(frozen=True)
class Prepared:
    """The letter collected and selected, not yet rendered, with what the collection and selection said."""

    letter: Letter
    collected: tuple[Collected, ...]
    issue: issuefile.IssueFile
    history: History
    notes: tuple[str, ...]
    problems: tuple[Problem, ...]  # the issue file's, the history's and the selection's (sources' are in collected)
    already_sent: int  # items left out because an earlier letter carried them
    timings: Mapping[str, float]
    left_out: tuple[selector.LeftOut, ...] = ()  # every candidate not in the letter, and why
    files: Mapping[str, bytes] = field(default_factory=dict)  # written beside the letter: its logo
    proposals: tuple[Item, ...] = ()  # the members' sites' articles waiting for the team's click

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """Every warning so far: the sources' first, then the others."""
        return (*(p for c in self.collected for p in c.problems), *self.problems)


@dataclass(frozen=True)
class Edition:
    """The members' edition of a letter: every item, members-only ones included, rendered, and its .eml."""

    letter: Letter
    rendered: Rendered
    unsubscribe_mailto: str | None = None

    @cached_property
    def eml(self) -> bytes:
        """The edition's .eml, made when first asked for: the desk shows a letter before anything needs it."""
        return build_message(self.letter, self.rendered, self.unsubscribe_mailto)


@dataclass(frozen=True)
class Built:
    """A rendered letter: the prepared letter, its public edition's HTML, text and .eml, the members' edition when
    some items are for members only, and the files written (none if dry)."""

    config: Config
    prepared: Prepared
    rendered: Rendered
    written: tuple[Written, ...]
    timings: Mapping[str, float]
    members: Edition | None = None

    @cached_property
    def letter(self) -> Letter:
        """The public edition's letter, as rendered (prepared.letter holds every item); made once."""
        full = self.prepared.letter
        return full.public() if full.for_members and not full.members_edition else full

    @cached_property
    def eml(self) -> bytes:
        """The public edition's .eml, made when first asked for (a write, a check, a test send), once."""
        return build_message(self.letter, self.rendered, self.config.letter.unsubscribe_mailto)

    @property
    def members_view(self) -> Built | None:
        """The members' edition as a Built of its own (what `digest check` judges too); None: one edition."""
        if self.members is None:
            return None
        return replace(self, prepared=replace(self.prepared, letter=self.members.letter, problems=()),
                       rendered=self.members.rendered, members=None)

    @property
    def size_problem(self) -> renderer.SizeProblem | None:
        """The HTML's size against Gmail's clipping, if it is near or past it."""
        return renderer.size_problem(self.rendered.html, letterfolder.HTML)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """Every warning of the build, the size's last."""
        size = self.size_problem
        return (*self.prepared.warnings, *((size.problem,) if size else ()))


class _Clock:
    """Seconds spent per stage."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Add the seconds spent in the block to `stage`."""
        began = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - began


def build(config: Config, today: date, out: Path | None = None, strict: bool = False,
          on_source: Callable[[Collected], None] | None = None, include_sent: bool = False,
          sent_in: Path | None = None, offline: bool = False, record_health: bool | None = None,
          sends: letterfolder.Sends = letterfolder.no_sends, collected: tuple[Collected, ...] | None = None,
          empty_ok: bool = False) -> Built:
    """Build the letter dated `today`; write it to `out` unless None (a dry build, which writes nothing).
    `empty_ok`: a month with no item yet is a letter of empty sections (the desk's, to be filled), not a failure;
    it is never written.

    Items that letters already in `out` (or `sent_in`, for a dry build) carried are left out, unless pinned
    or `include_sent`; only a letter whose list send began (`sends`) counts. Sources' health is recorded by a
    build that writes, not by a dry one.
    """
    record = out is not None if record_health is None else record_health
    prepared = prepare(config, today, None if include_sent else (out or sent_in), on_source, offline, record, sends,
                       collected, empty_ok=empty_ok and out is None)
    clock = _Clock()
    with clock.timed("render"):
        full = prepared.letter
        public = full.public() if full.for_members else full
        rendered = renderer.render(public, config.letter.templates)
        members = edition(full.members(), config) if full.for_members else None
    built = Built(config, prepared, rendered, (), {}, members)
    if strict and built.warnings:
        raise BuildFailed(_("--strict: {count} warning(s), nothing written:").format(
            count=len(built.warnings)) + _listed(built.warnings))
    written: tuple[Written, ...] = ()
    if out is not None:
        with clock.timed("write"):
            fingerprint = inputs.fingerprint(config, today)
            written = tuple(letterfolder.write_letter(out, public, rendered, built.eml, fingerprint, prepared.files,
                                                      members=(members.letter, members.rendered, members.eml)
                                                      if members else None))
    return replace(built, written=written, timings={**prepared.timings, **clock.timings})


def edition(letter: Letter, config: Config) -> Edition:
    """The members' edition rendered."""
    return Edition(letter, renderer.render(letter, config.letter.templates), config.letter.unsubscribe_mailto)


def prepare(config: Config, today: date, sent_in: Path | None = None,
            on_source: Callable[[Collected], None] | None = None, offline: bool = False,
            record_health: bool = False, sends: letterfolder.Sends = letterfolder.no_sends,
            collected: tuple[Collected, ...] | None = None, *, empty_ok: bool = False) -> Prepared:
    """Collect and select: the letter dated `today` (not rendered), minus what letters in `sent_in` whose list
    send began (`sends`) carried.

    Sources are read at once (web ones concurrently, within [fetch] deadline); `offline` reads web sources from
    the cache alone. on_source hears of each source as it completes. `collected`, the sources as an earlier
    build of the same inputs read them, is used as it is (the desk's rebuild after an edit of the issue file).
    """
    clock = _Clock()
    with clock.timed("collect"):
        issue = issuefile.load(config, today)
        if collected is None:
            collected = tuple(collect(config, today, on_source, offline, record_health))
    with clock.timed("select"):
        earlier = (letterfolder.load_history(sent_in, today, letterfolder.began(sends)) if sent_in is not None
                   else History())
        selection = selector.select(config, list(collected), today, issue, earlier)
        if not selection.sections and not selection.featured and not empty_ok:
            warnings = (*(p for c in collected for p in c.problems), *earlier.problems, *selection.problems)
            raise BuildFailed(_("no item to send for {day}: every section is empty. Check the sections' "
                                "window_days / horizon_days").format(
                                    day=today.isoformat()) + (_(", and these warnings:") if warnings else ".")
                              + _listed(warnings))
        letter, edito_problems = _with_issue(selector.make_letter(config, selection.sections, today,
                                                          letterfolder.web_path(today)), selection,
                                             issue)
        letter_look, files = look.for_letter(config, today)
        letter = replace(letter, look=letter_look)
    return Prepared(letter, collected, issue, earlier, selection.notes,
                    (*earlier.problems, *selection.problems, *edito_problems), selection.already_sent,
                    clock.timings, selection.left_out, files, selection.proposals)


def _listed(problems: tuple[Problem, ...]) -> str:
    """The warnings as lines under an error's message: a failed build shows its reasons too."""
    return "".join(f"\n  - {problem}" for problem in problems)


def _with_issue(letter: Letter, selection: selector.Selection,
                issue: issuefile.IssueFile) -> tuple[Letter, tuple[Problem, ...]]:
    """The letter with the issue file's subject, preheader, editorial and featured items; the editorial's warnings."""
    edito = editorial.render(issue.editorial)
    where = str(issue.path) if issue.path else "issue file"
    problems = tuple(Problem(where, _("[editorial] text: removed {what} (not allowed in the letter)").format(what=what))
                     for what in edito.removed) + tuple(Problem(where, note) for note in issue.notes)
    return replace(letter, featured=selection.featured, subject=issue.subject or "",
                   preheader=issue.preheader or "", editorial_title=issue.editorial_title if edito.html else "",
                   editorial_html=edito.html, editorial_text=edito.text), problems


def collect(config: Config, today: date, on_source: Callable[[Collected], None] | None = None,
            offline: bool = False, record_health: bool = True) -> list[Collected]:
    """Read every source as a build does (cache updated; health recorded if asked), one result per source."""
    horizon = max((s.horizon_days for s in config.sections if s.kind == "agenda"), default=DEFAULT_HORIZON_DAYS)
    ctx = Context(tz=ZoneInfo(config.letter.timezone), teaser_length=config.letter.teaser_length,
                  today=today, horizon_days=horizon)
    return collectors.collect_all(config.sources, ctx, config.fetch, on_source, offline=offline,
                                  record_health=record_health, member_sites=config.member_sites)
