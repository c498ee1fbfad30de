"""The agenda: events in the letter's zone, over or not on the letter date, recurring, cancelled, broken,
and their add-to-calendar links (an .ics file per event in the outbox, a Google Calendar link)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import icalendar
import pytest

from digest import agenda, config, pipeline, renderer, selector
from digest.collectors import ics
from digest.collectors.base import Context, Fetched
from digest.model import Collected, Item
from digest.text import NBSP

from .conftest import make_item

PARIS = ZoneInfo("Europe/Paris")
SOURCES = """
[[source]]
name = "agenda-cuf"
section = "agenda"
url = "agenda.ics"
"""


def calendar(*events: str) -> str:
    body = "".join(f"BEGIN:VEVENT\n{e.strip()}\nDTSTAMP:20251101T090000Z\nEND:VEVENT\n" for e in events)
    return f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//FR\n{body}END:VCALENDAR\n"


def read(text: str, today: date | None = None, horizon: int = 180) -> Collected:
    source = config.SourceConfig("agenda-cuf", "agenda", "agenda.ics", "agenda.ics", "ics", 1.0)
    ctx = Context(tz=PARIS, today=today, horizon_days=horizon)
    return ics.collect(source, Fetched(text.encode("utf-8"), "agenda.ics"), ctx)


@pytest.fixture
def cfg(write_config: Callable[..., Path]) -> config.Config:
    return config.load(write_config(SOURCES, files={"agenda.ics": calendar()}))


def shown(cfg: config.Config, items: tuple[Item, ...], today: date) -> list[str]:
    selection = selector.select(cfg, [Collected("agenda-cuf", items)], today)
    return [i.title for s in selection.sections for i in s.items]


def when(item: Item, tz: ZoneInfo = PARIS) -> str:
    return renderer.event_when(item, tz).replace(NBSP, " ")


def test_an_event_shows_on_its_day_and_not_the_day_after_whenever_published(cfg: config.Config) -> None:
    meeting = make_item("Réunion du groupe-pays Maroc", date=datetime(2025, 11, 24, 9, tzinfo=PARIS),
                        start=datetime(2025, 11, 25, 14, tzinfo=PARIS), end=datetime(2025, 11, 25, 16, tzinfo=PARIS))
    assert shown(cfg, (meeting,), date(2025, 11, 25)) == ["Réunion du groupe-pays Maroc"]
    assert shown(cfg, (meeting,), date(2025, 11, 26)) == []  # published two days ago, over yesterday: out


def test_an_event_spanning_the_letter_date_is_kept_until_its_last_day(cfg: config.Config) -> None:
    item = read(calendar("""UID:turquie
SUMMARY:Accueil de la délégation turque à Nancy
DTSTART;VALUE=DATE:20251112
DTEND;VALUE=DATE:20251116""")).items[0]
    assert when(item) == "du 12 au 15 novembre 2025"
    assert shown(cfg, (item,), date(2025, 11, 14)) == [item.title]
    assert shown(cfg, (item,), date(2025, 11, 15)) == [item.title]
    assert shown(cfg, (item,), date(2025, 11, 16)) == []


def test_times_in_french_style_in_the_letters_zone() -> None:
    at_ten = make_item("Webinaire", start=datetime(2026, 3, 26, 9, tzinfo=UTC))
    ranged = make_item("Réunion", start=datetime(2026, 3, 30, 14, tzinfo=PARIS),
                       end=datetime(2026, 3, 30, 16, 30, tzinfo=PARIS))
    assert when(at_ten) == "jeudi 26 mars 2026 à 10 h 00"
    assert when(ranged) == "lundi 30 mars 2026, 14 h 00 – 16 h 30"
    assert when(at_ten, ZoneInfo("America/Martinique")) == "jeudi 26 mars 2026 à 5 h 00"


def test_across_the_change_to_summer_time(cfg: config.Config) -> None:
    """Europe/Paris moves to UTC+2 at 2 a.m. on 29 March 2026: local times stay 10 h 00, UTC ones move."""
    weekly = read(calendar("""UID:permanence
SUMMARY:Permanence Europe
DTSTART;TZID=Europe/Paris:20260326T100000
DTEND;TZID=Europe/Paris:20260326T110000
RRULE:FREQ=DAILY;COUNT=5"""), today=date(2026, 3, 27)).items
    assert [when(i) for i in weekly] == [f"{d} mars 2026, 10 h 00 – 11 h 00" for d in
                                         ("vendredi 27", "samedi 28", "dimanche 29", "lundi 30")]
    tz = PARIS
    google = [parse_qs(urlparse(agenda.google_url(i, tz)).query)["dates"][0] for i in weekly]
    assert google[1] == "20260328T090000Z/20260328T100000Z"  # winter time, UTC+1
    assert google[2] == "20260329T080000Z/20260329T090000Z"  # summer time, UTC+2
    # Days are counted in the letter's zone: 00:30 on the 29th in Paris is still the 28th in UTC.
    night = make_item("Nuit", date=None, start=datetime(2026, 3, 28, 23, 30, tzinfo=UTC))
    before = make_item("Veille", date=None, start=datetime(2026, 3, 28, 22, 30, tzinfo=UTC))
    assert shown(cfg, (night, before), date(2026, 3, 29)) == ["Nuit"]


def test_recurring_events_are_expanded_inside_the_horizon_without_exceptions() -> None:
    collected = read(calendar("""UID:groupe-europe
SUMMARY:Groupe Europe
DTSTART;TZID=Europe/Paris:20251103T140000
DTEND;TZID=Europe/Paris:20251103T160000
RRULE:FREQ=WEEKLY;BYDAY=MO
EXDATE;TZID=Europe/Paris:20251208T140000""", """UID:groupe-europe
RECURRENCE-ID;TZID=Europe/Paris:20251201T140000
SUMMARY:Groupe Europe
DTSTART;TZID=Europe/Paris:20251201T140000
DTEND;TZID=Europe/Paris:20251201T160000
STATUS:CANCELLED""", """UID:groupe-europe
RECURRENCE-ID;TZID=Europe/Paris:20251215T140000
SUMMARY:Groupe Europe (salle B)
DTSTART;TZID=Europe/Paris:20251215T150000
DTEND;TZID=Europe/Paris:20251215T170000"""), today=date(2025, 11, 20), horizon=30)
    days = [(i.start.astimezone(PARIS).strftime("%d/%m %H:%M"), i.title) for i in collected.items if i.start]
    assert days == [("24/11 14:00", "Groupe Europe"), ("15/12 15:00", "Groupe Europe (salle B)")]
    assert len({i.uid for i in collected.items}) == 2  # one uid per occurrence, so history tells them apart
    assert not collected.problems


def test_cancelled_events_are_left_out() -> None:
    collected = read(calendar("""UID:a
SUMMARY:Annulé
DTSTART:20260326T090000Z
STATUS:CANCELLED""", """UID:b
SUMMARY:Maintenu
DTSTART:20260327T090000Z
STATUS:CONFIRMED"""))
    assert [i.title for i in collected.items] == ["Maintenu"]


def test_a_broken_event_is_skipped_with_a_warning_and_the_others_kept() -> None:
    collected = read(calendar("""UID:ok-1
SUMMARY:Webinaire #3
DTSTART:20260326T090000Z""", """UID:broken
SUMMARY:Réunion sans date
DTSTART:le 30 mars""", """UID:bad-rule
SUMMARY:Règle cassée
DTSTART:20260401T090000Z
RRULE:FREQ=SOMETIMES""", """UID:ok-2
SUMMARY:Réunion Palestine
DTSTART;VALUE=DATE:20260429"""), today=date(2026, 3, 1))
    assert [i.title for i in collected.items] == ["Webinaire #3", "Réunion Palestine"]
    messages = [str(p) for p in collected.problems]
    assert len(messages) == 2, messages
    assert "'Réunion sans date'" in messages[0] and messages[0].endswith("event skipped")
    assert "'Règle cassée'" in messages[1] and messages[0].startswith("agenda-cuf: ")


def test_each_event_gets_an_ics_file_in_the_outbox_and_calendar_links(write_config: Callable[..., Path],
                                                                      tmp_path: Path) -> None:
    ics_text = calendar("""UID:webinaire-3@cuf
SUMMARY:Webinaire Développement économique #3
LOCATION:En visioconférence
URL:https://cites-unies-france.org/webinaire-3
DTSTART;TZID=Europe/Paris:20260326T100000
DTEND;TZID=Europe/Paris:20260326T113000""", """UID:palestine@cuf
SUMMARY:Réunion du groupe-pays Palestine
DTSTART;VALUE=DATE:20260429
DTEND;VALUE=DATE:20260430""")
    path = write_config(SOURCES, files={"agenda.ics": ics_text})
    report = pipeline.build(config.load(path), date(2025, 11, 20), tmp_path / "outbox")
    folder = tmp_path / "outbox" / "2025-11-20"
    files = sorted(p.relative_to(folder).as_posix() for p in (folder / "agenda").iterdir())
    assert len(files) == 2
    assert re.fullmatch(r"agenda/2026-03-26-webinaire-developpement-[0-9a-f]{6}\.ics", files[0])
    assert re.fullmatch(r"agenda/2026-04-29-reunion-du-groupe-pays-p-[0-9a-f]{6}\.ics", files[1])
    html, text = report.rendered.html, report.rendered.text
    for name in files:
        url = f"https://cites-unies-france.org/lettre/2025-11-20/{name}"
        assert f'href="{url}"' in html and url in text
    webinar = icalendar.Calendar.from_ical((folder / files[0]).read_bytes()).walk("VEVENT")[0]
    assert webinar.decoded("dtstart") == datetime(2026, 3, 26, 9, tzinfo=UTC)
    assert webinar.decoded("dtend") == datetime(2026, 3, 26, 10, 30, tzinfo=UTC)
    assert str(webinar["summary"]) == "Webinaire Développement économique #3"
    assert str(webinar["location"]) == "En visioconférence" and str(webinar["uid"]) == "webinaire-3@cuf"
    all_day = icalendar.Calendar.from_ical((folder / files[1]).read_bytes()).walk("VEVENT")[0]
    assert all_day.decoded("dtstart") == date(2026, 4, 29) and all_day.decoded("dtend") == date(2026, 4, 30)
    links = re.findall(r'href="(https://calendar\.google\.com/[^"]+)"', html)
    assert len(links) == 2
    query = parse_qs(urlparse(links[0].replace("&amp;", "&")).query)
    assert query["action"] == ["TEMPLATE"] and query["text"] == ["Webinaire Développement économique #3"]
    assert query["dates"] == ["20260326T090000Z/20260326T103000Z"]
    assert query["location"] == ["En visioconférence"]
    assert parse_qs(urlparse(links[1].replace("&amp;", "&")).query)["dates"] == ["20260429/20260430"]


def test_ics_files_are_the_same_bytes_for_the_same_letter(write_config: Callable[..., Path],
                                                          tmp_path: Path) -> None:
    path = write_config(SOURCES, files={"agenda.ics": calendar("UID:x\nSUMMARY:Réunion\nDTSTART:20260326T090000Z")})
    for run in ("a", "b"):
        pipeline.build(config.load(path), date(2025, 11, 20), tmp_path / run)
    first = sorted((tmp_path / "a" / "2025-11-20" / "agenda").iterdir())
    second = sorted((tmp_path / "b" / "2025-11-20" / "agenda").iterdir())
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    assert b"DTSTAMP:20251120T000000Z" in first[0].read_bytes()
