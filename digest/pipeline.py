"""The build, top to bottom: config -> collectors -> selector -> renderer -> outbox, timed stage by stage."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from digest import collectors, editorial, history, issuefile, outbox, renderer, selector
from digest.collectors.base import Context
from digest.config import Config
from digest.errors import BuildFailed
from digest.message import build_message
from digest.model import Collected, Letter, Problem, Rendered


@dataclass
class Report:
    """What a build did, for the CLI to print: results per source, the letter, warnings, files, timings."""

    collected: list[Collected] = field(default_factory=list)
    letter: Letter | None = None
    rendered: Rendered | None = None
    eml: bytes = b""  # the .eml as built, for the pre-send check and the preview
    notes: tuple[str, ...] = ()
    problems: list[Problem] = field(default_factory=list)
    written: list[outbox.Written] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    issue: issuefile.IssueFile = field(default_factory=issuefile.IssueFile)
    history: history.History = field(default_factory=history.History)
    already_sent: int = 0  # items left out because an earlier letter in the outbox carried them

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
          sent_in: Path | None = None, offline: bool = False) -> Report:
    """Build the letter dated `today`; write it to `out` unless None (a dry build).

    Items that letters already in `out` (or `sent_in`, for a dry build) carried are left out, unless pinned
    or `include_sent`.
    """
    report = prepare(config, today, None if include_sent else (out or sent_in), on_source, offline)
    assert report.letter is not None
    with report.timed("render"):
        report.rendered = renderer.render(report.letter, config.letter.templates)
        report.problems.extend(renderer.size_problems(report.rendered.html))
        report.eml = eml = build_message(report.letter, report.rendered, config.letter.unsubscribe_mailto)
    if strict and report.problems:
        raise BuildFailed(f"--strict: {len(report.problems)} warning(s), nothing written")
    if out is not None:
        with report.timed("write"):
            report.written = outbox.write_letter(out, report.letter, report.rendered, eml)
    return report


def prepare(config: Config, today: date, sent_in: Path | None = None,
            on_source: Callable[[Collected], None] | None = None, offline: bool = False) -> Report:
    """Collect and select: the letter dated `today` (not rendered), minus what letters in `sent_in` carried.

    Sources are read at once (web ones concurrently, within [fetch] deadline); `offline` reads web sources from
    the cache alone. on_source hears of each source as it completes.
    """
    report = Report()
    with report.timed("collect"):
        report.issue = issuefile.load(config, today)
        for result in collect(config, today, on_source, offline):
            report.collected.append(result)
            report.problems.extend(result.problems)
    with report.timed("select"):
        if sent_in is not None:
            report.history = history.load(sent_in, today)
            report.problems.extend(report.history.problems)
        selection = selector.select(config, report.collected, today, report.issue, report.history)
        report.notes, report.already_sent = selection.notes, selection.already_sent
        report.problems.extend(selection.problems)
        if not selection.sections and not selection.featured:
            raise BuildFailed(f"no item to send for {today.isoformat()}: every section is empty. "
                              "Check the warnings above and the sections' window_days / horizon_days.")
        report.letter = _with_issue(selector.make_letter(config, selection.sections, today), selection, report)
    return report


def _with_issue(letter: Letter, selection: selector.Selection, report: Report) -> Letter:
    """The letter with the issue file's subject, preheader, editorial and featured items."""
    issue = report.issue
    edito = editorial.render(issue.editorial)
    where = str(issue.path) if issue.path else "issue file"
    report.problems.extend(Problem(where, f"[editorial] text: removed {what} (not allowed in the letter)")
                           for what in edito.removed)
    return replace(letter, featured=selection.featured, subject=issue.subject or "",
                   preheader=issue.preheader or "", editorial_title=issue.editorial_title if edito.html else "",
                   editorial_html=edito.html, editorial_text=edito.text)


def collect(config: Config, today: date, on_source: Callable[[Collected], None] | None = None,
            offline: bool = False) -> list[Collected]:
    """Read every source as a build does (cache and health records updated), one result per source."""
    horizon = max((s.horizon_days for s in config.sections if s.kind == "agenda"), default=180)
    ctx = Context(tz=ZoneInfo(config.letter.timezone), teaser_length=config.letter.teaser_length,
                  today=today, horizon_days=horizon)
    return collectors.collect_all(config.sources, ctx, collectors.settings_for(config, offline), on_source,
                                  meanwhile=renderer.warm_up)
