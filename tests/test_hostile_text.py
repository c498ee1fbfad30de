"""Text is made safe for every writer: characters XML 1.0 forbids, in a feed, a JSON file, a CSV file and the
issue file (where the desk writes), are removed with a warning naming the item, and a real build succeeds."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from digest.cli import main
from digest.text import XML_FORBIDDEN

SOURCES = """
[[source]]
name = "feed"
section = "cuf"
url = "news.rss"
[[source]]
name = "data"
section = "cuf"
url = "news.json"
[[source]]
name = "events"
section = "agenda"
url = "events.csv"
"""

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>CUF</title><link>https://cites-unies-france.org/</link>
<item><title>Assises de la coopération&#xFFFF; décentralisée</title><link>https://cites-unies-france.org/a</link>
<description>Un texte&#x1; de présentation</description><pubDate>Mon, 17 Nov 2025 10:00:00 +0100</pubDate></item>
<item><title>Une actualité sans histoire</title><link>https://cites-unies-france.org/b</link>
<pubDate>Tue, 18 Nov 2025 10:00:00 +0100</pubDate></item>
</channel></rss>"""

# A lone surrogate, as JSON may write it (json.dumps keeps the escape): decoded, it cannot even be encoded.
DATA = json.dumps([{"title": "Mission au Sénégal \ud800", "url": "https://cites-unies-france.org/c",
                    "date": "2025-11-19", "summary": "Rencontre \ufffe des élus"}], ensure_ascii=True)

EVENTS = "title;start;url\nRencontre\x01 régionale;10/12/2025;https://cites-unies-france.org/e\n"

ISSUE = '[editorial]\ntitle = "Édito"\ntext = "Bonjour\\u0001 à toutes et à tous.\\uFFFF"\n'


def build(write_config: Callable[..., Path], *command: str) -> tuple[int, str, Path]:
    path = write_config(SOURCES, files={"news.rss": RSS, "news.json": DATA, "events.csv": EVENTS,
                                        "issues/2025-11.toml": ISSUE})
    result = CliRunner().invoke(main, [*command, "-c", str(path), "--date", "2025-11-20"])
    return result.exit_code, result.output, path.parent


def test_hostile_characters_are_removed_with_a_warning_naming_the_item_and_the_build_succeeds(
        write_config: Callable[..., Path]) -> None:
    code, output, root = build(write_config, "build")
    assert code == 0, output
    assert "Traceback" not in output and "does not parse" not in output
    for named in ("entry #1 « Assises de la coopération décentralisée »: removed 2 characters",
                  "element #1 « Mission au Sénégal »: removed 2 characters",
                  "line 2 « Rencontre régionale »: removed 1 character ",
                  "[editorial] text: removed 2 characters"):
        assert named in output, output
    letter = root / "outbox" / "2025-11-20"
    for name in ("letter.html", "letter.txt", "letter.eml"):
        text = (letter / name).read_text(encoding="utf-8")
        assert not XML_FORBIDDEN.search(text), name
    html = (letter / "letter.html").read_text(encoding="utf-8")
    assert "Assises de la coopération décentralisée" in html and "Mission au Sénégal" in html
    assert "Rencontre régionale" in html and "Bonjour à toutes et à tous." in html


def test_check_reads_the_same_sources_without_failing(write_config: Callable[..., Path]) -> None:
    code, output, _ = build(write_config, "check")
    assert "does not parse" not in output and "Traceback" not in output
    assert re.search(r"removed \d characters? an e-mail cannot carry", output), output
    assert code in (0, 1)  # 1 only for findings of the check itself, never a failed build


FAR_FUTURE = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>CUF</title>
<link>https://cites-unies-france.org/</link>
<item><title>Une actualité ordinaire</title><link>https://cites-unies-france.org/a</link>
<pubDate>Mon, 17 Nov 2025 10:00:00 +0100</pubDate></item>
<item><title>Une date au bout du calendrier</title><link>https://cites-unies-france.org/b</link>
<dc:date>9999-12-31T23:59:59-12:00</dc:date></item>
</channel></rss>"""


def test_an_item_digest_fails_to_read_is_lost_alone_and_said_in_plain_words(
        write_config: Callable[..., Path]) -> None:
    path = write_config('[[source]]\nname = "feed"\nsection = "cuf"\nurl = "news.rss"\n',
                        files={"news.rss": FAR_FUTURE})
    result = CliRunner().invoke(main, ["build", "-c", str(path), "--date", "2025-11-20"])
    assert result.exit_code == 0, result.output
    assert "entry #2: digest could not read this one" in result.output
    assert "skipped, the rest of the source is kept" in result.output
    assert "unexpected error" not in result.output
    html = (path.parent / "outbox" / "2025-11-20" / "letter.html").read_text(encoding="utf-8")
    assert "Une actualité ordinaire" in html
