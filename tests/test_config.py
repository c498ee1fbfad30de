"""sources.toml: what loads, and the messages a user gets when it is wrong (all problems at once)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest import collectors, config, issuefile
from digest.collectors.base import Context
from digest.collectors.formats import FORMATS
from digest.errors import ConfigError

from .conftest import LETTER_TABLE, ROOT, SECTIONS

SOURCE = """
[[source]]
name = "feed"
section = "cuf"
url = "feed.xml"
"""


def test_default_config_loads_every_table(default_config: config.Config) -> None:
    assert default_config.letter.title == "La Lettre de CUF"
    assert default_config.letter.date == date(2025, 11, 20)
    assert [s.id for s in default_config.sections] == ["cuf", "agenda", "collectivites", "breves"]
    formats = {s.name: s.format for s in default_config.sources}
    assert formats == {"cuf-actualites": "rss", "agenda-cuf": "ics", "collectivites": "csv", "breves": "json"}
    # relative paths start at the folder of sources.toml, whatever the current directory
    assert default_config.sources[0].location == str(ROOT / "samples" / "cuf-actualites.xml")


def test_defaults_fill_optional_keys(write_config: Callable[..., Path]) -> None:
    cfg = config.load(write_config(SOURCE))
    assert cfg.letter.language == "fr"
    assert cfg.letter.timezone == "Europe/Paris"
    assert cfg.section("agenda").horizon_days == 180
    assert cfg.sources[0].format == "rss"  # guessed from .xml
    assert cfg.sources[0].timeout == 10.0
    # the reading context of collectors has the same defaults as the configuration (one place for each)
    assert Context(tz=ZoneInfo("Europe/Paris")).teaser_length == cfg.letter.teaser_length == 220
    assert cfg.smtp is None and (cfg.fetch.concurrency, cfg.fetch.per_host) == (32, 4)


@pytest.mark.parametrize(("key", "value"), [("from", "Cités Unies <lettre@e.org>\r\nBcc: x@e.org"),
                                            ("unsubscribe_url", "https://e.org/d\r\nX-Evil: 1"),
                                            ("title", "La Lettre\nde CUF")])
def test_a_line_break_in_a_header_bound_value_is_an_error(write_config: Callable[..., Path], key: str,
                                                          value: str) -> None:
    letter = re.sub(rf"^{key} = .*$", lambda _: f"{key} = {json.dumps(value)}", LETTER_TABLE, flags=re.M)
    with pytest.raises(ConfigError, match=rf"\[letter\] {key}: it holds a line break or a control character"):
        config.load(write_config(SOURCE, letter=letter))


def test_every_problem_is_reported_at_once_with_file_and_key(write_config: Callable[..., Path]) -> None:
    sections = SECTIONS.replace("max_items = 10", 'max_items = "dix"')
    path = write_config("""
        [[source]]
        name = "feed"
        section = "agnda"
        url = "feed.xml"
        colour = "blue"
    """, sections=sections)
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    problems = caught.value.problems
    assert len(problems) == 3
    assert all(p.startswith(str(path)) for p in problems)
    text = "\n".join(problems)
    assert "[[section]] #1 (cuf) max_items: expected a whole number above 0, got 'dix'" in text
    assert "no section has id 'agnda'; did you mean 'agenda'?" in text
    assert "unknown key 'colour'" in text


def test_unknown_key_suggests_the_close_one(write_config: Callable[..., Path]) -> None:
    path = write_config(SOURCE.replace('url = "feed.xml"', 'ulr = "feed.xml"'))
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    text = "\n".join(caught.value.problems)
    assert "unknown key 'ulr'; did you mean 'url'?" in text
    assert "missing required key 'url'" in text


@pytest.mark.parametrize("value", ['"2025-13-01"', '"20/11/2025"', '"demain"'])
def test_bad_letter_date(write_config: Callable[..., Path], value: str) -> None:
    from .conftest import LETTER_TABLE

    path = write_config(SOURCE, letter=LETTER_TABLE.replace('"2025-11-20"', value))
    with pytest.raises(ConfigError, match=r"\[letter\] date: .* is not a date; write it as YYYY-MM-DD"):
        config.load(path)


def test_toml_syntax_error_names_file_and_line(write_config: Callable[..., Path]) -> None:
    path = write_config(SOURCE + "\nname = = 3\n")
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    message = caught.value.problems[0]
    assert str(path) in message and "not valid TOML" in message and "line" in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        config.load(tmp_path / "nope.toml")


def test_format_cannot_be_guessed(write_config: Callable[..., Path]) -> None:
    path = write_config(SOURCE.replace("feed.xml", "feed.data"))
    with pytest.raises(ConfigError, match=r"cannot tell the format of 'feed\.data'.*add format = one of"):
        config.load(path)


@pytest.mark.parametrize(("fmt", "extension"), [(f.name, e) for f in FORMATS for e in f.extensions])
def test_each_declared_extension_gives_its_format_and_a_collector_reads_it(
        write_config: Callable[..., Path], fmt: str, extension: str) -> None:
    """A format is declared once (digest.collectors.formats): the guess and the choice of reader both use it."""
    source = config.load(write_config(SOURCE.replace("feed.xml", f"feed{extension.upper()}"))).sources[0]
    assert source.format == fmt
    assert callable(collectors.collector(fmt))


def test_an_unknown_format_lists_every_format_a_collector_reads(write_config: Callable[..., Path]) -> None:
    with pytest.raises(ConfigError) as raised:
        config.load(write_config(SOURCE + 'format = "atom"\n'))
    expected = "expected one of rss, csv, json, toml, ics, sitemap, member-sites, got 'atom'"
    assert f"[[source]] #1 (feed) format: {expected}" in str(raised.value)


def test_every_declared_key_has_a_line_of_help_and_is_declared_once() -> None:
    declared = config.declared_keys() + issuefile.declared_keys()
    assert all(help.strip() and "\n" not in help for _table, _key, help in declared)
    assert len({(table, key) for table, key, _help in declared}) == len(declared)
    assert ("letter", "from", "the From: address, e.g. 'Cités Unies France <lettre@…>'") in declared


def test_bad_urls_and_sender(write_config: Callable[..., Path]) -> None:
    from .conftest import LETTER_TABLE

    letter = (LETTER_TABLE.replace("https://cites-unies-france.org/lettre/desinscription", "javascript:alert(1)")
              .replace("Cités Unies France <lettre@cites-unies-france.org>", "CUF"))
    path = write_config(SOURCE.replace("feed.xml", "ftp://example.org/feed.xml"), letter=letter)
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    text = "\n".join(caught.value.problems)
    assert "unsubscribe_url: expected an absolute http(s) URL" in text
    assert "from: expected an address" in text
    assert "unsupported address scheme 'ftp:'" in text


def test_duplicate_names_and_ids(write_config: Callable[..., Path]) -> None:
    path = write_config(SOURCE + SOURCE, sections=SECTIONS + SECTIONS)
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    text = "\n".join(caught.value.problems)
    assert "id 'cuf' is used more than once" in text
    assert "name 'feed' is used more than once" in text


def test_config_objects_are_frozen(default_config: config.Config) -> None:
    with pytest.raises(AttributeError):
        default_config.letter.title = "x"  # type: ignore[misc]


def test_preview_test_to_is_read_and_a_bad_address_list_is_a_clear_error(write_config: Callable[..., Path]) -> None:
    ok = config.load(write_config(SOURCES_FOR_PREVIEW + '[preview]\ntest_to = ["redaction@example.org"]\n'))
    assert ok.preview.test_to == ("redaction@example.org",)
    assert config.load(write_config(SOURCES_FOR_PREVIEW)).preview.test_to == ()
    with pytest.raises(config.ConfigError, match=r"\[preview\] test_to: expected an array of e-mail addresses"):
        config.load(write_config(SOURCES_FOR_PREVIEW + '[preview]\ntest_to = "redaction@example.org"\n'))


SOURCES_FOR_PREVIEW = '[[source]]\nname = "news"\nsection = "cuf"\nurl = "n.xml"\n'
