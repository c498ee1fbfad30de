"""The selector: windows, order, duplicates, limits and empty sections, from Items alone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest import config, letterfolder, selector
from digest.model import Collected, Item

from .conftest import LETTER_DATE, make_item
from .conftest import SECTIONS as SECTIONS_TWO

PARIS = ZoneInfo("Europe/Paris")
SOURCES = """
[[source]]
name = "news"
section = "cuf"
url = "n.xml"
[[source]]
name = "other"
section = "cuf"
url = "o.csv"
[[source]]
name = "events"
section = "agenda"
url = "e.ics"
"""


@pytest.fixture
def cfg(write_config: Callable[..., Path]) -> config.Config:
    return config.load(write_config(SOURCES))


def at(day: int, month: int = 11, year: int = 2025, hour: int = 9) -> datetime:
    return datetime(year, month, day, hour, tzinfo=PARIS)


def news(cfg: config.Config, *items: Item, today: date = LETTER_DATE) -> list[Item]:
    selection = selector.select(cfg, [Collected("news", items)], today)
    return list(selection.sections[0].items) if selection.sections else []


def events(cfg: config.Config, *items: Item, today: date = LETTER_DATE) -> list[str]:
    selection = selector.select(cfg, [Collected("events", items)], today)
    return [i.title for s in selection.sections for i in s.items]


def test_news_window_and_newest_first(cfg: config.Config) -> None:
    kept = news(cfg,
                make_item("old", date=at(19, 10)),          # 32 days before: outside the 31-day window
                make_item("edge", date=at(21, 10, hour=0)),  # 30 days before
                make_item("new", date=at(19)),
                make_item("newest", date=at(20, hour=23)),   # the letter's own day, late evening in Paris
                make_item("future", date=at(21)))            # after the letter's date
    assert [i.title for i in kept] == ["newest", "new", "edge"]


def test_day_counted_in_the_letters_zone(cfg: config.Config) -> None:
    # 23:30 UTC on the 20th is already the 21st in Paris: not yet published on the 20th
    late = make_item("late", date=datetime(2025, 11, 20, 23, 30, tzinfo=UTC))
    assert news(cfg, late) == []
    assert news(cfg, late, today=date(2025, 11, 21))[0].title == "late"


def test_undated_items_follow_dated_ones(cfg: config.Config) -> None:
    kept = news(cfg, make_item("undated", date=None), make_item("dated", date=at(18)))
    assert [i.title for i in kept] == ["dated", "undated"]


def test_duplicates_by_canonical_url_then_title(cfg: config.Config) -> None:
    a = make_item("A", url="https://www.cites-unies-france.org/actu/?utm_source=x&fbclid=1", date=at(19))
    a_again = make_item("A bis", url="http://cites-unies-france.org/actu", date=at(18))
    b = make_item("Même titre", url="https://e.org/1", date=at(17))
    b_again = make_item("  même   TITRE ", url="https://e.org/2", date=at(16), source="autre")  # another source
    c = make_item("C", url="https://e.org/page?id=3&utm_medium=mail", date=at(15))
    d = make_item("D", url="https://e.org/page?id=4", date=at(14))
    kept = news(cfg, a, a_again, b, b_again, c, d)
    assert [i.title for i in kept] == ["A", "Même titre", "C", "D"]


def test_duplicates_across_sources_and_sections(cfg: config.Config) -> None:
    item = make_item("Assises", url="https://e.org/assises", date=at(18), start=at(4, 12))
    twin = make_item("Assises", url="https://e.org/assises/", date=at(18))
    selection = selector.select(cfg, [Collected("news", (item,)), Collected("other", (twin,)),
                                      Collected("events", (item,))], LETTER_DATE)
    assert sum(len(s.items) for s in selection.sections) == 1
    assert any("duplicate" in note for note in selection.notes)


def test_max_items_and_note(cfg: config.Config) -> None:
    items = [make_item(f"n{i}", date=at(20) - timedelta(hours=i)) for i in range(15)]
    selection = selector.select(cfg, [Collected("news", tuple(items))], LETTER_DATE)
    assert [i.title for i in selection.sections[0].items] == [f"n{i}" for i in range(10)]
    assert "cuf: 5 item(s) over max_items left out" in selection.notes


def test_agenda_keeps_events_not_over_soonest_first(cfg: config.Config) -> None:
    titles = events(cfg,
                    make_item("yesterday", start=at(19, hour=10), end=at(19, hour=12)),
                    make_item("today, already over at 9", start=at(20, hour=7), end=at(20, hour=8)),
                    make_item("spanning", start=at(18), end=at(22), all_day=True),
                    make_item("next spring", start=at(26, 3, 2026)),
                    make_item("beyond horizon", start=at(20, 6, 2026)),
                    make_item("tomorrow", start=at(21, hour=10)))
    # an event is kept through its last day: the letter is read all day long
    assert titles == ["spanning", "today, already over at 9", "tomorrow", "next spring"]


def test_agenda_uses_publication_date_when_no_start(cfg: config.Config) -> None:
    assert events(cfg, make_item("feed event", date=at(25))) == ["feed event"]


def test_empty_sections_are_dropped(cfg: config.Config) -> None:
    selection = selector.select(cfg, [Collected("news", (make_item("x", date=at(19)),))], LETTER_DATE)
    assert [s.id for s in selection.sections] == ["cuf"]
    assert "agenda: no item, section left out" in selection.notes
    assert selector.select(cfg, [], LETTER_DATE).sections == ()


def test_canonical_url() -> None:
    same = {selector.canonical_url(u) for u in (
        "https://cites-unies-france.org/a/", "http://www.cites-unies-france.org/a?utm_campaign=nov",
        "https://CITES-UNIES-FRANCE.org/a#top", "https://cites-unies-france.org/a?xtor=EPR-1")}
    assert len(same) == 1
    assert selector.canonical_url("https://e.org/a?b=2&a=1") == selector.canonical_url("https://e.org/a?a=1&b=2")
    assert selector.canonical_url("https://e.org/a?id=1") != selector.canonical_url("https://e.org/a?id=2")


def test_letter_web_url(cfg: config.Config) -> None:
    letter = selector.make_letter(cfg, (), LETTER_DATE, letterfolder.web_path(LETTER_DATE))
    assert letter.web_url == "https://cites-unies-france.org/lettre/2025-11-20/letter.html"


def test_every_candidate_left_out_is_listed_with_why(write_config: Callable[..., Path]) -> None:
    from digest.issuefile import IssueFile
    from digest.letterfolder import History

    sections = SECTIONS_TWO.replace("max_items = 10", "max_items = 2")
    cfg = config.load(write_config(SOURCES, sections=sections))
    items = [make_item("gardé un", date=at(19), image="https://example.org/photo.jpg"),
             make_item("gardé deux", date=at(18)),
             make_item("au-delà du maximum", date=at(17)), make_item("trop ancien", date=at(1, 9)),
             make_item("déjà envoyé", date=at(16), url="https://example.org/envoye"),
             make_item("exclu", date=at(16), url="https://example.org/exclu")]
    copy = make_item("Gardé un", date=at(19), url="https://example.org/copie", uid="copie", source="other")
    selection = selector.select(cfg, [Collected("news", tuple(items)), Collected("other", (copy,))], LETTER_DATE,
                                IssueFile(exclude=("https://example.org/exclu",)),
                                History(urls=frozenset({"https://example.org/envoye"})))
    assert [i.title for i in selection.sections[0].items] == ["gardé un", "gardé deux"]
    why = {(gone.item.title, gone.section): gone.reason for gone in selection.left_out}
    assert why == {("exclu", "cuf"): selector.EXCLUDED, ("trop ancien", "cuf"): selector.OUTSIDE,
                   ("déjà envoyé", "cuf"): selector.SENT, ("Gardé un", "cuf"): selector.DUPLICATE,
                   ("au-delà du maximum", "cuf"): selector.OVER_MAX}
    assert selection.notes  # the notes the build prints are still there
