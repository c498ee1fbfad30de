"""Hardening, class 10: real users' files (Excel's French CSV, US dates, JSON Feed, unknown keys, "Re:" posts)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from digest import config

from .conftest import make_item
from .test_collectors import PARIS, collect
from .test_selector import SOURCES, at, news

EXCEL_FR = "title;url;date;summary\r\nCoopération décentralisée;https://e.org/a;19/11/2025;Élus à Dakar\r\n"


def test_real_files_excels_french_csv_in_windows_1252_is_read_with_a_warning(
        write_config: Callable[..., Path]) -> None:
    result = collect(write_config, "m.csv", EXCEL_FR.encode("cp1252"))
    assert not result.failed
    assert [(i.title, i.summary) for i in result.items] == [("Coopération décentralisée", "Élus à Dakar")]
    assert [p.message for p in result.problems] == [
        "not UTF-8: read as Windows-1252, as Excel saves « CSV (séparateur : point-virgule) »; to be sure of every "
        "accent, save it in Excel as « CSV UTF-8 (délimité par des virgules) »"]


def test_real_files_a_month_day_year_date_says_dates_are_day_month_year(write_config: Callable[..., Path]) -> None:
    result = collect(write_config, "m.csv", "title;date\nFin d'année;12/31/2025\nLendemain;32/01/2026\n")
    assert result.items == ()
    assert [p.message for p in result.problems] == [
        "line 2: date: '12/31/2025' is not a date: dates are written day/month/year; for day 31 of month 12, write "
        "31/12/2025; row skipped",
        "line 3: date: '32/01/2026' is not a date (no such day in that month): dates are written day/month/year, "
        "e.g. 31/12/2025; row skipped"]


JSON_FEED = {
    "version": "https://jsonfeed.org/version/1.1", "title": "Membre", "home_page_url": "https://membre.example.org/",
    "items": [
        {"id": "1", "url": "/actu/1", "title": "Jumelage <b>renouvelé</b>", "content_html": "<p>Un <i>texte</i></p>",
         "image": "https://membre.example.org/i.jpg", "date_published": "2025-11-19T10:00:00+01:00"},
        {"id": "2", "url": "https://membre.example.org/actu/2", "content_text": "Un billet sans titre, assez court.",
         "summary": "Le résumé", "date_published": "2025-11-18T08:00:00Z"},
        {"id": "3", "title": "Date cassée", "date_published": "hier"},
    ],
}


def test_real_files_a_json_feed_is_read_as_a_feed(write_config: Callable[..., Path]) -> None:
    result = collect(write_config, "flux.json", json.dumps(JSON_FEED))
    first, second = result.items
    assert (first.uid, first.title, first.url, first.summary, first.image) == (
        "1", "Jumelage renouvelé", "https://membre.example.org/actu/1", "Un texte", "https://membre.example.org/i.jpg")
    assert first.date == datetime(2025, 11, 19, 9, 0, tzinfo=UTC)
    assert (second.title, second.summary) == ("Un billet sans titre, assez court.", "Le résumé")
    assert second.date is not None and second.date.astimezone(PARIS).hour == 9
    assert [p.message for p in result.problems] == [
        "item #3: date 'hier' is not an RFC 3339 date such as 2025-11-19T10:00:00+01:00; item skipped"]


def test_real_files_unknown_keys_in_json_and_toml_are_reported(write_config: Callable[..., Path]) -> None:
    rows = [{"title": "A", "url": "https://e.org/a", "titre": "x"}, {"title": "B", "lien": "https://e.org/b"}]
    result = collect(write_config, "d.json", json.dumps(rows))
    assert [i.title for i in result.items] == ["A", "B"]
    assert [p.message for p in result.problems] == ["key 'titre' is not one digest reads; ignored",
                                                    "key 'lien' is not one digest reads; ignored"]
    toml = '[[item]]\ntitle = "A"\nresume = "x"\n'
    assert [p.message for p in collect(write_config, "d.toml", toml).problems] == [
        "key 'resume' is not one digest reads; ignored"]


def test_real_files_one_feeds_posts_with_different_links_are_never_merged(
        write_config: Callable[..., Path]) -> None:
    cfg = config.load(write_config(SOURCES))
    posts = [make_item("Re: Appel à projets jeunesse", url=f"https://liste.example.org/{n}", date=at(19 - n),
                       source="liste") for n in range(3)]
    elsewhere = make_item("Appel à projets jeunesse", url="https://e.org/appel", date=at(10), source="cuf-site")
    kept = news(cfg, *posts, elsewhere)
    assert [i.url for i in kept][:3] == [p.url for p in posts]  # the three posts stay three items
