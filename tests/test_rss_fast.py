"""The fast reading of plain RSS 2.0 gives exactly the Items feedparser gives, and leaves the rest to feedparser."""

from __future__ import annotations

import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.collectors import rss, rss_fast
from digest.collectors.base import Context, Fetched
from digest.config import SourceConfig
from digest.model import Collected
from tests.conftest import ROOT, SAMPLES
from tests.feedserver import rss as served_feed
from tests.test_collectors import ATOM, HOSTILE

CTX = Context(tz=ZoneInfo("Europe/Paris"), teaser_length=220)
SOURCE = SourceConfig(name="feed", section="cuf", url="feed.xml", location="feed.xml", format="rss", timeout=5)

VARIED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:media="http://search.yahoo.com/mrss/">
<channel><title>Membre</title><link>https://membre.example.org/</link><description>d</description>
<!-- a comment -->
<item><title>  Caf&#233; &amp; coop&#233;ration  </title><link>/actu/relative</link>
  <pubDate>Wed, 19 Nov 2025 10:00:00 +0100</pubDate><category>Europe</category>
  <media:thumbnail url="/img/t.jpg"/>
  <description><![CDATA[<p>Un <b>texte</b>&nbsp;en   CDATA (…)</p>]]></description></item>
<item><title>&amp;eacute;t&amp;eacute; doublement &#233;chapp&#233;</title><link>https://membre.example.org/b</link>
  <guid isPermaLink="false">b-42</guid><dc:date>2025-11-18</dc:date>
  <media:content url="https://membre.example.org/img/b.png" medium="image"/>
  <content:encoded><![CDATA[<p>Seulement du contenu.</p>]]></content:encoded></item>
<item><title>Pièce jointe</title><link>https://membre.example.org/c</link>
  <dc:date>2025-11-17T08:30:00+01:00</dc:date><dc:coverage>à Lyon</dc:coverage>
  <enclosure url="https://membre.example.org/c.jpg" type="image/jpeg" length="10"/>
  <description>Texte &amp;amp; entités &amp;lt;b&amp;gt;</description></item>
<item><title></title><link>https://membre.example.org/sans-titre</link></item>
</channel></rss>"""


LATIN = VARIED.replace("UTF-8", "ISO-8859-1").replace("(…)", "(...)").encode("latin-1")


def bench_feed() -> bytes:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from bench_build import feed
    finally:
        sys.path.pop(0)
    return feed(3, 20).encode("utf-8")


FEEDS = {
    "spip-sample": (SAMPLES / "cuf-actualites.xml").read_bytes(),
    "hostile": HOSTILE.encode("utf-8"),
    "varied": VARIED.encode("utf-8"),
    "served": served_feed("served", count=5),
    "benchmark": bench_feed(),
}


def by_feedparser(body: bytes, url: str, monkeypatch: pytest.MonkeyPatch) -> Collected:
    with monkeypatch.context() as patch:
        patch.setattr(rss_fast, "entries", lambda *args: None)
        return rss.collect(SOURCE, Fetched(body, url), CTX)


@pytest.mark.parametrize("name", sorted(FEEDS))
@pytest.mark.parametrize("url", ["file:///srv/feed.xml", "https://membre.example.org/feeds/rss.xml"])
def test_fast_reading_equals_feedparser(name: str, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    body = FEEDS[name]
    assert rss_fast.entries(body, "application/rss+xml; charset=utf-8") is not None, "not read by the fast path"
    fast = rss.collect(SOURCE, Fetched(body, url), CTX)
    slow = by_feedparser(body, url, monkeypatch)
    assert fast.items == slow.items
    assert [p.message for p in fast.problems] == [p.message for p in slow.problems]


def test_the_varied_feed_is_read_in_full() -> None:
    items = rss.collect(SOURCE, Fetched(FEEDS["varied"], "https://membre.example.org/rss"), CTX).items
    assert [i.title for i in items] == ["Café & coopération", "été doublement échappé", "Pièce jointe"]
    assert items[0].url == "https://membre.example.org/actu/relative"
    assert items[0].image == "https://membre.example.org/img/t.jpg"
    assert items[1].uid == "b-42" and items[1].summary == "Seulement du contenu."
    assert items[2].place == "à Lyon" and items[2].image == "https://membre.example.org/c.jpg"


@pytest.mark.parametrize(("body", "content_type"), [
    (ATOM.encode("utf-8"), None),                                               # another dialect
    (LATIN, None),                                                              # another encoding
    (VARIED.encode("utf-8"), "application/rss+xml; charset=windows-1252"),     # a header that says so
    (VARIED.replace("<category>", "<foo:bar xmlns:foo='urn:x'>x</foo:bar><category>").encode(), None),
    (VARIED.replace("<channel>", '<channel xml:base="https://ailleurs.example.org/">').encode(), None),
    (VARIED.replace("</channel></rss>", "").encode(), None),                    # invalid XML
    (b'<?xml version="1.0"?><rss version="0.91"><channel><item><title>t</title></item></channel></rss>', None),
])
def test_anything_else_is_left_to_feedparser(body: bytes, content_type: str | None) -> None:
    assert rss_fast.entries(body, content_type) is None


def test_a_feed_left_to_feedparser_is_still_read(tmp_path: Path) -> None:
    items = rss.collect(SOURCE, Fetched(LATIN, "https://membre.example.org/rss"), CTX).items
    assert items[0].title == "Café & coopération"
