"""Hardening, class 5: one odd element never loses a whole source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .test_input_bounds import calendar, event, read


def test_sources_a_file_with_two_vcalendars_gives_the_events_of_both(write_config: Callable[..., Path]) -> None:
    text = calendar(event("a", "Réunion A")) + calendar(event("b", "Réunion B"))
    result = read(write_config, text)
    assert not result.failed and [i.title for i in result.items] == ["Réunion A", "Réunion B"]


def test_sources_a_dc_coverage_with_xml_lang_in_a_latin1_feed_keeps_the_source() -> None:
    from digest.collectors import rss
    from digest.collectors.base import Fetched

    from .test_rss_fast import CTX, SOURCE

    body = ('<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>t</title><link>https://e.org/</link>'
            '<item><title>Élus à Lyon</title><link>https://e.org/a</link>'
            '<dc:coverage xml:lang="fr">Lyon</dc:coverage></item></channel></rss>').encode("latin-1")
    result = rss.collect(SOURCE, Fetched(body, "https://e.org/feed"), CTX)
    assert not result.failed and [i.title for i in result.items] == ["Élus à Lyon"]
