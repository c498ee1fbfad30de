"""The desk, second pass: what a change says appears next to the control that made it, the add form empties and
a second identical add is refused, the view buttons keep to one line, the editorial's first save adds no blank
line, and an event moved into a news section keeps its date. In Chromium, as the team uses it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests import test_browser
from tests.conftest import plain
from tests.preview_support import make_site, running, with_issue
from tests.test_browser import SENEGAL_TITLE, WAIT_MS, card, issue_data, open_desk, settled, wait_file

pytestmark = pytest.mark.usefixtures("french")  # the desk speaks the team's language
browser, page = test_browser.browser, test_browser.page  # Chromium, and a page that reaches 127.0.0.1 only


def test_adding_an_article_empties_and_closes_the_form_and_the_same_again_is_refused(page: Any,
                                                                                       tmp_path: Path) -> None:
    from playwright.sync_api import expect

    issue = with_issue(tmp_path)
    with running(make_site(tmp_path)) as (_session, server):
        open_desk(page, server)
        opener = page.get_by_role("button", name="Ajouter un article")
        form = page.locator("#add-form")

        def add() -> None:
            opener.click()
            form.get_by_label("Rubrique").select_option("breves")
            form.get_by_label("Titre").fill("Assemblée générale 2026")
            form.get_by_label("Adresse (lien)").fill("https://cites-unies-france.org/ag-2026")
            form.get_by_role("button", name="Ajouter").click()

        add()
        wait_file(page, issue, lambda d: len(d.get("item", [])) == 1)
        expect(form).to_be_hidden()
        assert opener.get_attribute("aria-expanded") == "false"
        opener.click()
        assert form.get_by_label("Titre").input_value() == ""
        assert form.get_by_label("Adresse (lien)").input_value() == ""
        opener.click()  # closed again, then the same article a second time
        add()
        said = page.locator("#add-form ~ p.said, button[aria-controls='add-form'] + p.said")
        expect(said).to_contain_text("déjà dans le fichier du numéro", timeout=WAIT_MS)
        assert said.get_attribute("role") == "alert"
        settled(page, issue)
        assert len(issue_data(issue)["item"]) == 1  # not written twice


def test_a_change_is_confirmed_next_to_the_control_that_made_it(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    issue = with_issue(tmp_path)
    with running(make_site(tmp_path)) as (_session, server):
        open_desk(page, server)
        card(page, SENEGAL_TITLE).get_by_role("button", name="Exclure").click()
        wait_file(page, issue, lambda d: len(d.get("exclude", [])) == 1)
        near = card(page, SENEGAL_TITLE).locator("p.said")
        expect(near).to_have_text("Enregistré.", timeout=WAIT_MS)
        assert near.get_attribute("role") == "status"  # a live region: a screen reader says it too
        expect(page.locator("#message")).to_have_text("Enregistré.")  # and the top of the page


def test_the_view_buttons_keep_to_one_line_at_1400_px(browser: Any, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page_ = context.new_page()
    try:
        with running(make_site(tmp_path)) as (_session, server):
            open_desk(page_, server)
            heights = page_.evaluate("() => [...document.querySelectorAll('.views button')]"
                                     ".map(b => [b.textContent, b.getBoundingClientRect().height])")
        assert {round(h) for _text, h in heights} == {round(heights[0][1])}, heights  # Texte as high as the rest
        assert any(text == "Texte" for text, _h in heights)
    finally:
        context.close()


def test_the_editorials_first_save_adds_no_blank_line(page: Any, tmp_path: Path) -> None:
    issue = with_issue(tmp_path)
    text = issue.read_text(encoding="utf-8")
    start = text.index("[editorial]")
    issue.write_text(text[:start], encoding="utf-8")  # an issue file with no editorial yet
    with running(make_site(tmp_path)) as (_session, server):
        open_desk(page, server)
        page.get_by_label("Édito", exact=True).fill("Chers lecteurs,\n\nBonne lecture.")
        data = wait_file(page, issue, lambda d: "editorial" in d, seconds=3)
        assert data["editorial"]["text"] == "Chers lecteurs,\n\nBonne lecture."
        page.locator("#subject").focus()  # the editorial field loses the focus: the page shows the file's text
        page.reload()
        assert page.get_by_label("Édito", exact=True).input_value() == "Chers lecteurs,\n\nBonne lecture."


def test_an_event_moved_into_a_news_section_keeps_its_date(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    issue = with_issue(tmp_path)
    with running(make_site(tmp_path)) as (session, server):
        built = session.snapshot.built
        assert built is not None
        agenda = next(s for s in built.letter.sections if s.kind == "agenda")
        event = agenda.items[0]
        text = session.snapshot.text
        above_title = text[:text.index(event.title)].rstrip().splitlines()[-2:]  # its date, then its place
        when = next(line for line in above_title if any(ch.isdigit() for ch in line))
        open_desk(page, server)
        item = page.locator("li.card").filter(has=page.locator("h4", has_text=event.title)).first
        item.get_by_role("button", name="Modifier").click()
        item.get_by_label("Rubrique").select_option("breves")
        item.get_by_role("button", name="Enregistrer").click()
        wait_file(page, issue, lambda d: any(o.get("section") == "breves" for o in d.get("override", [])))
        expect(page.locator("#section-breves")).to_contain_text(event.title, timeout=WAIT_MS)
        moved = session.snapshot.text
        breves = moved[moved.index("EN BREF"):]
        assert event.title in breves
        above = breves[:breves.index(event.title)].rstrip().splitlines()[-1]
        assert plain(above) == plain(when)  # the same date, now in the news section
