"""The renderer: what a reader sees in the HTML and the text, French style, and the size budget."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest import config, dates, letterfolder, renderer, selector
from digest.errors import TemplateError
from digest.model import Item, Letter, Look, Section
from digest.text import NBSP, NNBSP, french
from digest.text import teaser as cut

from .conftest import LETTER_DATE, ROOT, make_item

PARIS = ZoneInfo("Europe/Paris")
TEMPLATES = (ROOT / "templates",)


def letter_of(*sections: Section, day: date = LETTER_DATE) -> Letter:
    cfg = config.load(ROOT / "sources.toml")
    return selector.make_letter(cfg, sections, day, letterfolder.web_path(day))


def news_section(*items: Item, default_image: str | None = None) -> Section:
    return Section("cuf", "Actualités CUF", "news", items, default_image)


def test_french_dates() -> None:
    assert dates.day_month_year(date(2025, 11, 19)) == f"19{NBSP}novembre{NBSP}2025"
    assert dates.day_month_year(date(2021, 3, 1)) == f"1er{NBSP}mars{NBSP}2021"
    assert dates.month_year(date(2025, 11, 20)) == f"novembre{NBSP}2025"
    assert dates.badge(date(2026, 3, 26)) == ("26", "mars")
    assert dates.badge(date(2026, 4, 29)) == ("29", "avr")


def test_french_typography() -> None:
    assert french("Nouveau : les Décryptages !") == f"Nouveau{NBSP}: les Décryptages{NNBSP}!"
    assert french("Vraiment? Oui; « non »") == f"Vraiment{NNBSP}? Oui{NNBSP}; «{NBSP}non{NBSP}»"
    assert french("à 10:00, voir https://e.org") == "à 10:00, voir https://e.org"  # no space added inside
    assert french("le 4 décembre 2025 et le 1er mars") == f"le 4{NBSP}décembre{NBSP}2025 et le 1er{NBSP}mars"


def test_news_item_reads_like_the_lettre_de_cuf() -> None:
    item = make_item("Nouveau à Cités Unies France : les Décryptages !", date=datetime(2021, 3, 1, 9, tzinfo=PARIS),
                     place="à Paris", summary="Un nouveau rendez-vous…", url="https://cites-unies-france.org/x",
                     image="https://cites-unies-france.org/logo.jpg")
    out = renderer.render(letter_of(news_section(item)), TEMPLATES)
    html = out.html
    assert html.startswith("<!doctype html>")
    assert '<html lang="fr"' in html
    assert "<title>La Lettre de CUF – novembre 2025</title>" in html
    assert f"novembre{NBSP}2025" in html  # the month in the header
    assert f"Le{NBSP}1er{NBSP}mars{NBSP}2021" in html
    assert '<a href="https://cites-unies-france.org/x"' in html and "En savoir plus" in html
    assert f"Cités Unies France{NBSP}: les Décryptages{NNBSP}!" in html
    assert "à Paris" in html and "Un nouveau rendez-vous…" in html
    assert 'content="light dark"' in html and 'name="supported-color-schemes"' in html
    assert "Se désinscrire" in html and "https://cites-unies-france.org/lettre/desinscription" in html
    assert "https://cites-unies-france.org/lettre/2025-11-20/letter.html" in html  # view in browser
    assert "fonts.googleapis" not in html  # no web font request from the reader's client


def test_every_thumbnail_is_decorative_with_a_fixed_box_and_default_image_is_used() -> None:
    with_image = make_item("Avec image", image="https://e.org/a.jpg", date=datetime(2025, 11, 19, tzinfo=PARIS))
    without = make_item("Sans image", date=datetime(2025, 11, 18, tzinfo=PARIS))
    out = renderer.render(letter_of(news_section(with_image, without, default_image="https://e.org/def.png")),
                          TEMPLATES)
    images = re.findall(r"<img\b[^>]*>", out.html)
    assert len(images) == 2
    assert all('alt=""' in tag for tag in images)  # the title is beside it: the picture only decorates
    assert all('width="96"' in tag and 'height="64"' in tag for tag in images)
    assert "https://e.org/def.png" in out.html


def test_agenda_badge_and_when() -> None:
    event = make_item("Réunion du groupe-pays Maroc", start=datetime(2026, 3, 30, 14, tzinfo=PARIS),
                      end=datetime(2026, 3, 30, 16, 30, tzinfo=PARIS), place="Paris")
    multi = make_item("Fonds Turquie", start=datetime(2025, 11, 12, tzinfo=PARIS),
                      end=datetime(2025, 11, 15, tzinfo=PARIS), all_day=True)
    out = renderer.render(letter_of(Section("agenda", "Agenda", "agenda", (multi, event))), TEMPLATES)
    assert "<b style=\"font-size:20px\">30</b><br>mars" in out.html
    assert f"lundi 30{NBSP}mars{NBSP}2026, 14{NBSP}h{NBSP}00{NBSP}–{NBSP}16{NBSP}h{NBSP}30" in out.text
    assert f"du{NBSP}12 au{NBSP}15{NBSP}novembre{NBSP}2025" in out.text


def test_source_text_is_escaped_never_markup() -> None:
    item = make_item('<img src=x onerror=alert(1)> & "quotes"', summary="<b>bold</b> 5 < 6",
                     date=datetime(2025, 11, 19, tzinfo=PARIS))
    out = renderer.render(letter_of(news_section(item)), TEMPLATES)
    assert "<img src=x" not in out.html and "<b>bold</b>" not in out.html
    assert "&lt;img src=x onerror=alert(1)&gt; &amp;" in out.html
    assert '<img src=x onerror=alert(1)> & "quotes"' in out.text  # the text version is not HTML


def test_preheader_and_subject() -> None:
    items = [make_item(f"Titre numéro {i} assez long pour remplir l’aperçu",
                       date=datetime(2025, 11, 19 - i, tzinfo=PARIS)) for i in range(5)]
    out = renderer.render(letter_of(news_section(*items)), TEMPLATES)
    assert out.subject == "La Lettre de CUF – novembre 2025"
    assert out.preheader.startswith("Titre numéro 0") and len(out.preheader) <= renderer.PREHEADER_LENGTH
    assert out.preheader in out.html


def test_text_version_has_every_item_and_link() -> None:
    items = [make_item(f"Actualité {i}", url=f"https://e.org/{i}", date=datetime(2025, 11, 10 + i, tzinfo=PARIS))
             for i in range(3)]
    out = renderer.render(letter_of(news_section(*items)), TEMPLATES)
    for i in range(3):
        assert f"Actualité {i}" in out.text and f"En savoir plus : https://e.org/{i}" in out.text
    assert "Se désinscrire : https://cites-unies-france.org/lettre/desinscription" in out.text
    assert "\n\n\n" not in out.text and "<b" not in out.text


def full_month() -> Letter:
    """A heavy month: 40 CUF news with pictures and full teasers, 15 member news, 10 events, 5 briefs."""
    teaser = ("La Dynamique Amérique Latine et Caraïbes (DALC), portée par sa présidente, a récemment pris part "
              "à deux temps majeurs de coopération internationale, illustrant la place centrale des collectivités "
              "territoriales dans la construction de partenariats durables entre les territoires (…)")
    def news(n: int, prefix: str) -> tuple[Item, ...]:
        title = "retour sur la mission de la présidente en Colombie, novembre 2025"
        return tuple(make_item(f"{prefix} {i} : {title}",
                               url=f"https://cites-unies-france.org/retour-sur-la-mission-{prefix}-{i}-colombie",
                               image=f"https://cites-unies-france.org/local/cache-vignettes/L150xH100/arton{i}.jpg",
                               summary=cut(teaser, 220), place="à Paris",
                               date=datetime(2025, 11, 1 + i % 19, tzinfo=PARIS))
                     for i in range(n))
    agenda = tuple(make_item(f"Réunion du groupe-pays n°{i}", url=f"https://cites-unies-france.org/agenda-{i}",
                             start=datetime(2026, 1, 1 + i, 14, tzinfo=PARIS),
                             end=datetime(2026, 1, 1 + i, 16, tzinfo=PARIS), place="Cités Unies France, Paris")
                   for i in range(10))
    return letter_of(Section("cuf", "Actualités CUF", "news", news(40, "CUF")),
                     Section("agenda", "Agenda", "agenda", agenda),
                     Section("collectivites", "Actualités des collectivités", "news", news(15, "Membre")),
                     Section("breves", "En bref", "news", news(5, "Brève")))


BRANDED = Look(header="#2d1e5f", accent="#b3261e", link="#0b57d0", button="#0b57d0", accent_dark="#ffb4ab",
               link_dark="#a8c7fa", logo="https://cites-unies-france.org/lettre/2025-11-20/logo.png",
               logo_dark="https://cites-unies-france.org/lettre/2025-11-20/logo-dark.png",
               logo_alt="Cités Unies France", logo_width=200, logo_height=67)


@pytest.mark.parametrize("look", [Look(), BRANDED], ids=["stock", "logo-and-colours"])
def test_a_full_month_fits_under_gmails_clipping_with_room_to_spare(look: Look) -> None:
    out = renderer.render(replace(full_month(), look=look), TEMPLATES)
    size = len(out.html.encode("utf-8"))
    assert size < renderer.WARN_BYTES, f"{size / 1024:.0f} KB"
    assert renderer.size_problem(out.html) is None


def test_size_warnings() -> None:
    near, past = renderer.size_problem("x" * (91 * 1024)), renderer.size_problem("x" * (103 * 1024))
    assert near is not None and near.level == "warning" and "near Gmail's" in near.problem.message
    assert past is not None and past.level == "error" and "Gmail clips" in past.problem.message


def test_template_errors_name_the_file_and_line(tmp_path: Path) -> None:
    for name in ("letter.mjml.j2", "letter.txt.j2"):
        (tmp_path / name).write_text((TEMPLATES[0] / name).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "letter.txt.j2").write_text("line one\n{{ letter.title }\n", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"letter.txt.j2, line 2: "):
        renderer.render(letter_of(news_section(make_item())), (tmp_path,))
    (tmp_path / "letter.txt.j2").write_text("{{ letter.nonexistent }}", encoding="utf-8")
    with pytest.raises(TemplateError, match="nonexistent"):
        renderer.render(letter_of(news_section(make_item())), (tmp_path,))


def test_mjml_errors_become_template_errors(tmp_path: Path) -> None:
    (tmp_path / "letter.txt.j2").write_text("x", encoding="utf-8")
    (tmp_path / "letter.mjml.j2").write_text("<mjml><mj-body><mj-text>{{ '<' | safe }}</mjml>",
                                             encoding="utf-8")
    with pytest.raises(TemplateError, match="does not parse"):
        renderer.render(letter_of(news_section(make_item())), (tmp_path,))


RENDER_TEXT = """
import sys
from pathlib import Path
from tests.test_renderer import letter_of, news_section
from tests.conftest import make_item
from digest import renderer
print(renderer.render(letter_of(news_section(make_item())), (Path(sys.argv[1]),)).text)
"""


def test_compiled_templates_are_kept_in_the_users_cache_by_content(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Templates are compiled once and kept under $XDG_CACHE_HOME/digest, never in the project; an edited
    template is seen at once, in this process and in the next (the cache goes by the template's text)."""
    cache, templates = tmp_path / "cache", tmp_path / "project" / "templates"
    templates.mkdir(parents=True)
    for name in ("letter.mjml.j2", "letter.txt.j2"):
        (templates / name).write_text((TEMPLATES[0] / name).read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    letter = letter_of(news_section(make_item()))
    assert "Fin de l'édition" not in renderer.render(letter, (templates,)).text
    kept = sorted(cache.glob("digest/templates/*"))
    assert len(kept) == 2 and sorted(p.name for p in templates.parent.rglob("*")) == [
        "letter.mjml.j2", "letter.txt.j2", "templates"]
    with (templates / "letter.txt.j2").open("a", encoding="utf-8") as stream:
        stream.write("Fin de l'édition\n")
    assert "Fin de l'édition" in renderer.render(letter, (templates,)).text
    with (templates / "letter.txt.j2").open("a", encoding="utf-8") as stream:
        stream.write("Fin, deuxième\n")
    result = subprocess.run([sys.executable, "-c", RENDER_TEXT, str(templates)], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env={**os.environ, "XDG_CACHE_HOME": str(cache)}, check=True)
    assert "Fin de l'édition\nFin, deuxième" in result.stdout
    assert sorted(cache.glob("digest/templates/*")) == kept  # the same two entries, rewritten, nothing else


def test_a_cache_folder_that_cannot_be_written_costs_only_time(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "not-a-folder").write_text("", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "not-a-folder"))
    assert "Une actualité" in renderer.render(letter_of(news_section(make_item())), TEMPLATES).text


REMOTE_CSS = """
import sys, threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from tests.test_renderer import TEMPLATES, letter_of, news_section
from tests.conftest import make_item
from digest import renderer
renderer.render(letter_of(news_section(make_item())), TEMPLATES)
print("requests loaded by the render:", "requests" in sys.modules)
from premailer import Premailer
server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=sys.argv[1]))
threading.Thread(target=server.serve_forever, daemon=True).start()
link = f'<link rel="stylesheet" href="http://127.0.0.1:{server.server_address[1]}/remote.css">'
print(Premailer(f"<html><head>{link}</head><body><p>x</p></body></html>", allow_network=True).transform())
"""


def test_premailer_imported_without_requests_still_reads_remote_css(tmp_path: Path) -> None:
    """A render does not load `requests` (premailer needs it only for remote CSS, which a letter never has),
    yet premailer, imported so, still fetches a remote stylesheet with it when asked to."""
    (tmp_path / "remote.css").write_text("p { color: #123456 }", encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    result = subprocess.run([sys.executable, "-c", REMOTE_CSS, str(tmp_path)], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env=env, check=True)
    assert "requests loaded by the render: False" in result.stdout
    assert 'style="color:#123456"' in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("locale", ["fr", "fr_FR", "en", "en_US", "en_GB", "es"])
def test_the_calendar_words_are_babels_whether_digest_holds_them_or_asks_babel(locale: str) -> None:
    """French and English dates are written from digest's own tables (no locale data to load); they must say
    exactly what Babel (CLDR) says, and any other language is Babel's."""
    from babel.dates import format_date

    from digest import dates

    for day in (date(2025, 1, 1) + timedelta(days=n) for n in range(0, 365, 5)):
        assert dates.month_year(day, locale).replace("\u00a0", " ") == format_date(day, "MMMM y", locale=locale)
        assert dates.badge(day, locale)[1] == format_date(day, "MMM", locale=locale).rstrip(".")
        assert dates.weekday(day, locale) == format_date(day, "EEEE", locale=locale)
        written = format_date(day, "d MMMM y", locale=locale)
        expected = "1er" + written[1:] if locale.startswith("fr") and day.day == 1 else written
        assert dates.day_month_year(day, locale).replace("\u00a0", " ") == expected


def test_a_full_months_members_edition_fits_too() -> None:
    """Member news and briefs for members only: the members' edition carries everything, under the same line."""
    month = full_month()
    month = replace(month, sections=tuple(
        replace(s, items=tuple(replace(i, audience="members") for i in s.items)) if s.id in ("collectivites", "breves")
        else s for s in month.sections))
    public, members = (renderer.render(edition, TEMPLATES) for edition in (month.public(), month.members()))
    assert len(members.html.encode("utf-8")) < renderer.WARN_BYTES
    assert "Membre 3" not in public.html and "Membre 3" in members.html
    assert "Édition adhérents" in members.html and "Édition adhérents" not in public.html
