"""The desk and the pages subscribers reach, in the pseudo-language: every word on them comes from the catalogue
or from what a person wrote; and the desk's French/English switch, remembered in a cookie."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import lxml.html
import pytest

from digest import i18n
from digest.mail import links
from tests import test_browser
from tests.conftest import LETTER_DATE, plain
from tests.preview_support import cookie_for, make_site, running
from tests.send_support import LONG_UNSUBSCRIBE, SECRET, config_text
from tests.test_browser import open_desk

browser, page = test_browser.browser, test_browser.page  # Chromium, and a page that reaches 127.0.0.1 only
TECHNICAL = {"digest", "issues", "toml", "sources", "look", "logo", "Markdown", "WCAG", "AA", "https", "KB", "ms",
             "fr", "en", "Français", "English"}  # names, and each language's own name on the switch


@pytest.fixture
def pseudo() -> Iterator[None]:
    i18n.use(i18n.PSEUDO)
    yield
    i18n.use("en")


def unmarked(texts: list[str], written: list[str]) -> list[str]:
    """The words of `texts` outside ⟦ ⟧ that are neither what a person wrote nor a name."""
    left = []
    written = [plain(w) for w in written] + [plain(w)[:59] for w in written]  # a report shortens titles
    for text in map(plain, texts):
        while re.search(r"⟦[^⟦⟧]*⟧", text):
            text = re.sub(r"⟦[^⟦⟧]*⟧", " ", text)
        for words in sorted(written, key=len, reverse=True):
            text = text.replace(words, " ")
        text = re.sub(r"\S*[/@=_:.<>\[\]'\"`“”«»#*-]\S*|\S*\d\S*", " ", text)
        left += [w for w in re.findall(r"[A-Za-zÀ-ÿ]{2,}", text) if w not in TECHNICAL and not w.isupper()]
    return left


def _written(session: Any) -> list[str]:
    """Everything on the desk that comes from the letter's sources and files: its words, every candidate item."""
    from digest.review import deskview

    snapshot, cfg = session.snapshot, session.config
    found = [cfg.letter.title, snapshot.subject, snapshot.preheader, cfg.letter.sender, "Cités Unies France",
             *(s.title for s in cfg.sections)]
    featured, groups = deskview.groups(cfg, snapshot)
    for card in [*featured, *(c for g in groups for c in (*g.shown, *g.left_out))]:
        found += [card.item.title, card.item.summary or "", card.item.place or "", card.item.source, card.reason]
    return [f for f in found if f]


@pytest.mark.usefixtures("pseudo")
def test_the_desk_in_the_pseudo_language_holds_no_word_outside_the_catalogue(page: Any, tmp_path: Path) -> None:
    with running(make_site(tmp_path)) as (session, server):
        open_desk(page, server)
        page.wait_for_selector("#subject")
        texts = [page.inner_text("body"), *page.evaluate(
            "() => [...document.querySelectorAll('[aria-label], [title], [placeholder]')].flatMap(e => "
            "[e.getAttribute('aria-label'), e.getAttribute('title'), e.getAttribute('placeholder')])"
            ".filter(Boolean)")]
        assert "⟦" in texts[0]
        assert unmarked(texts, _written(session)) == []


def test_the_desk_switches_to_english_and_remembers_it(tmp_path: Path) -> None:
    with running(make_site(tmp_path)) as (_session, server):
        headers = cookie_for(server.url)
        home = httpx.get(server.url, headers=headers, timeout=10).text
        assert '<html lang="en">' in home  # the process's language (the tests speak English)
        token = re.search(r'name="csrf-token" content="([^"]+)"', home)
        assert token
        switched = httpx.post(server.url + "language", data={"token": token.group(1), "lang": "fr"},
                              headers={**headers, "Origin": server.url.removesuffix(server.desk.prefix)}, timeout=10)
        assert switched.status_code == 303 and "digest_lang=fr" in switched.headers["set-cookie"]
        assert "Max-Age" in switched.headers["set-cookie"] and "HttpOnly" in switched.headers["set-cookie"]
        with_choice = {"Cookie": headers["Cookie"] + "; digest_lang=fr"}
        page_fr = httpx.get(server.url, headers=with_choice, timeout=10).text
        assert '<html lang="fr">' in page_fr and "La rédaction de la lettre" in page_fr
        state = httpx.get(server.url + "state", headers=with_choice, timeout=10).json()
        assert "aucun problème" in state["parts"]["status"] or "avertissement" in state["parts"]["status"]
        forged = httpx.post(server.url + "language", data={"token": "nope", "lang": "fr"},
                            headers={**headers, "Origin": server.url.removesuffix(server.desk.prefix)}, timeout=10)
        assert forged.status_code == 403 and "set-cookie" not in forged.headers  # a GET or a forged post: no change


def test_the_switch_is_a_button_on_the_page(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with running(make_site(tmp_path)) as (_session, server):
        open_desk(page, server)
        page.get_by_role("button", name="Français").click()
        expect(page.locator("h1")).to_have_text("La rédaction de la lettre")
        page.reload()
        expect(page.locator("h1")).to_have_text("La rédaction de la lettre")  # remembered
        page.get_by_role("button", name="English").click()
        expect(page.locator("h1")).to_have_text("The letter's desk")


# --- the pages subscribers reach --------------------------------------------------------------------------------


@pytest.fixture
def pages(tmp_path: Path) -> Iterator[tuple[Any, dict[str, str]]]:
    """`digest serve`'s application for a letter whose language is the pseudo-language, and what to ask it."""
    from digest.web import public

    text = config_text(25).replace('language = "fr"', 'language = "qps"')
    assert 'language = "qps"' in text
    text += ('\n[subscribe]\nurl = "https://cites-unies-france.org/lettre/inscription"\n'
             'privacy_url = "https://cites-unies-france.org/confidentialite"\n'
             '\n[contribute]\nurl = "https://cites-unies-france.org/lettre/contribuer"\nsection = "collectivites"\n')
    (tmp_path / "sources.toml").write_text(text, encoding="utf-8")
    settings = public.settings_from(tmp_path / "sources.toml", None)
    link = links.unsubscribe_link(LONG_UNSUBSCRIBE, SECRET.encode(), "anne@example.org", settings.list_id,
                                        LETTER_DATE)
    yield public.app(settings), {"link": link.removeprefix("https://cites-unies-france.org"),
                                 "title": settings.title,
                                 "consent": settings.joining.consent if settings.joining else ""}


def _page_texts(html: str) -> list[str]:
    tree = lxml.html.fromstring(html)
    for style in tree.iter("style", "script"):
        style.drop_tree()
    return [tree.text_content(), *(v for e in tree.iter() if isinstance(e.tag, str)
                                   for k, v in e.attrib.items() if k in ("aria-label", "title", "placeholder"))]


@pytest.mark.usefixtures("secret")
def test_the_pages_subscribers_reach_speak_the_letters_language(pages: tuple[Any, dict[str, str]]) -> None:
    import anyio

    app, found = pages
    written = [found["title"], found["consent"], "a***e@e***e.org", "pas une adresse"]  # the team's, the reader's

    async def ask() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://cites-unies-france.org") as client:
            return [
                await client.get(found["link"]),  # the unsubscribe page
                await client.post(found["link"], data={"action": "unsubscribe"}),  # done, with the way back
                await client.get("/lettre/desinscription?t=abc"),  # a bad link
                await client.get("/lettre/inscription"),  # the subscribe form
                await client.post("/lettre/inscription", data={"email": "pas une adresse", "consentement": "oui"}),
                await client.post("/lettre/inscription", data={"email": "x@example.org", "site_web": "robot"}),
                await client.get("/lettre/inscription?c=1.abc"),  # a spent confirmation link
                await client.get("/nulle-part"),  # not found
                await client.get("/lettre/contribuer"),  # the contribution form
                await client.post("/lettre/contribuer", data={"email": "x@example.org", "titre": "T"},
                                  files={"photo": ("p.jpg", b"not a photo", "image/jpeg")}),  # refused, said why
                await client.get("/lettre/contribuer?c=1.abc"),  # a spent confirmation link
            ]

    with ThreadPoolExecutor(1) as thread:  # a thread of its own: Playwright's loop runs in this one
        answers = thread.submit(anyio.run, ask).result()
    for answer in answers:
        assert '<html lang="qps">' in answer.text
        assert "⟦" in answer.text and unmarked(_page_texts(answer.text), written) == [], answer.text


@pytest.mark.usefixtures("pseudo")
def test_the_desk_with_no_letter_in_the_pseudo_language_holds_no_word_outside_the_catalogue(
        page: Any, tmp_path: Path) -> None:
    """No source has an item yet: the page the team meets then (the build's error, no letter) is in the catalogue
    too."""
    path = make_site(tmp_path)
    (tmp_path / "vide.csv").write_text("title;url;date;summary\n", encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    text = text[:text.index("[[source]]")] + '[[source]]\nname = "vide"\nsection = "cuf"\nurl = "vide.csv"\n\n' + \
        text[text.index("# Sending"):]
    path.write_text(text, encoding="utf-8")
    with running(path) as (session, server):
        open_desk(page, server)
        page.wait_for_selector("#subject")
        said = page.inner_text("body")
        assert "⟦" in said and not session.snapshot.built.letter.items  # type: ignore[union-attr]
        assert page.is_hidden(".inbox .pre")  # no preview text: the inbox line ends with the subject, no dash
        assert unmarked([said], [*_written(session), "vide"]) == []
