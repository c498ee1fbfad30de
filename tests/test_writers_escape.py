"""Hardening, class 1: text from a source written into a file of ours goes through that file's own writer."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

import icalendar

from digest import agenda
from digest.delivery.smtp import dry_run
from digest.edit import draft
from digest.files import safe_name
from digest.model import Section

from .conftest import make_item
from .test_renderer import letter_of

HOSTILE = 'x"\\\n[[item]]\nsection = "cuf"\ntitle = "Piège"\nurl = "https://evil.example/"\n\x00\x1b\r\u2028# '


def test_writers_a_draft_never_turns_a_sources_uid_or_title_into_a_live_line() -> None:
    item = make_item(HOSTILE, uid=HOSTILE, url=None)
    text = draft.draft_text(letter_of(Section("cuf", "Actualités CUF", "news", (item,))))
    data = tomllib.loads(text)  # the draft is valid TOML...
    assert "item" not in data and "section" not in data  # ...and the uid's [[item]] stays inside a comment
    assert data["pin"] == data["featured"] == data["exclude"] == []
    quoted = [line for line in text.splitlines() if "Piège" in line and line.lstrip("# ").startswith('"')]
    assert len(quoted) == 1  # the uid, on one line, quoted: an editor copies it into a list and gets the uid back
    copied = tomllib.loads("pin = [" + quoted[0].lstrip("# ").rstrip(",") + "]")
    assert copied["pin"] == [HOSTILE]


def test_writers_an_events_ics_holds_no_control_character_from_its_source() -> None:
    event = make_item("Réunion\x07\x1b plénière", uid="evt\x00-1\n\x1b@example.org", place="Salle\x0b 3",
                      start=datetime(2025, 12, 3, 9, tzinfo=UTC), summary="ordre\x1b du jour\nsuite")
    letter = letter_of(Section("agenda", "Agenda", "agenda", (event,)))
    data = agenda.event_ics(event, letter)
    assert not any(byte < 0x20 and byte not in (0x0D, 0x0A) for byte in data)
    parsed = icalendar.Calendar.from_ical(data)
    vevent = parsed.walk("VEVENT")[0]
    assert str(vevent["UID"]) == "evt-1 @example.org"
    assert str(vevent["SUMMARY"]) == "Réunion plénière" and str(vevent["LOCATION"]) == "Salle 3"
    assert str(vevent["DESCRIPTION"]).startswith("ordre du jour\nsuite")


def test_writers_file_names_from_outside_text_stay_inside_their_folder(tmp_path: Path) -> None:
    assert safe_name("../../etc/passwd") == "_.._etc_passwd"
    assert safe_name("..") == "_" and "/" not in safe_name("a/b\\c\x00d")
    assert safe_name("élise@exemple.fr") == "_lise@exemple.fr"

    class Copies:
        def copy(self, recipient: object, now: datetime) -> object:
            return type("Copy", (), {"raw": b"x"})()

    recipients = [type("R", (), {"email": "../../x@y.org"})()]
    written = dry_run(Copies(), recipients, tmp_path)  # type: ignore[arg-type]
    assert [p.parent for p in written] == [tmp_path] and written[0].name == "00001-_.._x@y.org.eml"
