"""Hardening, class 9: rebuilding a letter removes what no longer belongs to it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from digest import config, pipeline

from .conftest import LETTER_DATE, NEWS_AND_EVENTS

NEWS = "title;url;date\nActualité;https://e.org/a;19/11/2025\n"
TWO = "title;url;start\nWebinaire;https://e.org/w;26/12/2025 10:00\nAtelier;https://e.org/x;27/12/2025 10:00\n"
ONE = "title;url;start\nWebinaire;https://e.org/w;26/12/2025 10:00\n"


def test_cleanup_a_rebuild_removes_the_ics_of_an_event_no_longer_in_the_letter(
        write_config: Callable[..., Path], tmp_path: Path) -> None:
    path = write_config(NEWS_AND_EVENTS, files={"news.csv": NEWS, "events.csv": TWO})
    outbox = tmp_path / "outbox"
    pipeline.build(config.load(path), LETTER_DATE, outbox)
    folder = outbox / LETTER_DATE.isoformat() / "agenda"
    before = sorted(p.name for p in folder.glob("*.ics"))
    assert len(before) == 2 and any("atelier" in name for name in before)
    (path.parent / "events.csv").write_text(ONE, encoding="utf-8")  # the workshop is cancelled
    pipeline.build(config.load(path), LETTER_DATE, outbox)
    after = sorted(p.name for p in folder.glob("*.ics"))
    assert len(after) == 1 and "webinaire" in after[0] and after[0] in before
    assert sorted(p.name for p in folder.iterdir()) == after  # the folder is rebuilt whole: nothing stale stays
