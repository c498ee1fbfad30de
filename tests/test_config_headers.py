"""Hardening, class 7: values from the configuration that reach a header."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest import config
from digest.cli import main
from digest.errors import ConfigError

from .conftest import NEWS_AND_EVENTS, ROOT
from .test_issuefile import NEWS


def with_letter_key(tmp_path: Path, key: str, value: str) -> Path:
    text = (ROOT / "sources.toml").read_text(encoding="utf-8")
    text = text.replace('url = "samples/', f'url = "{ROOT}/samples/')
    text = re.sub(rf"(?m)^{key} = .*$", lambda _: f"{key} = {value}", text, count=1)
    if not re.search(rf"(?m)^{key} = ", text):
        text = text.replace("[letter]\n", f"[letter]\n{key} = {value}\n", 1)
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("key", "value"), [
    ("unsubscribe_url", '"https://example.org/d\\r\\nBcc: victim@example.org"'),
    ("unsubscribe_mailto", '"mailto:d@example.org\\nX-Evil: 1"'),
    ("from", '"CUF <lettre@example.org>\\r\\nBcc: victim@example.org"'),
    ("title", '"La Lettre\\u0085de CUF"'),
])
def test_headers_a_line_break_in_a_header_bound_key_is_a_config_error_naming_it(
        tmp_path: Path, key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=rf"\[letter\] {key}.*line break or a control character"):
        config.load(with_letter_key(tmp_path, key, value))


def test_headers_a_non_ascii_unsubscribe_url_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unsubscribe_url.*percent-encoded"):
        config.load(with_letter_key(tmp_path, "unsubscribe_url", '"https://example.org/désinscription"'))


def test_headers_a_list_unsubscribe_over_998_characters_is_caught_at_build(tmp_path: Path) -> None:
    path = with_letter_key(tmp_path, "unsubscribe_url", '"https://example.org/' + "d" * 900 + '"')
    result = CliRunner().invoke(main, ["build", "-c", str(path), "--date", "2025-11-20"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "[letter] unsubscribe_url and unsubscribe_mailto: with a subscriber's token the List-Unsubscribe " \
           "header would be 1408 characters long, and a header line may have at most 998" in result.output
    assert not (tmp_path / "outbox" / "2025-11-20" / "letter.eml").exists()


def test_headers_a_subject_with_a_line_break_in_the_issue_file_names_the_key(
        write_config: Callable[..., Path]) -> None:
    issue = 'subject = "Novembre\\nBcc: victim@example.org"\n'
    path = write_config(NEWS_AND_EVENTS, files={"news.csv": NEWS, "issues/2025-11.toml": issue})
    result = CliRunner().invoke(main, ["build", "-c", str(path), "--date", "2025-11-20"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "2025-11.toml" in result.output
    assert "subject: it holds a line break or a control character (U+000A)" in result.output
