"""The letter's own words in its readers' language (issue 33, its first part): the fixed words of the stock
templates and the dates come from digest's catalogue in `[letter] language`, whatever the team's."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.installed import run as digest
from tests.send_support import DAY, config_text

FRENCH = ("En savoir plus", "Se désinscrire", "Bonjour", "À la une", "Ajouter à mon agenda", "Voir la lettre",
          "Version en ligne", "Centre de ressources", "Le\u00a0", "\u00a0h\u00a0")
ENGLISH = ("Read more", "Unsubscribe", "Hello", "Add to my calendar", "View the letter in your browser",
           "Online version")


def built(folder: Path, language: str) -> tuple[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    text = config_text(25).replace('language = "fr"', f'language = "{language}"', 1)
    assert f'language = "{language}"' in text
    (folder / "sources.toml").write_text(text, encoding="utf-8")
    result = digest("build", "-c", str(folder / "sources.toml"), "--date", DAY)
    assert result.exit_code == 0, result.output
    letter = folder / "outbox" / DAY
    return (letter / "letter.html").read_text(encoding="utf-8"), (letter / "letter.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("team", ["fr", "en"])
def test_an_english_letter_reads_english_whatever_the_team_speaks(tmp_path: Path, team: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_LANG", team)
    html, text = built(tmp_path / "en", "en")
    assert 'lang="en"' in html
    for word in FRENCH:  # the sources' own texts are French; the letter's fixed words are not
        assert word not in html and word not in text, word
    for word in ENGLISH:
        assert word in html or word in text, word
    assert "On 19\u00a0November\u00a02025" in html or "On 19 November 2025" in html.replace("\u00a0", " ")
    assert "Read more:" in text and "Hello," in text and "Read more :" not in text


def test_a_french_letter_reads_french_whatever_the_team_speaks(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_LANG", "en")
    html, text = built(tmp_path / "fr", "fr")
    for word in ENGLISH:
        assert word not in html and word not in text, word
    assert "En savoir plus" in html and "Se désinscrire" in text and "Bonjour" in text


def test_an_english_letters_archive_and_feed_read_english(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.send_support import SECRET

    monkeypatch.setenv("DIGEST_LANG", "fr")  # a French team publishing an English letter
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    built(tmp_path / "en", "en")
    index = (tmp_path / "en" / "outbox" / "index.html").read_text(encoding="utf-8")
    assert '<html lang="en"' in index and "Every issue" in index
    for word in ("Tous les numéros", "archives", "S’abonner", "novembre"):
        assert word not in index, word
    published = digest("publish", str(tmp_path / "site"), "-c", str(tmp_path / "en" / "sources.toml"), "--date", DAY)
    assert published.exit_code == 0, published.output
    feed = (tmp_path / "site" / "feed.xml").read_text(encoding="utf-8")
    assert 'xml:lang="en"' in feed or "<language>en" in feed or 'lang="en"' in feed
    for word in FRENCH:
        assert word not in feed, word
