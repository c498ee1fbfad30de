"""The editorial: Markdown to safe HTML (an allow-list) and to text; anything dangerous removed, with a warning."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from digest import config, editorial, pipeline

from .conftest import LETTER_DATE

MARKDOWN = """\
Novembre aura été un mois de **solidarité** : voir le
[fonds Vietnam](https://cites-unies-france.org/vietnam) et *nos* rendez-vous.

- Assises frontalières, le 4 décembre
- Atelier Sénégal

Bonne lecture&nbsp;!
"""
SOURCES = """
[[source]]
name = "news"
section = "cuf"
url = "news.csv"
"""
NEWS = "title;url;date\nFonds Vietnam;https://cites-unies-france.org/vietnam;18/11/2025\n"


def test_markdown_becomes_html_and_a_wrapped_text_twin() -> None:
    out = editorial.render(MARKDOWN)
    assert "<strong>solidarité</strong>" in out.html and "<em>nos</em>" in out.html
    assert '<a href="https://cites-unies-france.org/vietnam">fonds Vietnam</a>' in out.html
    assert "<li>Atelier Sénégal</li>" in out.html
    assert out.text == (
        "Novembre aura été un mois de solidarité : voir le fonds Vietnam\n"
        "<https://cites-unies-france.org/vietnam> et nos rendez-vous.\n\n"
        "- Assises frontalières, le 4 décembre\n"
        "- Atelier Sénégal\n\n"
        "Bonne lecture !"  # the template's French typography adds the no-break space
    )
    assert out.removed == ()


def test_script_event_handlers_and_javascript_links_are_removed_with_a_warning() -> None:
    out = editorial.render(
        "Bonjour <script>alert('x')</script>\n\n"
        '<img src="https://e.org/a.png" onerror="alert(1)">\n\n'
        '<a href="https://e.org" onclick="steal()">lien</a> et [piège](javascript:alert(1)) '
        'et <a href=" JaVaScRiPt:alert(2)">autre</a>\n'
    )
    for bad in ("<script", "alert", "onerror", "onclick", "javascript", "<img"):
        assert bad not in out.html.lower(), bad
    assert '<a href="https://e.org">lien</a>' in out.html and "piège" in out.html
    assert "alert" not in out.text
    assert "<script>" in out.removed and "<img>" in out.removed
    assert "the event handler onerror= on <img>" in out.removed
    assert "the event handler onclick= on <a>" in out.removed
    assert "the link 'javascript:alert(1)'" in out.removed
    assert any("JaVaScRiPt" in what for what in out.removed)


def test_html_that_is_allowed_passes_without_a_warning() -> None:
    out = editorial.render('<p>Un <b>mot</b><br>et <a href="mailto:lettre@cites-unies-france.org">écrire</a></p>')
    assert out.removed == ()
    assert '<br />' in out.html  # MJML reads its input as XML
    assert "écrire <mailto:lettre@cites-unies-france.org>" in out.text


def test_the_editorial_opens_the_letter_and_a_bad_one_is_a_warning_naming_the_file(
        write_config: Callable[..., Path], tmp_path: Path) -> None:
    issue = '[editorial]\ntitle = "Le mot du président"\ntext = """\n' + MARKDOWN + \
        '\n<script>alert(1)</script>\n"""\n'
    path = write_config(SOURCES, files={"news.csv": NEWS, "issues/2025-11.toml": issue})
    report = pipeline.build(config.load(path), LETTER_DATE, tmp_path / "outbox")
    html, text = report.rendered.html, report.rendered.text
    assert "Le mot du président" in html and "<strong" in html and "solidarité" in html
    assert html.index("Le mot du président") < html.index("Actualités CUF")
    assert "<script" not in html
    assert text.index("LE MOT DU PRÉSIDENT") < text.index("ACTUALITÉS CUF")
    assert "fonds Vietnam\n<https://cites-unies-france.org/vietnam>" in text
    warnings = [str(p) for p in report.warnings]
    assert any("issues/2025-11.toml" in w and "removed <script>" in w for w in warnings), warnings


def test_no_editorial_no_block(write_config: Callable[..., Path], tmp_path: Path) -> None:
    path = write_config(SOURCES, files={"news.csv": NEWS})
    report = pipeline.build(config.load(path), LETTER_DATE, None)
    assert "Édito" not in report.rendered.html
    assert "ÉDITO" not in report.rendered.text
