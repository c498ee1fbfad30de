"""The pre-send report (digest check): each check on real built letters and on crafted HTML and data."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from click.testing import CliRunner

from digest import config, pipeline
from digest.cli import main
from digest.collectors import health
from digest.message import build_message
from digest.model import Collected, Item, Letter, Problem, Rendered, Section
from digest.review import check, cssdata
from tests.conftest import LETTER_DATE, ROOT, SAMPLES, make_item

UNSUBSCRIBE = "https://cites-unies-france.org/lettre/desinscription"


def letter_with(*sections: Section, featured: tuple[Item, ...] = ()) -> Letter:
    """A Letter dated LETTER_DATE holding these sections."""
    return Letter(
        title="La Lettre de CUF", date=LETTER_DATE, language="fr", sections=sections,
        base_url="https://cites-unies-france.org/lettre/", unsubscribe_url=UNSUBSCRIBE,
        sender="Cités Unies France <lettre@cites-unies-france.org>", address="Paris", timezone="Europe/Paris",
        web_url="https://cites-unies-france.org/lettre/2025-11-20/letter.html", featured=featured,
    )


def doc(body: str) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(f"<!doctype html><html><head></head><body>{body}</body></html>")


def checks_of(findings: list[check.Finding]) -> list[tuple[str, str]]:
    return [(f.level, f.check) for f in findings]


@pytest.fixture
def default_built(default_config: config.Config) -> pipeline.Built:
    return pipeline.build(default_config, LETTER_DATE, out=None)


# --- the default letter ----------------------------------------------------------------------------------


def test_default_letter_has_no_error_and_flags_the_badge_border_radius(default_built: pipeline.Built) -> None:
    findings = check.run(default_built)
    assert check.errors(findings) == []
    radius = [f for f in findings if f.check == "css" and f.key == "css-border-radius"]
    assert len(radius) == 1
    assert radius[0].level == "warning"
    assert radius[0].where == "CSS border-radius (css-border-radius)"
    assert "Outlook (Windows)" in radius[0].message
    assert 'class="bd"' in radius[0].detail  # names where it is used: the agenda badge
    assert "caniemail.com, data of 2026-05-13" in radius[0].detail
    line = radius[0].line()
    assert "\n" not in line
    assert line.startswith("warning  CSS              CSS border-radius (css-border-radius): ignored by")


def test_errors_come_before_warnings() -> None:
    findings = check.ordered([check.Finding("warning", "a", "x"), check.Finding("error", "b", "y"),
                              check.Finding("warning", "c", "z")])
    assert [f.check for f in findings] == ["b", "a", "c"]
    assert check.summary(findings) == "1 error, 2 warnings"
    assert check.summary([]) == "no problem found"


# --- size ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kilobytes", "expected"), [(50, []), (95, [("warning", "size")]),
                                                     (103, [("error", "size")])])
def test_size_against_gmail_clipping(kilobytes: int, expected: list[tuple[str, str]]) -> None:
    html = "<p>" + "x" * (kilobytes * 1024) + "</p>"
    assert checks_of(check.size(html)) == expected


def test_size_counts_bytes_not_characters() -> None:
    html = "é" * (52 * 1024)  # 52 K characters, 104 KB in UTF-8
    assert checks_of(check.size(html)) == [("error", "size")]


# --- images and links ------------------------------------------------------------------------------------


def test_image_without_alt_or_width_is_flagged() -> None:
    findings = check.images(doc('<img src="https://example.org/a.png">'))
    assert checks_of(findings) == [("warning", "image-alt"), ("warning", "image-width")]
    assert "https://example.org/a.png" in findings[0].where


def test_a_decorative_picture_has_an_empty_alt_and_a_long_alt_is_flagged() -> None:
    assert check.images(doc('<img src="https://example.org/a.png" alt="" width="96" height="64">')) == []
    missing = check.images(doc('<img src="https://example.org/a.png" width="96">'))
    assert checks_of(missing) == [("warning", "image-alt")]
    assert 'alt=""' in missing[0].message  # says what to write for a decorative picture
    title = "Intempéries dans le centre du Vietnam - Ouverture d’un fonds de solidarité des collectivités françaises"
    long_alt = check.images(doc(f'<img src="https://example.org/a.png" alt="{title}" width="96">'))
    assert checks_of(long_alt) == [("warning", "image-alt")]
    assert f"{len(title)} characters" in long_alt[0].message


def test_the_default_letters_thumbnails_are_decorative_with_a_fixed_box(default_built: pipeline.Built) -> None:
    document = lxml.html.document_fromstring(default_built.rendered.html)
    images = list(document.iter("img"))
    assert len(images) >= 15
    for image in images:
        assert image.get("alt") == ""
        assert (image.get("width"), image.get("height")) == ("96", "64")
        assert image.getparent().get("class") == "th"  # tinted from the head where the client blocks pictures
    assert re.search(r"\.th img \{[^}]*background: #dfe6ee", default_built.rendered.html)


def test_image_with_alt_and_width_passes_and_css_width_counts() -> None:
    assert check.images(doc('<img src="https://example.org/a.png" alt="Logo" width="96">')) == []
    assert check.images(doc('<img src="https://example.org/a.png" alt="" style="display:block; width:96px">')) == []


def test_image_addresses() -> None:
    http = check.images(doc('<img src="http://example.org/a.png" alt="a" width="9">'))
    assert checks_of(http) == [("warning", "link-scheme")]
    relative = check.images(doc('<img src="images/a.png" alt="a" width="9">'))
    assert checks_of(relative) == [("error", "link-scheme")]


@pytest.mark.parametrize(("href", "expected"), [
    ("https://example.org/page", []),
    ("mailto:contact@example.org", []),
    ("http://example.org/page", [("warning", "link-scheme")]),
    ("javascript:alert(1)", [("error", "link-scheme")]),
    ("JavaScript:void(0)", [("error", "link-scheme")]),
    ("/relative/page", [("error", "link-scheme")]),
    ("", [("warning", "link-scheme")]),
])
def test_links_must_be_absolute_https(href: str, expected: list[tuple[str, str]]) -> None:
    findings = check.links(doc(f'<a href="{href}">Lire la suite</a>'))
    assert checks_of(findings) == expected
    if findings:
        assert "Lire la suite" in findings[0].where


# --- unsubscribe -----------------------------------------------------------------------------------------


def _parts(body: str, text: str = f"Se désinscrire : {UNSUBSCRIBE}\n") -> tuple[Letter, Rendered, bytes]:
    letter = letter_with(Section("cuf", "Actualités", "news", (make_item(),)))
    rendered = Rendered(html=f"<!doctype html><html><body>{body}</body></html>", text=text, mjml="",
                        subject="Sujet", preheader="Aperçu")
    return letter, rendered, build_message(letter, rendered)


def test_unsubscribe_link_and_headers_present_pass() -> None:
    letter, rendered, eml = _parts(f'<a href="{UNSUBSCRIBE}">Se désinscrire</a>')
    assert check.unsubscribe(doc(rendered.html), rendered.text, eml, letter) == []


def test_missing_unsubscribe_link_in_the_body_is_an_error() -> None:
    letter, rendered, eml = _parts('<a href="https://example.org/">Accueil</a>')
    findings = check.unsubscribe(doc(rendered.html), rendered.text, eml, letter)
    assert checks_of(findings) == [("error", "unsubscribe")]
    assert "no unsubscribe link" in findings[0].message


def test_missing_list_unsubscribe_header_is_an_error() -> None:
    letter, rendered, eml = _parts(f'<a href="{UNSUBSCRIBE}">Se désinscrire</a>')
    stripped = b"\r\n".join(line for line in eml.split(b"\r\n") if not line.startswith(b"List-Unsubscribe"))
    findings = check.unsubscribe(doc(rendered.html), rendered.text, stripped, letter)
    assert checks_of(findings) == [("error", "unsubscribe")]
    assert findings[0].where == "letter.eml"


def test_text_version_without_the_unsubscribe_address_is_a_warning() -> None:
    letter, rendered, eml = _parts(f'<a href="{UNSUBSCRIBE}">Se désinscrire</a>', text="Bonjour\n")
    findings = check.unsubscribe(doc(rendered.html), rendered.text, eml, letter)
    assert checks_of(findings) == [("warning", "unsubscribe")]
    assert findings[0].where == "letter.txt"


def test_a_template_without_unsubscribe_link_fails_check_with_exit_1(tmp_path: Path,
                                                                     write_config: Callable[..., Path]) -> None:
    templates = tmp_path / "tpl"
    shutil.copytree(ROOT / "templates", templates)
    source = (templates / "letter.mjml.j2").read_text(encoding="utf-8")
    assert "letter.unsubscribe_url" in source
    source = source.replace("{{ letter.unsubscribe_url }}", "https://example.org/")
    source = source.replace('{{ _("Unsubscribe") }}', "Aide")
    (templates / "letter.mjml.j2").write_text(source, encoding="utf-8")
    shutil.copy(SAMPLES / "collectivites.csv", tmp_path / "collectivites.csv")
    path = write_config('[[source]]\nname = "c"\nsection = "cuf"\nurl = "collectivites.csv"\n',
                        letter=_letter_table('templates = "tpl"\n'),
                        sections='[[section]]\nid = "cuf"\ntitle = "Actualités"\nwindow_days = 2000\n')
    result = CliRunner().invoke(main, ["check", "-c", str(path)])
    assert result.exit_code == 1, result.output
    assert "no unsubscribe link in the HTML body" in result.output
    assert "1 error" in result.output


def _letter_table(extra: str = "") -> str:
    from tests.conftest import LETTER_TABLE
    return LETTER_TABLE + extra


# --- sections, agenda, dates, duplicates -----------------------------------------------------------------


def test_a_configured_section_left_empty_is_reported(write_config: Callable[..., Path]) -> None:
    path = write_config('[[source]]\nname = "news"\nsection = "cuf"\nurl = "news.json"\n',
                        files={"news.json": json.dumps([{"title": "Une actualité", "url": "https://e.org/1",
                                                         "date": "2025-11-18"}])})
    cfg = config.load(path)
    report = pipeline.build(cfg, LETTER_DATE, out=None)
    findings = check.sections(report.letter, cfg) if report.letter else []
    assert checks_of(findings) == [("warning", "empty-section")]
    assert findings[0].where == "section agenda"


def test_an_event_over_on_the_letter_date_is_an_error() -> None:
    over = make_item("Réunion passée", start=datetime(2025, 11, 18, 9, tzinfo=UTC),
                     end=datetime(2025, 11, 18, 11, tzinfo=UTC))
    running = make_item("Salon", start=datetime(2025, 11, 17, 9, tzinfo=UTC),
                        end=datetime(2025, 11, 22, 18, tzinfo=UTC))
    today = make_item("Ce matin", start=datetime(2025, 11, 20, 7, tzinfo=UTC))
    letter = letter_with(Section("agenda", "Agenda", "agenda", (over, running, today)))
    findings = check.agenda(letter)
    assert checks_of(findings) == [("error", "past-event")]
    assert "Réunion passée" in findings[0].where


def test_a_past_event_in_the_featured_block_is_an_error_too() -> None:
    over = make_item("Ancien webinaire", start=datetime(2025, 10, 2, 9, tzinfo=UTC))
    letter = letter_with(Section("cuf", "Actualités", "news", (make_item(),)), featured=(over,))
    assert checks_of(check.agenda(letter)) == [("error", "past-event")]


def test_items_without_a_date_are_warnings() -> None:
    letter = letter_with(Section("breves", "En bref", "news", (make_item("Sans date", date=None), make_item())))
    findings = check.undated(letter)
    assert checks_of(findings) == [("warning", "no-date")]
    assert "Sans date" in findings[0].where


def test_the_same_url_twice_is_a_warning() -> None:
    first = make_item("Premier", url="https://www.example.org/page/")
    second = make_item("Second", url="https://example.org/page?utm_source=lettre")
    other = make_item("Autre", url="https://example.org/autre")
    letter = letter_with(Section("cuf", "A", "news", (first, other)), Section("breves", "B", "news", (second,)))
    findings = check.duplicates(letter)
    assert checks_of(findings) == [("warning", "duplicate-url")]
    assert "Premier" in findings[0].message and "Second" in findings[0].where


# --- subject and preheader -------------------------------------------------------------------------------


def test_subject_and_preheader_lengths() -> None:
    assert check.subject_and_preheader("La Lettre de CUF – novembre 2025", "Les nouvelles du mois") == []
    assert checks_of(check.subject_and_preheader("", "Aperçu")) == [("error", "subject")]
    assert checks_of(check.subject_and_preheader("S" * 61, "Aperçu")) == [("warning", "subject")]
    assert checks_of(check.subject_and_preheader("Sujet", "")) == [("warning", "preheader")]
    assert checks_of(check.subject_and_preheader("Sujet", "p" * 111)) == [("warning", "preheader")]


# --- sources ---------------------------------------------------------------------------------------------


def test_failed_and_stale_sources(default_config: config.Config) -> None:
    failed = Collected("collectivites", problems=(Problem("collectivites", "file not found: x.csv"),), failed=True)
    old = make_item("Vieille", date=datetime(2020, 1, 1, tzinfo=UTC))
    stale = Collected("cuf-actualites", items=(old,))
    empty = Collected("breves")
    findings = check.sources([failed, stale, empty], default_config, LETTER_DATE)
    assert checks_of(findings) == [("error", "source"), ("warning", "stale-source"), ("warning", "source")]
    assert findings[0].where == "source collectivites" and "file not found: x.csv" in findings[0].message
    assert "2020-01-01" in findings[1].message and "31 days" in findings[1].message


def test_health_records_name_sources_that_keep_failing_and_stale_ones(default_config: config.Config) -> None:
    url = next(s.url for s in default_config.sources if s.name == "cuf-actualites")
    record = health.Record("cuf-actualites", url=url, last_attempt="2025-11-20T07:00:00+00:00",
                           consecutive_failures=3, last_error="HTTP 503", newest_item="2025-09-01T08:00:00+00:00")
    collected = [Collected("cuf-actualites", items=(make_item(date=datetime(2025, 9, 1, 8, tzinfo=UTC)),))]
    findings = check.sources(collected, default_config, LETTER_DATE, {"cuf-actualites": record})
    assert checks_of(findings) == [("warning", "source"), ("warning", "stale-source")]
    assert "failed 3 time(s) in a row (HTTP 503)" in findings[0].message
    assert "nothing new since 2025-09-01" in findings[1].message
    moved = {"cuf-actualites": health.Record("cuf-actualites", url="https://elsewhere.example/feed",
                                             consecutive_failures=3)}
    fresh = [Collected("cuf-actualites", items=(make_item(),))]
    assert check.sources(fresh, default_config, LETTER_DATE, moved) == []  # a record of another address


def test_a_missing_source_file_makes_check_exit_1(write_config: Callable[..., Path]) -> None:
    path = write_config('[[source]]\nname = "news"\nsection = "cuf"\nurl = "news.json"\n'
                        '[[source]]\nname = "gone"\nsection = "cuf"\nurl = "missing.csv"\n',
                        files={"news.json": json.dumps([{"title": "Une actualité", "url": "https://e.org/1",
                                                         "date": "2025-11-18"}])})
    result = CliRunner().invoke(main, ["check", "-c", str(path)])
    assert result.exit_code == 1, result.output
    assert "source gone" in result.output


# --- CSS support -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "slugs"), [
    ("border-radius", {"css-border-radius"}),
    ("border-top-left-radius", {"css-border-radius"}),
    ("margin-top", {"css-margin"}),
    ("padding-left", {"css-padding"}),
    ("background-image", {"css-background-image"}),
    ("top", {"css-left-right-top-bottom"}),
    ("mso-line-height-rule", set()),
    ("-webkit-text-size-adjust", set()),
    ("font-family", set()),
])
def test_property_names_map_to_caniemail_slugs(name: str, slugs: set[str]) -> None:
    assert cssdata.property_slugs(name, cssdata.load().features) == slugs


def test_css_features_found_in_style_attributes_and_style_blocks() -> None:
    html = """<html><head><style>
      .card:hover { box-shadow: 0 0 2px #000; }
      @media (prefers-color-scheme: dark) { .dk { background: #000 !important; } }
    </style><!--[if mso]><style>.x { opacity: 0; }</style><![endif]--></head>
    <body><div style="display:flex; background-image:url(https://e.org/a.png); width: 2rem">x</div></body></html>"""
    used = cssdata.features_in(html, cssdata.load().features)
    for slug in ("css-pseudo-class-hover", "css-box-shadow", "css-at-media", "css-at-media-prefers-color-scheme",
                 "css-important", "css-display-flex", "css-background-image", "css-unit-rem"):
        assert slug in used, slug
    assert "css-opacity" not in used  # inside an Outlook-only conditional comment
    assert used["css-display-flex"].places == ["style of <div>"]


def test_css_dropped_by_major_clients_is_a_warning_naming_the_clients_and_the_source() -> None:
    html = '<html><body><div style="background-image:url(https://e.org/a.png)">x</div></body></html>'
    findings = check.css(html)
    background = [f for f in findings if f.key == "css-background-image"]
    assert len(background) == 1 and background[0].level == "warning"
    assert "Outlook (Windows)" in background[0].message
    assert "caniemail.com" in background[0].detail


def test_css_support_is_read_from_the_newest_test_of_each_client() -> None:
    table = cssdata.from_json({"last_update_date": "2030-01-02 10:00:00 +0000", "data": [
        {"slug": "css-opacity", "title": "opacity", "url": "https://caniemail.example/opacity", "category": "css",
         "stats": {"gmail": {"desktop-webmail": {"2019": "n", "2024": "y"}},
                   "outlook": {"windows": {"2016": "y", "2019": "n #1"}}}},
        {"slug": "css-color-scheme", "title": "color-scheme", "category": "css",
         "stats": {"gmail": {"desktop-webmail": {"2024": "a #1"}}}},
    ]})
    html = '<html><body><div style="opacity:0.5; color-scheme: dark">x</div></body></html>'
    findings = check.css(html, table)
    assert [f.key for f in findings] == ["css-opacity"]  # partial support is not reported
    assert findings[0].where == "CSS opacity (css-opacity)"
    assert "Outlook (Windows)" in findings[0].message and "Gmail" not in findings[0].message
    assert "data of 2030-01-02" in findings[0].detail


def test_the_support_table_ships_with_the_package_and_its_licence() -> None:
    data = Path(cssdata.__file__).parent / "data"
    assert "MIT License" in (data / "caniemail.LICENSE").read_text(encoding="utf-8")
    raw: dict[str, Any] = json.loads((data / "caniemail.json").read_text(encoding="utf-8"))
    assert raw["last_update_date"].startswith("2026-05-13")
    assert "caniemail" in raw["source"]
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"digest.review.data" = ["caniemail.json", "caniemail.LICENSE"]' in pyproject  # installed with the package


# --- the command -----------------------------------------------------------------------------------------


def test_check_command_on_the_default_letter_exits_0_with_no_css_warning_one_line_each() -> None:
    result = CliRunner().invoke(main, ["check", "-c", str(ROOT / "sources.toml")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    findings = [line for line in lines if line.startswith(("error ", "warning "))]
    assert findings and not any(" CSS " in line for line in findings), result.output
    assert len(lines) == len(findings) + 2  # a heading, one line per finding, the summary
    assert "0 errors" in lines[-1]
    assert "accepted by digest's stock template" in lines[-1] and "/templates/" not in lines[-1]


def test_check_command_verbose_gives_details_and_the_accepted_findings() -> None:
    result = CliRunner().invoke(main, ["check", "-c", str(ROOT / "sources.toml"), "-v"])
    assert result.exit_code == 0, result.output
    assert "accepted CSS              CSS border-radius (css-border-radius)" in result.output
    assert "Outlook (Windows)" in result.output
    assert "--accept css-border-radius" in result.output  # the id to accept it, under each warning


def _user_template(tmp_path: Path, write_config: Callable[..., Path], accept: str | None) -> Path:
    """A configuration whose template folder holds a copy of the stock template (and an accept file)."""
    templates = tmp_path / "tpl"
    templates.mkdir()
    shutil.copy(ROOT / "templates" / "letter.mjml.j2", templates)
    if accept is not None:
        (templates / "check-accept.toml").write_text(accept, encoding="utf-8")
    shutil.copy(SAMPLES / "collectivites.csv", tmp_path / "collectivites.csv")
    return write_config('[[source]]\nname = "c"\nsection = "cuf"\nurl = "collectivites.csv"\n',
                        letter=_letter_table('templates = "tpl"\n'),
                        sections='[[section]]\nid = "cuf"\ntitle = "Actualités"\nwindow_days = 2000\n')


def test_a_users_template_does_not_inherit_the_stock_accepted_findings(tmp_path: Path,
                                                                       write_config: Callable[..., Path]) -> None:
    path = _user_template(tmp_path, write_config, accept=None)
    result = CliRunner().invoke(main, ["check", "-c", str(path)])
    assert "(css-border-radius)" in result.output
    accepted = CliRunner().invoke(main, ["check", "-c", str(path), "--accept", "css-border-radius"])
    assert "(css-border-radius)" not in accepted.output
    assert "(1 accepted; -v lists them)" in accepted.output


def test_a_users_template_folder_accepts_its_own_findings(tmp_path: Path, write_config: Callable[..., Path]) -> None:
    path = _user_template(tmp_path, write_config, accept='[accept]\ncss-border-radius = "coins carrés"\n')
    result = CliRunner().invoke(main, ["check", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert "(css-border-radius)" not in result.output
    assert "(css-important)" in result.output  # only what the file names
    assert str(tmp_path / "tpl" / "check-accept.toml") in result.output


def test_a_broken_accept_file_is_a_clear_error(tmp_path: Path, write_config: Callable[..., Path]) -> None:
    path = _user_template(tmp_path, write_config, accept="[accept]\ncss-border-radius = 3\n")
    result = CliRunner().invoke(main, ["check", "-c", str(path)])
    assert result.exit_code == 2, result.output
    assert "check-accept.toml" in result.output and "css-border-radius" in result.output
    assert "Traceback" not in result.output


def test_errors_are_never_accepted_and_come_first() -> None:
    from digest.review import accept

    accepted = accept.Accepted({"unsubscribe": "no", "no-date": "fine"})
    findings = check.ordered([check.Finding("warning", "no-date", "x"), check.Finding("error", "unsubscribe", "y")])
    shown, hidden = accept.split(findings, accepted)
    assert [f.check for f in shown] == ["unsubscribe"]
    assert [f.check for f in hidden] == ["no-date"]


def test_check_command_reports_a_past_event_from_data(write_config: Callable[..., Path]) -> None:
    events = [{"title": "Assemblée", "url": "https://e.org/ag", "start": "2025-12-04"},
              {"title": "Atelier", "url": "https://e.org/at", "start": "2025-11-25"}]
    path = write_config('[[source]]\nname = "events"\nsection = "agenda"\nurl = "events.json"\n',
                        files={"events.json": json.dumps(events)})
    result = CliRunner().invoke(main, ["check", "-c", str(path), "--date", "2025-11-20"])
    assert result.exit_code == 0, result.output  # the selector already leaves past events out
    assert "past event" not in result.output
    assert "section cuf" in result.output  # no news at all: the news section is reported empty
