"""The cache: bodies past the memory threshold, items kept for unchanged feeds, leftovers, the CUF example."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest import collectors, config
from digest.collectors.base import Context
from digest.collectors.cache import SPILL, Cache, Meta, age
from digest.collectors.fetch import check_content
from digest.errors import SourceError
from digest.model import Item, Problem
from tests.conftest import ROOT
from tests.feedserver import FeedServer
from tests.test_fetch import collect, leftovers, settings, titles, web


def test_a_large_body_goes_through_a_temporary_file_and_is_kept_whole(server: FeedServer, tmp_path: Path) -> None:
    results, _ = collect([web("gros", server.url("/large/gros"))], settings(tmp_path))
    assert len(results["gros"].items) == 100 and not results["gros"].problems
    entry = Cache(tmp_path / "cache").entry("gros", server.url("/large/gros"))
    assert entry is not None and entry.meta.size > SPILL
    assert entry.body().endswith(b"</rss>")
    assert leftovers(tmp_path / "cache") == []


def test_a_body_cut_by_the_deadline_leaves_no_partial_file(server: FeedServer, tmp_path: Path) -> None:
    results, _seconds = collect([web("lent", server.url("/large-then-slow"), timeout=5)],
                               settings(tmp_path, deadline=1.0))
    assert "still sending when the collection's deadline of 1 s passed" in str(results["lent"].problems[0])
    assert os.listdir(tmp_path / "cache") == ["health.json"]


def test_an_unchanged_feed_reuses_its_items_unless_the_reading_context_changed(
        server: FeedServer, tmp_path: Path) -> None:
    source, fetch = web("stable", server.url("/feed/stable")), settings(tmp_path)
    first = collectors.collect_all((source,), Context(tz=ZoneInfo("Europe/Paris")), fetch)[0]
    again = collectors.collect_all((source,), Context(tz=ZoneInfo("Europe/Paris")), fetch)[0]
    assert again.origin == "HTTP 304" and again.items == first.items
    assert (tmp_path / "cache" / "stable.items.json").exists()
    short = collectors.collect_all((source,), Context(tz=ZoneInfo("Europe/Paris"), teaser_length=12), fetch)[0]
    assert short.origin == "HTTP 304"
    assert [i.summary for i in short.items] == ["Résumé de…"] * 3  # read again for the new teaser length


def test_kept_items_come_back_identical_time_zones_included(tmp_path: Path) -> None:
    paris = ZoneInfo("Europe/Paris")
    items = (
        Item(uid="u1", source="s", title="Réunion", url="https://example.org/r", date=None,
             start=datetime(2026, 3, 29, 0, 0, tzinfo=paris), end=datetime(2026, 3, 30, 0, 0, tzinfo=paris),
             all_day=True, place="à Paris"),
        Item(uid="u2", source="s", title="Actualité", date=datetime(2025, 11, 19, 9, 0, tzinfo=UTC), summary="x"),
    )
    cache = Cache(tmp_path)
    cache.keep_items("s", "key", items, (Problem("s", "entry #3 has no title; skipped"),))
    kept = cache.items("s", "key")
    assert kept is not None and kept[0] == items and kept[1] == (Problem("s", "entry #3 has no title; skipped"),)
    assert kept[0][0].start is not None and kept[0][0].start.tzinfo == paris
    assert cache.items("s", "another key") is None


def test_leftovers_of_a_killed_build_are_removed_and_fresh_ones_kept(tmp_path: Path) -> None:
    old, fresh = tmp_path / ".feed.abc.tmp", tmp_path / ".feed.def.tmp"
    old.write_bytes(b"partial")
    fresh.write_bytes(b"being written")
    stamp = time.time() - 7200
    os.utime(old, (stamp, stamp))
    Cache(tmp_path)
    assert not old.exists() and fresh.exists()


def test_a_cached_copy_of_another_address_is_not_used(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    pending = cache.start("flux", Meta(url="https://a/", final_url="x"))
    pending.write(b"<rss/>")
    pending.commit()
    assert cache.entry("flux", "https://a/") is not None
    assert cache.entry("flux", "https://b/") is None


def test_a_damaged_cache_file_counts_as_no_copy(tmp_path: Path) -> None:
    (tmp_path / "flux.cache").write_bytes(b"<rss><channel><item><title>A</title></item></channel></rss>")
    assert Cache(tmp_path).entry("flux", "https://a/") is None


@pytest.mark.parametrize(("seconds", "words"), [
    (10, "just now"), (90, "a minute ago"), (3 * 60, "3 minutes ago"), (3600, "an hour ago"),
    (5 * 3600, "5 hours ago"), (86400, "a day ago"), (3 * 86400 + 10, "3 days ago"),
])
def test_ages_are_said_in_plain_words(seconds: float, words: str) -> None:
    assert age(seconds) == words


def test_the_cuf_example_reads_the_sites_spip_feeds() -> None:
    cfg = config.load(ROOT / "examples" / "cuf.toml")
    feeds = [s for s in cfg.sources if s.location.startswith("https://")]
    assert feeds and all(s.location.startswith("https://cites-unies-france.org/spip.php?page=backend&id_rubrique=")
                         for s in feeds)
    assert {s.section for s in cfg.sources} == {s.id for s in cfg.sections}
    assert cfg.fetch.cache_dir == (ROOT / "examples" / ".digest-cache").resolve()


def test_the_first_collection_of_an_offline_build_names_what_is_missing(server: FeedServer, tmp_path: Path) -> None:
    results, _ = collect([web("neuf", server.url("/feed/neuf"))], settings(tmp_path), offline=True)
    assert titles(results["neuf"]) == [] and results["neuf"].failed
    assert server.requests == []


@pytest.mark.parametrize(("body", "ctype", "fmt", "refused"), [
    (b"<!DOCTYPE html><html><body>Maintenance</body></html>", "text/html", "rss", True),
    (b"<!-- page --><head><title>Login</title></head>", "text/html; charset=utf-8", "rss", True),
    (b"\xef\xbb\xbf<html><body>x</body></html>", "application/octet-stream", "csv", True),
    (b'[{"title": "A"}]', "text/html", "json", False),  # a mislabelled JSON file is still read
    (b"title;url\nA;https://example.org/a\n", "text/html", "csv", False),
    (b'<?xml version="1.0"?><rss version="2.0"></rss>', "text/html", "rss", False),
])
def test_an_html_page_is_told_from_a_mislabelled_document(body: bytes, ctype: str, fmt: str, refused: bool) -> None:
    if refused:
        with pytest.raises(SourceError, match="an HTML page, not a"):
            check_content(body, ctype, fmt)
    else:
        check_content(body, ctype, fmt)
