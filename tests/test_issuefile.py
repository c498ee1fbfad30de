"""The issue file (issues/<YYYY-MM>.toml): each editorial decision, its mistakes, and `digest draft`."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest import config, issuefile, pipeline
from digest.cli import main

from .conftest import LETTER_DATE, NEWS_AND_EVENTS, ROOT

NEWS = """title;url;date;summary;image
Assises frontalières;https://e.org/assises;19/11/2025;Les Assises.;
Fonds Vietnam;https://e.org/vietnam;18/11/2025;Un fonds de solidarité.;
Atelier Sénégal;https://e.org/senegal;17/11/2025;Un atelier.;
Note du ministère aux collectivités territoriales sur les rencontres;https://e.org/note;16/11/2025;Une note.;
"""
EVENTS = "title;url;start\nWebinaire #3;https://e.org/webinaire;26/03/2026 10:00\n"

Build = Callable[[str], pipeline.Built]


@pytest.fixture
def build(write_config: Callable[..., Path], tmp_path: Path) -> Build:
    """Build the letter of 2025-11-20 with the given issue file text; return the report."""
    def run(issue: str) -> pipeline.Built:
        files = {"news.csv": NEWS, "events.csv": EVENTS, "issues/2025-11.toml": issue}
        path = write_config(NEWS_AND_EVENTS, files=files)
        return pipeline.build(config.load(path), LETTER_DATE, tmp_path / "outbox")

    return run


def titles(report: pipeline.Built, section: str | None = None) -> list[str]:
    return [i.title for s in report.letter.sections if section in (None, s.id) for i in s.items]


def test_the_sample_issue_file_loads_with_an_editorial_and_one_pin(default_config: config.Config) -> None:
    issue = issuefile.load(default_config, LETTER_DATE)
    assert issue.path == ROOT / "issues" / "2025-11.toml"
    assert "Vietnam" in issue.editorial and issue.editorial_title == "Édito"
    assert len(issue.pin) == 1 and not issue.featured and not issue.exclude


def test_no_issue_file_changes_nothing(write_config: Callable[..., Path]) -> None:
    path = write_config(NEWS_AND_EVENTS, files={"news.csv": NEWS, "events.csv": EVENTS})
    assert issuefile.load(config.load(path), LETTER_DATE) == issuefile.IssueFile()


def test_pins_come_first_in_their_section_in_the_files_order(build: Build) -> None:
    report = build('pin = ["https://e.org/senegal", "https://www.e.org/vietnam/?utm_source=x"]\n')
    assert titles(report, "cuf")[:3] == ["Atelier Sénégal", "Fonds Vietnam", "Assises frontalières"]


def test_featured_items_open_the_letter_a_la_une(build: Build) -> None:
    report = build('featured = ["https://e.org/vietnam", "https://e.org/webinaire"]\n')
    assert [i.title for i in report.letter.featured] == ["Fonds Vietnam", "Webinaire #3"]
    assert "Fonds Vietnam" not in titles(report) and "Webinaire #3" not in titles(report)
    assert "agenda" not in [s.id for s in report.letter.sections]  # its only event went to the top
    html, text = report.rendered.html, report.rendered.text
    assert html.index("À la une") < html.index(">Fonds Vietnam<") < html.index("Actualités CUF")
    assert text.index("À LA UNE") < text.index("Webinaire #3") < text.index("ACTUALITÉS CUF")
    data = json.loads(report.written[4].path.read_text(encoding="utf-8"))
    assert [i["title"] for i in data["featured"]] == ["Fonds Vietnam", "Webinaire #3"]


def test_excluded_items_are_left_out(build: Build) -> None:
    report = build('exclude = ["https://e.org/assises", "https://e.org/webinaire"]\n')
    assert titles(report) == ["Fonds Vietnam", "Atelier Sénégal",
                              "Note du ministère aux collectivités territoriales sur les rencontres"]


def test_overrides_change_title_teaser_image_and_section(build: Build) -> None:
    report = build("""
[[override]]
item = "https://e.org/note"
title = "La note du ministère"
teaser = "Ce que le ministère demande aux collectivités."
image = "https://e.org/note.jpg"

[[override]]
item = "https://e.org/webinaire"
section = "cuf"
""")
    note = next(i for i in report.letter.items if i.url == "https://e.org/note")
    assert (note.title, note.summary, note.image) == ("La note du ministère",
                                                      "Ce que le ministère demande aux collectivités.",
                                                      "https://e.org/note.jpg")
    assert "La note du ministère" in titles(report, "cuf")
    assert titles(report, "cuf")[-1] == "Webinaire #3"  # moved from the agenda; undated, so after dated news


def test_hand_written_items_join_their_section(build: Build) -> None:
    report = build("""
[[item]]
section = "cuf"
title = "Assemblée générale : save the date"
url = "https://e.org/ag"
summary = "À Paris, en juin."
""")
    assert titles(report, "cuf")[-1] == "Assemblée générale : save the date"
    assert next(i for i in report.letter.items if i.url == "https://e.org/ag").source == issuefile.ISSUE_SOURCE


def test_section_order_subject_and_preheader(build: Build) -> None:
    report = build('sections = ["agenda"]\nsubject = "Spécial Vietnam"\npreheader = "Un fonds pour le Vietnam"\n')
    assert [s.id for s in report.letter.sections] == ["agenda", "cuf"]
    assert report.rendered.subject == "Spécial Vietnam"
    assert report.rendered.preheader == "Un fonds pour le Vietnam"
    assert "<title>Spécial Vietnam</title>" in report.rendered.html


def test_a_name_that_matches_no_item_is_a_warning_with_the_name(build: Build) -> None:
    report = build('pin = ["https://e.org/nulle-part"]\n[[override]]\nitem = "uid-inconnu"\ntitle = "X"\n')
    warnings = [str(p) for p in report.warnings]
    assert any("2025-11.toml: pin: no item has the url or uid 'https://e.org/nulle-part'" in w for w in warnings)
    assert any("[[override]] item: no item has the url or uid 'uid-inconnu'" in w for w in warnings)
    assert len(titles(report)) == 5  # the letter is still built


def test_every_problem_is_reported_at_once_with_the_file_and_key(write_config: Callable[..., Path]) -> None:
    issue = """
pinned = ["https://e.org/a"]
exclude = "https://e.org/b"
sections = ["agnda"]

[[override]]
title = "Sans item"
image = "javascript:alert(1)"

[[item]]
title = "Sans section"
url = "pas une adresse"
"""
    path = write_config(NEWS_AND_EVENTS, files={"news.csv": NEWS, "issues/2025-11.toml": issue})
    with pytest.raises(issuefile.IssueFileError) as caught:
        issuefile.load(config.load(path), LETTER_DATE)
    problems = caught.value.problems
    assert all(p.startswith(str(path.parent / "issues" / "2025-11.toml")) for p in problems)
    text = "\n".join(problems)
    assert "unknown key 'pinned'; did you mean 'pin'?" in text
    assert "exclude: expected an array of item urls or uids" in text
    assert "sections #1: no section has id 'agnda'; did you mean 'agenda'?" in text
    assert "[[override]] #1: missing required key 'item'" in text
    assert "[[override]] #1 image: expected an absolute http(s) URL" in text
    assert "[[item]] #1 (Sans section): missing required key 'section'" in text
    assert "[[item]] #1 (Sans section): url 'pas une adresse' is not an absolute http(s) address" in text
    assert len(problems) == 7


def test_a_toml_error_names_the_file_and_line(write_config: Callable[..., Path]) -> None:
    issue = 'subject = "Novembre"\n\npin = ["https://e.org/a",\n  "https://e.org/b"\nexclude = []\n'
    path = write_config(NEWS_AND_EVENTS, files={"news.csv": NEWS, "issues/2025-11.toml": issue})
    result = CliRunner().invoke(main, ["build", "-c", str(path)])
    assert result.exit_code == 2
    assert f"{path.parent / 'issues' / '2025-11.toml'}, line 5, column 1: not valid TOML" in result.output
    assert "Traceback" not in result.output


def test_pinned_and_excluded_at_once_is_an_error(write_config: Callable[..., Path]) -> None:
    path = write_config(NEWS_AND_EVENTS, files={"news.csv": NEWS, "issues/2025-11.toml":
                                        'pin = ["https://e.org/a"]\nexclude = ["https://e.org/a"]\n'})
    with pytest.raises(issuefile.IssueFileError, match=r"'https://e\.org/a' is also in exclude"):
        issuefile.load(config.load(path), LETTER_DATE)


def test_draft_lists_every_item_and_never_overwrites(write_config: Callable[..., Path]) -> None:
    path = write_config(NEWS_AND_EVENTS, files={"news.csv": NEWS, "events.csv": EVENTS})
    runner = CliRunner()
    result = runner.invoke(main, ["draft", "-c", str(path), "--date", "2025-11-20"])
    assert result.exit_code == 0, result.output
    drafted = path.parent / "issues" / "2025-11.toml"
    text = drafted.read_text(encoding="utf-8")
    for url in ("https://e.org/assises", "https://e.org/vietnam", "https://e.org/senegal", "https://e.org/note",
                "https://e.org/webinaire"):
        assert f'#     "{url}",' in text
    data = tomllib.loads(text)
    assert data["pin"] == data["featured"] == data["exclude"] == []
    # An editor turns a commented line into a pin: the build reads it.
    edited = text.replace('pin = [\n]', 'pin = [\n    "https://e.org/note",\n]')
    drafted.write_text(edited, encoding="utf-8")
    report = pipeline.build(config.load(path), LETTER_DATE, None)
    assert titles(report, "cuf")[0].startswith("Note du ministère")
    again = runner.invoke(main, ["draft", "-c", str(path), "--date", "2025-11-02"])
    assert again.exit_code == 2 and "already exists" in again.output
    assert drafted.read_text(encoding="utf-8") == edited


def test_a_subject_with_a_line_break_is_an_error_naming_the_key(write_config: Callable[..., Path]) -> None:
    issue = 'subject = "Novembre\\nBcc: tout-le-monde@example.org"\n'
    path = write_config(NEWS_AND_EVENTS, files={"news.csv": NEWS, "issues/2025-11.toml": issue})
    result = CliRunner().invoke(main, ["build", "-c", str(path)])
    assert result.exit_code == 2
    assert "top level subject: it holds a line break or a control character (U+000A)" in result.output
    assert "Traceback" not in result.output
