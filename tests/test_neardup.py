"""Near-duplicates across sources: one story kept once, the richer copy, the other source noted in digest.json."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest import config, pipeline, selector
from digest.model import Collected, Item

from .conftest import LETTER_DATE, make_item

PARIS = ZoneInfo("Europe/Paris")
SOURCES = """
[[source]]
name = "cuf-feed"
section = "cuf"
url = "cuf.csv"
[[source]]
name = "members"
section = "membres"
url = "membres.csv"
[[source]]
name = "events"
section = "agenda"
url = "e.ics"
"""
SECTIONS = """
[[section]]
id = "cuf"
title = "Actualités CUF"
[[section]]
id = "agenda"
title = "Agenda"
kind = "agenda"
[[section]]
id = "membres"
title = "Actualités des collectivités"
"""


@pytest.fixture
def cfg(write_config: Callable[..., Path]) -> config.Config:
    return config.load(write_config(SOURCES, sections=SECTIONS))


def at(day: int, month: int = 11, hour: int = 9) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=PARIS)


def kept(cfg: config.Config, cuf: tuple[Item, ...] = (), members: tuple[Item, ...] = (),
         events: tuple[Item, ...] = ()) -> list[Item]:
    selection = selector.select(cfg, [Collected("cuf-feed", cuf), Collected("members", members),
                                      Collected("events", events)], LETTER_DATE)
    return [i for s in selection.sections for i in s.items]


def test_title_key_ignores_case_accents_punctuation_and_stop_words() -> None:
    assert selector.title_key("Appel à projets : le Fonds « Jeunesse & Climat » !") == \
        selector.title_key("APPEL A PROJETS FONDS JEUNESSE CLIMAT")
    assert selector.title_key("Réunion du groupe-pays Maroc") == "reunion groupe pays maroc"


def test_same_canonical_url_keeps_the_copy_with_a_picture(cfg: config.Config) -> None:
    plain = make_item("Atelier Sénégal", url="https://cites-unies-france.org/atelier?utm_source=rss",
                      source="cuf-feed", uid="cuf-1", date=at(19), summary="Un atelier plus long sans image.")
    pictured = make_item("Atelier du groupe-pays Sénégal", url="https://www.cites-unies-france.org/atelier/",
                         source="members", uid="m-1", date=at(18), summary="Court.",
                         image="https://cites-unies-france.org/logo.jpg")
    items = kept(cfg, (plain,), (pictured,))
    assert len(items) == 1
    assert items[0].uid == "m-1" and items[0].image
    assert [(c.source, c.uid) for c in items[0].also_in] == [("cuf-feed", "cuf-1")]


def test_near_titles_across_sources_keep_the_longer_teaser(cfg: config.Config) -> None:
    feed = make_item("Fonds Jeunesse et Action pour le Climat : lancement de la deuxième phase",
                     url="https://cites-unies-france.org/fjac", source="cuf-feed", uid="cuf-2", date=at(18),
                     summary="La deuxième phase du fonds est lancée.")
    member = make_item("Fonds jeunesse & action pour le climat (FJAC) – Lancement de la deuxième phase !",
                       url="https://ville.example/fjac", source="members", uid="m-2", date=at(17),
                       summary="La deuxième phase du Fonds Jeunesse et Action pour le Climat est lancée ; "
                               "les collectivités peuvent déposer leurs projets jusqu’en janvier.")
    other = make_item("Ville de Nancy : webinaire gastronomie", source="members", uid="m-3", date=at(16))
    items = kept(cfg, (feed,), (member, other))
    assert [i.uid for i in items] == ["m-2", "m-3"]
    assert items[0].also_in[0].source == "cuf-feed"
    assert selector.title_key(feed.title) != selector.title_key(member.title)  # not an exact match


def test_titles_that_only_share_words_or_differ_by_a_number_stay_apart(cfg: config.Config) -> None:
    maroc = make_item("Réunion du groupe-pays Maroc", source="cuf-feed", date=at(19))
    mali = make_item("Réunion du groupe-pays Mali", source="members", date=at(18))
    three = make_item("Webinaire Développement économique international #3", source="cuf-feed", date=at(17))
    four = make_item("Webinaire Développement économique international #4", source="members", date=at(16))
    assert len(kept(cfg, (maroc, three), (mali, four))) == 4


def test_same_title_events_on_different_days_are_not_duplicates(cfg: config.Config) -> None:
    monday = make_item("Permanence Europe", uid="e1", url=None, date=None, start=at(24), end=at(24, hour=11))
    next_monday = make_item("Permanence Europe", uid="e2", url=None, date=None, start=at(1, 12),
                            end=at(1, 12, hour=11))
    same_day = make_item("Permanence Europe !", uid="e3", url=None, date=None, start=at(24, hour=14))
    items = kept(cfg, events=(monday, next_monday, same_day))
    assert [i.uid for i in items] == ["e1", "e2"]


def test_an_exact_tie_keeps_the_copy_met_first(cfg: config.Config) -> None:
    first = make_item("Assises de la coopération frontalière", url="https://e.org/a", uid="a",
                      source="cuf-feed", date=at(18))
    second = make_item("Assises de la coopération frontalière", url="https://e.org/b", uid="b",
                       source="members", date=at(18))
    assert [i.uid for i in kept(cfg, (first,), (second,))] == ["a"]


def test_digest_json_notes_the_other_source(write_config: Callable[..., Path], tmp_path: Path) -> None:
    cuf = ("title;url;date;summary;image\n"
           "Atelier du groupe-pays Sénégal;https://cites-unies-france.org/atelier;19/11/2025;Court.;\n")
    members = ("title;url;date;summary;image\n"
               "Atelier du groupe pays Sénégal;https://ville.example/atelier;18/11/2025;Un compte rendu complet."
               ";https://ville.example/a.jpg\n"
               "Autre nouvelle;https://ville.example/autre;18/11/2025;Texte.;\n")
    path = write_config(SOURCES, sections=SECTIONS, files={"cuf.csv": cuf, "membres.csv": members,
                                                           "e.ics": "BEGIN:VCALENDAR\nEND:VCALENDAR\n"})
    report = pipeline.build(config.load(path), LETTER_DATE, tmp_path / "outbox")
    data = json.loads((tmp_path / "outbox" / "2025-11-20" / "digest.json").read_text(encoding="utf-8"))
    items = [i for s in data["sections"] for i in s["items"]]
    assert [i["title"] for i in items] == ["Atelier du groupe pays Sénégal", "Autre nouvelle"]
    assert items[0]["also_in"] == [{"source": "cuf-feed", "uid": "https://cites-unies-france.org/atelier",
                                    "url": "https://cites-unies-france.org/atelier"}]
    assert "cuf: 1 duplicate(s) left out (kept the richer copy)" in report.prepared.notes
