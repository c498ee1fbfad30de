"""Hardening, class 6: warnings in plain words, always shown."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

from .test_input_bounds import calendar, event, read


def test_warnings_a_broken_event_is_named_without_python_internals(write_config: Callable[..., Path]) -> None:
    text = calendar(event("a", "Liste de dates", "20251201T090000Z,20251202T090000Z"),
                    "BEGIN:VEVENT\r\nUID:b\r\nSUMMARY:Sans début\r\nEND:VEVENT\r\n",
                    event("c", "Durée cassée", "20251203", "DURATION:P1X\r\n"),
                    event("d", "Bonne"))
    result = read(write_config, text)
    assert [i.title for i in result.items] == ["Bonne"]
    messages = [p.message for p in result.problems]
    assert "'Sans début': no DTSTART; event skipped" in messages
    for message in messages:
        assert "combine()" not in message and "operand" not in message and "'DTSTART'" not in message
        assert message.endswith("event skipped")


def test_warnings_a_calendar_librarys_warning_is_one_line_naming_the_source(
        write_config: Callable[..., Path]) -> None:
    text = calendar(event("a", "Réunion", "20251201T090000", "").replace(
        "DTSTART:", "DTSTART;TZID=/freeassociation.sourceforge.net/Europe/Paris:"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a Python warning escaping the collector fails the test
        result = read(write_config, text)
    assert [i.title for i in result.items] == ["Réunion"]
    assert len(result.problems) == 1 and result.problems[0].where == "agenda"
    assert result.problems[0].message.startswith("the calendar library warns: Timezone")


def test_warnings_a_build_with_every_section_empty_prints_its_reasons(write_config: Callable[..., Path]) -> None:
    from click.testing import CliRunner

    from digest.cli import main

    path = write_config('[[source]]\nname = "agenda"\nsection = "agenda"\nurl = "a.ics"\n'
                        '[[source]]\nname = "news"\nsection = "cuf"\nurl = "absent.csv"\n',
                        files={"a.ics": calendar("BEGIN:VEVENT\r\nUID:b\r\nSUMMARY:Sans début\r\nEND:VEVENT\r\n")})
    result = CliRunner().invoke(main, ["build", "-c", str(path), "--date", "2025-11-20"])
    assert result.exit_code == 1 and "every section is empty" in result.output
    assert "agenda: 'Sans début': no DTSTART; event skipped" in result.output
    assert "news: file not found" in result.output and "Traceback" not in result.output


def test_warnings_a_read_only_outbox_is_a_clear_message(write_config: Callable[..., Path], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from digest.cli import main

    # A file where the folder should be: fails for root too (which writes in a read-only folder).
    (tmp_path / "outbox").write_text("not a folder", encoding="utf-8")
    path = write_config('[[source]]\nname = "agenda"\nsection = "agenda"\nurl = "a.ics"\n',
                        files={"a.ics": calendar(event("a", "Réunion"))})
    result = CliRunner().invoke(main, ["build", "-c", str(path), "--date", "2025-11-20",
                                       "-o", str(tmp_path / "outbox" / "sub")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"could not write {tmp_path / 'outbox' / 'sub'}" in result.output
