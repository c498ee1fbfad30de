"""Hardening, class 4: the fast RSS reading gives feedparser's dates, on feedparser's own date tables.

The forms below are feedparser 6.0's test table for RFC 822 and W3C-DTF dates (tests/runtests.py in its
source distribution, BSD licence), plus the zones the issue found read as UTC: colon offsets, MET/MEST, the
military letters and the US zones. Each is read both ways; the fast reading must give what feedparser gives,
including no date at all for an invalid one.
"""

from __future__ import annotations

import string
import time
from typing import Any

import feedparser
import pytest

from digest.collectors import rss, rss_fast
from digest.collectors.base import Fetched

from .test_rss_fast import CTX, SOURCE

FEEDPARSER_RFC822 = [
    "", "Thu, 30 Apr 2015 08:57:00 MET", "Thu, 30 Apr 2015 08:57:00 MEST", "Thu, 01 Jan 0100 00:00:01 +0100",
    "Thu, 01 Jan 04 19:48:21 GMT", "Thu, 01 Jan 2004 19:48:21 GMT", "Thu,  5 Apr 2012 10:00:00 GMT",
    "Wed, 19 Aug 2009 18:28:00 Etc/GMT", "Wed, 19 Feb 2012 22:40:00 GMT-01:01", "Wed, 19 Feb 2012 22:40:00 -01:01",
    "Mon, 13 Feb, 2012 06:28:00 UTC", "Thu, 01 Jan 2004 00:00 GMT", "Thu, 01 Jan 2004",
    "Mon, 26 January 2004 16:31:00 AT", "Mon, 26 January 2004 16:31:00 ET", "Mon, 26 January 2004 16:31:00 CT",
    "Mon, 26 January 2004 16:31:00 MT", "Mon, 26 January 2004 16:31:00 PT", "Thu Aug 30 2012 17:26:16 +0200",
    "Sun, 16 Dec 2012 1:2:3:4 GMT", "Sun, 16 zzz 2012 11:47:32 GMT", "Sun, Dec x 2012 11:47:32 GMT",
    "Sun, 16 Dec zz 11:47:32 GMT", "Sun, 16 Dec 2012 11:47:32 +zz:00", "Sun, 16 Dec 2012 11:47:32 +00:zz",
    "Sun, 99 Jun 2009 12:00:00 GMT", "Sun Jan  4 16:29:06 2004", "Sun Jul 15 01:16:00 +0000 2012",
]
FEEDPARSER_W3CDTF = [
    "", "2003-12-31T10:14:55Z", "2003-12-31T10:14:55-08:00", "2003-12-31T18:14:55+08:00",
    "2007-04-23T23:25:47.538+10:00", "2003-12-31", "2003-12", "2003", "2004-02-28T18:14:55-08:00",
    "2003-02-28T18:14:55-08:00", "2000-02-28T18:14:55-08:00", "9999-12-31T23:59:59-99:99", "2003-12-31T25:14:55Z",
    "2003-12-31T10:61:55Z", "2003-12-31T10:14:61Z", "22013", "013", "2013-01-27-01", "2013-01-28T11:30:00-06:00Textra",
    "2013-xx-27", "2013-01-28T09:xx:00Z", "2013-01-28T09:00:00+00:xx", "2004-07-08 23:56:58 -00:20",
    "2004-07-08 23:56:58", "2004-07-08 23:56:58.0", "2003-12-31T10:14:55.1234Z",
]
ZONES = ["-05:00", "+05:30", "MET", "MEST", "EST", "EDT", "CST", "CDT", "MST", "MDT", "PST", "PDT", "UT", "Z",
         "-0000", "+1400", *string.ascii_uppercase]
ISSUE = ["Wed, 12 Nov 2025 22:00:00 -05:00", "Fri, 31 Feb 2025 10:00:00 +0100", "Wed, 12 Nov 2025 25:00:00 +0100",
         *(f"Wed, 12 Nov 2025 22:00:00 {zone}" for zone in ZONES)]


def feed(element: str, value: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<channel><title>t</title><link>https://e.org/</link><item><title>A</title>"
            f"<link>https://e.org/a</link><{element}>{value}</{element}></item></channel></rss>").encode()


def both(element: str, value: str) -> tuple[Any, Any]:
    body = feed(element, value)
    read = rss_fast.entries(body, None)
    assert read is not None, "the fast reading must read this feed"
    key = "published_parsed" if element == "pubDate" else "updated_parsed"
    slow = feedparser.parse(body).entries[0].get(key)
    return read[1][0].get(key), slow


@pytest.mark.parametrize("value", FEEDPARSER_RFC822 + ISSUE)
def test_dates_every_rfc822_form_reads_as_feedparser_reads_it(value: str) -> None:
    fast, slow = both("pubDate", value)
    assert (fast and time.struct_time(fast)[:6]) == (slow and time.struct_time(slow)[:6])


@pytest.mark.parametrize("value", FEEDPARSER_W3CDTF)
def test_dates_every_w3cdtf_form_reads_as_feedparser_reads_it(value: str) -> None:
    fast, slow = both("dc:date", value)
    assert (fast and time.struct_time(fast)[:6]) == (slow and time.struct_time(slow)[:6])


def test_dates_an_offset_with_a_colon_gives_the_day_in_paris() -> None:
    body = feed("pubDate", "Wed, 12 Nov 2025 22:00:00 -05:00")
    item = rss.collect(SOURCE, Fetched(body, "https://e.org/feed"), CTX).items[0]
    assert item.date is not None and item.date.astimezone(CTX.tz).day == 13
