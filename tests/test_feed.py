"""The archive's Atom feed and page: what feed readers and visitors of the published site get."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
from lxml import etree

from digest import config, letterfolder
from digest.web import feed

BASE = "https://cites-unies-france.org/lettre/"
A = "{http://www.w3.org/2005/Atom}"


def entry(day: int, subject: str = "La Lettre de CUF", text: str = "Bonjour,\nLes nouvelles.") -> feed.Entry:
    moment = datetime(2026, 1, 1, 9, tzinfo=UTC) + timedelta(days=day)
    return feed.Entry(f"{moment:%Y-%m-%d}/letter.html", subject, moment, "Le mois en bref",
                      ("Premier titre", "Second titre"), text)


def test_the_feed_holds_the_twenty_newest_letters_newest_first_with_what_rfc_4287_requires() -> None:
    xml = feed.feed_xml([entry(day) for day in range(25)], "La Lettre de CUF", BASE, "fr")
    parsed = feedparser.parse(xml)
    assert parsed.bozo == 0 and parsed.version == "atom10"
    assert len(parsed.entries) == feed.MAX_ENTRIES
    assert parsed.entries[0].link == BASE + "2026-01-25/letter.html"  # the newest first
    assert parsed.entries[-1].link == BASE + "2026-01-06/letter.html"
    assert parsed.entries[0].summary == "Le mois en bref · Premier titre · Second titre"
    root = etree.fromstring(xml)
    for name in ("id", "title", "updated", "author"):  # a feed's MUSTs (RFC 4287 4.1.1)
        assert root.find(A + name) is not None, name
    assert root.find(A + "link[@rel='self']").get("href") == BASE + "feed.xml"
    for node in root.findall(A + "entry"):  # an entry's MUSTs (4.1.2): id, title, updated, a link or content
        assert all(node.find(A + name) is not None for name in ("id", "title", "updated", "link", "content"))


def test_ids_are_the_web_versions_so_a_publish_again_changes_no_entry() -> None:
    first = feedparser.parse(feed.feed_xml([entry(1), entry(2)], "L", BASE, "fr"))
    again = feedparser.parse(feed.feed_xml([entry(2), entry(1), entry(3)], "L", BASE, "fr"))
    assert {e.id for e in first.entries} < {e.id for e in again.entries}


def test_hostile_text_is_written_by_the_xml_writer() -> None:
    hostile = entry(1, subject="<script>alert(1)</script> & \x01\ufffe", text="]]> <b>gras</b>")
    xml = feed.feed_xml([hostile], "La Lettre <de> CUF", BASE, "fr")
    parsed = feedparser.parse(xml)
    assert parsed.bozo == 0 and b"<script>" not in xml and b"<b>" not in xml
    assert parsed.entries[0].title.strip() == "<script>alert(1)</script> &"
    assert parsed.feed.title == "La Lettre <de> CUF"


def test_the_archive_page_invites_to_subscribe_and_points_at_its_feed() -> None:
    archive = letterfolder.Archive("La Lettre de CUF", "fr", "9 rue Christiani · 75018 Paris",
                                   "https://cites-unies-france.org/lettre/abonnement", feed.FILE)
    page = letterfolder.index_html([("2026-12-18", "Décembre", 5), ("2027-01-15", "Janvier", 1)], archive)
    assert '<a href="https://cites-unies-france.org/lettre/abonnement">S’inscrire à la lettre</a>' in page
    assert '<link rel="alternate" type="application/atom+xml" title="La Lettre de CUF" href="feed.xml">' in page
    assert "18\u00a0décembre\u00a02026 · 5\u00a0articles" in page and "1\u00a0article ·" in page
    assert page.index("Janvier") < page.index("Décembre")  # newest first
    bare = letterfolder.index_html([], letterfolder.Archive("La Lettre de CUF"))
    assert "inscrire" not in bare and "atom" not in bare


def test_the_subscribe_address_is_checked_like_every_address(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    text = (Path(__file__).resolve().parent.parent / "sources.toml").read_text(encoding="utf-8")
    path.write_text(text + '\n[subscribe]\nurl = "javascript:alert(1)"\n', encoding="utf-8")
    try:
        config.load(path)
    except config.ConfigError as problem:
        assert "[subscribe]" in str(problem) and "url" in str(problem)
    else:
        raise AssertionError("a javascript: subscribe address was accepted")
