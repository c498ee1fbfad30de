"""Hardening, class 5: one odd element never loses a whole source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .test_hardening_bounds import calendar, event, read


def test_sources_a_file_with_two_vcalendars_gives_the_events_of_both(write_config: Callable[..., Path]) -> None:
    text = calendar(event("a", "Réunion A")) + calendar(event("b", "Réunion B"))
    result = read(write_config, text)
    assert not result.failed and [i.title for i in result.items] == ["Réunion A", "Réunion B"]
