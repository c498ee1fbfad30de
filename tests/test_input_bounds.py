"""Hardening, class 3: bounded work for every input (repeat rules, event counts, the deadline while parsing)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path

from digest import collectors, config
from digest.collectors import ics
from digest.collectors.base import Context

from .test_collectors import PARIS

CTX = Context(tz=PARIS, teaser_length=280, today=date(2025, 11, 20), horizon_days=180)


def calendar(*events: str) -> str:
    return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n" + "".join(events) + "END:VCALENDAR\r\n"


def event(uid: str, summary: str, start: str = "20251201T090000Z", extra: str = "") -> str:
    return f"BEGIN:VEVENT\r\nUID:{uid}\r\nSUMMARY:{summary}\r\nDTSTART:{start}\r\n{extra}END:VEVENT\r\n"


def read(write_config: Callable[..., Path], text: str, ctx: Context = CTX) -> collectors.Collected:
    path = write_config('[[source]]\nname = "agenda"\nsection = "agenda"\nurl = "a.ics"\n', files={"a.ics": text})
    return collectors.collect(config.load(path).sources[0], ctx)


def test_bounds_an_endless_secondly_rule_is_refused_at_once_naming_the_event(
        write_config: Callable[..., Path]) -> None:
    text = calendar(event("s", "Chaque seconde", "20251101T090000Z", "RRULE:FREQ=SECONDLY\r\n"),
                    event("m", "Chaque minute", "20240101T090000Z", "RRULE:FREQ=MINUTELY\r\n"),
                    event("ok", "Réunion"))
    result = read(write_config, text)  # refused by reading its rule, never expanded (minutes and GB before)
    assert [i.title for i in result.items] == ["Réunion"]
    messages = [p.message for p in result.problems]
    assert "'Chaque seconde': it repeats every 1 second(s) since 01/11/2025: more than 100000 repetitions to go " \
           "through; event skipped" in messages
    assert any(m.startswith("'Chaque minute': it repeats every 1 minute(s) since 01/01/2024") for m in messages)


def test_bounds_occurrences_are_capped_per_event_with_a_warning(write_config: Callable[..., Path]) -> None:
    text = calendar(event("h", "Permanence", "20251120T000000Z", "RRULE:FREQ=HOURLY\r\n"))
    result = read(write_config, text)
    assert ics.MAX_PER_EVENT - 30 <= len(result.items) <= ics.MAX_PER_EVENT + 1
    assert result.problems[0].message == (f"'Permanence' repeats more than {ics.MAX_PER_EVENT} times within the "
                                          "horizon: only its dates until 10/12/2025 are kept")


def test_bounds_items_are_capped_per_source(write_config: Callable[..., Path]) -> None:
    text = calendar(*(event(f"e{n}", f"Événement {n}") for n in range(30)))
    setattr(ics, "MAX_PER_SOURCE", 25)  # noqa: B010 (restored below)
    try:
        result = read(write_config, text)
    finally:
        setattr(ics, "MAX_PER_SOURCE", 5000)  # noqa: B010
    assert len(result.items) == 25 and result.problems[-1].message == "more than 25 events: the rest are left out"


def test_bounds_a_calendar_stops_being_read_when_the_deadline_passes(write_config: Callable[..., Path]) -> None:
    text = calendar(event("a", "Réunion"))
    result = read(write_config, text, replace(CTX, deadline_at=time.monotonic() - 1))
    assert result.failed and "deadline" in result.problems[0].message


def test_bounds_the_deadline_holds_while_a_big_calendar_is_parsed(write_config: Callable[..., Path]) -> None:
    many = calendar(*(event(f"e{n}", f"Réunion {n}", extra="RRULE:FREQ=DAILY;COUNT=100\r\n") for n in range(3000)))
    path = write_config('[[source]]\nname = "agenda"\nsection = "agenda"\nurl = "a.ics"\n', files={"a.ics": many})
    cfg = config.load(path)
    results = collectors.collect_all(cfg.sources, CTX, config.FetchConfig(deadline=0.5))
    assert "still being read" in results[0].problems[0].message  # stopped by the deadline, not read whole
