"""Collectors: each format read into Items, and each kind of bad input turned into a named warning."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest import collectors, config
from digest.collectors.base import Context
from digest.model import Collected

from .conftest import SAMPLES

PARIS = ZoneInfo("Europe/Paris")
CTX = Context(tz=PARIS, teaser_length=280)


def collect(write_config: Callable[..., Path], name: str, content: str | bytes, fmt: str | None = None,
            **files: str | bytes) -> Collected:
    """Write `content` as `name`, configure it as the only source and collect it."""
    fmt_line = f'format = "{fmt}"' if fmt else ""
    path = write_config(f"""
        [[source]]
        name = "src"
        section = "cuf"
        url = "{name}"
        {fmt_line}
    """, files={name: content, **files})
    return collectors.collect(config.load(path).sources[0], CTX)


# --- RSS / Atom ------------------------------------------------------------------------------------------------

def test_spip_feed_sample() -> None:
    cfg = config.load(SAMPLES.parent / "sources.toml")
    result = collectors.collect(cfg.sources[0], CTX)
    assert not result.failed and not result.problems
    assert len(result.items) == 10
    first = result.items[0]
    assert first.title.startswith("Retour sur la mission de la présidente")
    assert first.date is not None and first.date.date() == datetime(2025, 11, 19).date()  # from dc:date
    assert first.url == first.uid and first.url.startswith("https://cites-unies-france.org/")
    assert first.image and "cache-vignettes" in first.image  # SPIP's logo from content:encoded
    assert first.summary.endswith("…") and "(…)" not in first.summary
    assert "Actualités CUF" not in first.summary  # SPIP's rel="directory" / rel="tag" links dropped
    senegal = result.items[1]
    assert senegal.place == "en visioconférence"  # dc:coverage
    assert senegal.image is None  # "image par défaut": the section's default image is used instead


HOSTILE = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>t</title><link>https://example.org/</link>
<item>
<title>&lt;b&gt;Bold&lt;/b&gt; &amp;amp; &lt;script&gt;alert(1)&lt;/script&gt;title</title>
<link>javascript:alert(1)</link><guid isPermaLink="false">g1</guid>
<pubDate>Wed, 19 Nov 2025 10:00:00 +0100</pubDate>
<description>&lt;p onclick="x()"&gt;Hello &lt;img src="javascript:alert(2)" onerror="alert(3)"&gt;
&lt;a href="javascript:alert(4)"&gt;world&lt;/a&gt; &amp;eacute;t&amp;eacute;&lt;/p&gt;
&lt;script&gt;evil()&lt;/script&gt;
</description>
<enclosure url="javascript:alert(5)" type="image/png" length="1"/></item>
</channel></rss>"""


def test_hostile_html_and_javascript_links_never_reach_the_item(write_config: Callable[..., Path]) -> None:
    result = collect(write_config, "feed.xml", HOSTILE)
    item = result.items[0]
    assert item.title == "Bold & title"  # markup dropped, <script> with its content
    assert item.url is None  # javascript: is not a link
    assert item.image is None
    assert "<" not in item.summary and "evil" not in item.summary and "onclick" not in item.summary
    assert item.summary == "Hello world été"
    assert item.uid == "g1"


def test_hostile_feed_renders_escaped(write_config: Callable[..., Path], tmp_path: Path) -> None:
    from digest import pipeline

    path = write_config("""
        [[source]]
        name = "src"
        section = "cuf"
        url = "feed.xml"
    """, files={"feed.xml": HOSTILE})
    report = pipeline.build(config.load(path), datetime(2025, 11, 20).date(), tmp_path / "out")
    html = report.rendered.html
    assert "javascript:" not in html and "<script" not in html.lower() and "onerror" not in html


ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">
<title>Membre</title><link href="https://member.example.org/"/><id>urn:x</id><updated>2025-11-10T00:00:00Z</updated>
<entry><title type="html">Caf&amp;eacute; &amp;amp; coop&#233;ration</title><id>urn:e1</id>
<link href="/actu/cafe"/><updated>2025-11-10T08:00:00Z</updated>
<media:thumbnail url="/img/cafe.jpg"/>
<summary type="html">&lt;p&gt;Un   texte
sur plusieurs     lignes.&lt;/p&gt;</summary></entry>
</feed>"""


def test_atom_relative_links_media_thumbnail_and_entities(write_config: Callable[..., Path]) -> None:
    result = collect(write_config, "member.atom", ATOM)
    item = result.items[0]
    assert item.title == "Café & coopération"  # entities decoded once, not twice
    assert item.url == "https://member.example.org/actu/cafe"
    assert item.image == "https://member.example.org/img/cafe.jpg"
    assert item.summary == "Un texte sur plusieurs lignes."
    assert item.date == datetime(2025, 11, 10, 8, 0, tzinfo=UTC)  # updated when there is no published


def test_uid_falls_back_to_link_then_hash(write_config: Callable[..., Path]) -> None:
    feed = """<rss version="2.0"><channel><title>t</title>
    <item><title>A</title><link>https://example.org/a</link></item>
    <item><title>B</title><description>b</description></item></channel></rss>"""
    items = collect(write_config, "f.xml", feed).items
    assert items[0].uid == "https://example.org/a"
    assert items[1].uid.startswith("sha256:")
    assert collect(write_config, "f.xml", feed).items[1].uid == items[1].uid  # stable


def test_long_summary_is_cut_at_a_word(write_config: Callable[..., Path]) -> None:
    words = " ".join(["coopération"] * 60)
    feed = f"""<rss version="2.0"><channel><title>t</title><item><title>A</title><link>https://e.org/a</link>
    <description>{words}</description></item></channel></rss>"""
    summary = collect(write_config, "f.xml", feed).items[0].summary
    assert len(summary) <= 280 and summary.endswith("coopération…")


@pytest.mark.parametrize(("content", "reason"), [
    (b"<rss><channel><item><title>A</titl", "not a readable feed"),
    (b"<!DOCTYPE html><html><body>Erreur 404</body></html>", "an HTML page, not a feed"),
    (b"", "the body is empty"),
    (b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title></channel></rss>", "holds no entry"),
])
def test_unreadable_feeds_are_named_warnings(write_config: Callable[..., Path], content: bytes, reason: str) -> None:
    result = collect(write_config, "feed.xml", content)
    assert result.failed and not result.items
    assert result.problems[0].where == "src"
    assert reason in result.problems[0].message


def test_malformed_feed_keeps_readable_entries(write_config: Callable[..., Path]) -> None:
    feed = b"""<rss version="2.0"><channel><title>t</title><item><title>A &amp B</title>
    <link>https://e.org/a</link></item><item><title>C</title><link>https://e.org/c</link></item></channel></rss>"""
    result = collect(write_config, "feed.xml", feed)
    assert not result.failed and len(result.items) == 2
    assert "malformed" in result.problems[0].message


def test_missing_file_is_a_warning_naming_the_path(write_config: Callable[..., Path]) -> None:
    path = write_config("""
        [[source]]
        name = "gone"
        section = "cuf"
        url = "nowhere.xml"
    """)
    result = collectors.collect(config.load(path).sources[0], CTX)
    assert result.failed
    assert "file not found" in result.problems[0].message and "nowhere.xml" in result.problems[0].message


class _FeedHandler(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        if self.path == "/feed.xml":
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(self.body)))
            self.end_headers()
            self.wfile.write(self.body)
        else:
            self.send_error(404)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def feed_server() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving /feed.xml (the samples' SPIP feed); yields its base URL."""
    _FeedHandler.body = (SAMPLES / "cuf-actualites.xml").read_bytes()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FeedHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_feed_over_http(write_config: Callable[..., Path], feed_server: str) -> None:
    path = write_config(f"""
        [[source]]
        name = "web"
        section = "cuf"
        url = "{feed_server}/feed.xml"
        [[source]]
        name = "web404"
        section = "cuf"
        url = "{feed_server}/missing.xml"
    """)
    ok, missing = (collectors.collect(s, CTX) for s in config.load(path).sources)
    assert len(ok.items) == 10 and not ok.failed
    assert missing.failed and "404" in missing.problems[0].message


# --- data files ------------------------------------------------------------------------------------------------

def test_csv_sample_with_bom_and_semicolons() -> None:
    cfg = config.load(SAMPLES.parent / "sources.toml")
    result = collectors.collect(next(s for s in cfg.sources if s.format == "csv"), CTX)
    assert len(result.items) == 10 and not result.problems
    assert result.items[0].title == "Mobilisation à Aix-en-Provence autour du Joli mois de l’Europe"
    assert result.items[0].date == datetime(2021, 5, 3, tzinfo=PARIS)  # dd/mm/yyyy in the letter's zone


def test_csv_with_commas_and_bad_rows(write_config: Callable[..., Path]) -> None:
    content = (
        "title,url,date,summary,colour\n"
        "Bon,https://e.org/1,2025-11-19,Un résumé,red\n"
        "Date fausse,https://e.org/2,31/02/2025,x,\n"
        "Lien,javascript:alert(1),2025-11-19,x,\n"
        ",https://e.org/4,2025-11-19,sans titre,\n"
        "Trop,https://e.org/5,2025-11-19,x,y,z\n"
        "Aussi bon,,19/11/2025 10:30,,\n"
    )
    result = collect(write_config, "membres.csv", content)
    assert [i.title for i in result.items] == ["Bon", "Aussi bon"]
    messages = [p.message for p in result.problems]
    assert any("column 'colour'" in m for m in messages)
    assert any(m.startswith("line 3: date:") for m in messages)
    assert any(m.startswith("line 4: url 'javascript:alert(1)' is not an absolute http(s) address") for m in messages)
    assert any(m.startswith("line 5: the title is empty") for m in messages)
    assert any(m.startswith("line 6: more fields than the header") for m in messages)
    assert result.items[1].date == datetime(2025, 11, 19, 10, 30, tzinfo=PARIS)


def test_csv_not_utf8(write_config: Callable[..., Path]) -> None:
    result = collect(write_config, "m.csv", b"title;url\nCoop\x81ration;https://e.org\n")  # not even Windows-1252
    assert result.failed and "not UTF-8" in result.problems[0].message and "CSV UTF-8" in result.problems[0].message


def test_json_and_toml(write_config: Callable[..., Path]) -> None:
    json_result = collect(write_config, "b.json", '[{"title": "Brève", "url": "https://e.org/b"}, 3]')
    assert json_result.failed and "element #2 is not an object" in json_result.problems[0].message
    json_result = collect(write_config, "b.json", '[{"title": "Brève", "url": "https://e.org/b"}]')
    assert json_result.items[0].title == "Brève" and json_result.items[0].date is None
    toml_result = collect(write_config, "b.toml", '[[item]]\ntitle = "T"\ndate = 2025-11-19\nplace = "à Lyon"\n')
    assert toml_result.items[0].place == "à Lyon"
    assert toml_result.items[0].date == datetime(2025, 11, 19, tzinfo=PARIS)
    broken = collect(write_config, "b.json", '[{"title": "x",]')
    assert broken.failed and "not valid JSON at line 1" in broken.problems[0].message


def test_events_in_a_data_file(write_config: Callable[..., Path]) -> None:
    content = "title;start;end\nAssises;04/12/2025;05/12/2025\nWebinaire;2026-03-26T10:00;2026-03-26T11:30\n"
    assises, webinaire = collect(write_config, "agenda.csv", content).items
    assert assises.all_day and assises.end == datetime(2025, 12, 5, tzinfo=PARIS)
    assert not webinaire.all_day and webinaire.start == datetime(2026, 3, 26, 10, 0, tzinfo=PARIS)


# --- iCalendar -------------------------------------------------------------------------------------------------

def test_ics_sample() -> None:
    cfg = config.load(SAMPLES.parent / "sources.toml")
    result = collectors.collect(next(s for s in cfg.sources if s.format == "ics"), CTX)
    assert [i.title for i in result.items] == [
        "Webinaire Développement économique international #3", "Réunion du groupe-pays Maroc",
        "Réunion du groupe-pays Palestine"]
    webinar, _, palestine = result.items
    assert webinar.start == datetime(2026, 3, 26, 10, 0, tzinfo=PARIS) and not webinar.all_day
    assert webinar.place == "En visioconférence"
    assert palestine.all_day and palestine.start == palestine.end  # one day: DTEND is exclusive


ICS = """BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//FR\r\n
BEGIN:VEVENT\r\nUID:a\r\nSUMMARY:Bon\r\nDTSTART:20251201T090000Z\r\nDURATION:PT1H\r\nEND:VEVENT\r\n
BEGIN:VEVENT\r\nUID:b\r\nSUMMARY:Annulé\r\nSTATUS:CANCELLED\r\nDTSTART:20251202T090000Z\r\nEND:VEVENT\r\n
BEGIN:VEVENT\r\nUID:c\r\nSUMMARY:Sans début\r\nEND:VEVENT\r\n
BEGIN:VEVENT\r\nUID:d\r\nSUMMARY:Multi\r\nDTSTART;VALUE=DATE:20251212\r\nDTEND;VALUE=DATE:20251216\r\nEND:VEVENT\r\n
END:VCALENDAR\r\n""".replace("\r\n\n", "\r\n")


def test_ics_cancelled_broken_and_multi_day(write_config: Callable[..., Path]) -> None:
    result = collect(write_config, "a.ics", ICS)
    assert [i.title for i in result.items] == ["Bon", "Multi"]
    assert result.items[0].end == datetime(2025, 12, 1, 10, 0, tzinfo=UTC)
    assert result.items[1].end == datetime(2025, 12, 15, tzinfo=PARIS)  # last day, inclusive
    assert "'Sans début': no DTSTART; event skipped" in result.problems[0].message


def test_ics_garbage(write_config: Callable[..., Path]) -> None:
    result = collect(write_config, "a.ics", "not a calendar")
    assert result.failed and "not a readable iCalendar file" in result.problems[0].message
