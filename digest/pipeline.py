"""The build, top to bottom: config -> collectors -> selector -> renderer -> outbox, timed stage by stage."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from digest import collectors, outbox, renderer, selector
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
    notes: tuple[str, ...] = ()
    problems: list[Problem] = field(default_factory=list)
    written: list[outbox.Written] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Add the seconds spent in the block to `stage`."""
        began = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - began


def build(config: Config, today: date, out: Path | None = None, strict: bool = False,
          on_source: Callable[[Collected], None] | None = None) -> Report:
    """Build the letter dated `today`; write it to `out` unless None (a dry build)."""
    report = Report()
    with report.timed("collect"):
        ctx = Context(tz=ZoneInfo(config.letter.timezone), teaser_length=config.letter.teaser_length)
        for source in config.sources:
            result = collectors.collect(source, ctx)
            report.collected.append(result)
            report.problems.extend(result.problems)
            if on_source:
                on_source(result)
    with report.timed("select"):
        selection = selector.select(config, report.collected, today)
        report.notes = selection.notes
        if not selection.sections:
            raise BuildFailed(f"no item to send for {today.isoformat()}: every section is empty. "
                              "Check the warnings above and the sections' window_days / horizon_days.")
        report.letter = selector.make_letter(config, selection.sections, today)
    with report.timed("render"):
        report.rendered = renderer.render(report.letter, config.letter.templates)
        report.problems.extend(renderer.size_problems(report.rendered.html))
        eml = build_message(report.letter, report.rendered, config.letter.unsubscribe_mailto)
    if strict and report.problems:
        raise BuildFailed(f"--strict: {len(report.problems)} warning(s), nothing written")
    if out is not None:
        with report.timed("write"):
            report.written = outbox.write_letter(out, report.letter, report.rendered, eml)
    return report
