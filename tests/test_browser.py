"""The editorial desk and the web version in a real browser: Debian's Chromium driven by Playwright.

Screenshots are saved under test-artifacts/ (git-ignored). Without Chromium these tests fail when CI is set
and are skipped otherwise, each time with the command that installs it.
"""

from __future__ import annotations

import importlib.util
import re
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from digest import config, pipeline
from digest.review import desk
from tests import programs
from tests.conftest import LETTER_DATE, ROOT
from tests.preview_support import edit, make_site, running, with_issue

pytestmark = pytest.mark.usefixtures("french")  # the desk and the pages speak the team's language

CHROMIUM = programs.chromium() or Path("/usr/bin/chromium")  # DIGEST_CHROMIUM, else `chromium` on PATH
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
ARTIFACTS = ROOT / "test-artifacts"
TITLE_LINE = "{{ letter.title }}{% endif %}</h1>"
FIRST_ITEM = "Retour sur la mission de la présidente"
WAIT_MS = 8000  # the longest wait for a rebuild to reach the page (it takes well under a second)


def require_browser(chromium: Path, ci: bool | None = None) -> None:
    """Fail (on CI) or skip (elsewhere) with how to install what is missing."""
    if importlib.util.find_spec("playwright") is None:
        programs.unavailable("Playwright's Python package is missing: run `pip install -e '.[test]'`.", ci)
    if not chromium.is_file():
        programs.unavailable(f"{programs.not_installed(f'Chromium ({chromium})', 'chromium')} "
                             "Or set DIGEST_CHROMIUM to its path.", ci)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_browser(CHROMIUM)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page that may reach 127.0.0.1 and files only: the letter's remote images are not fetched."""
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    context.route("**/*", lambda route: route.continue_()
                  if route.request.url.startswith(("http://127.0.0.1", "file://")) else route.abort())
    opened = context.new_page()
    yield opened
    context.close()


def open_desk(page: Any, server: desk.Running) -> None:
    """Open the desk as its user does: the URL `digest preview` prints, with its one-time key."""
    page.goto(server.login_url())
    page.wait_for_url(server.url)  # forwarded to the plain URL: the key leaves the address bar


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def frame(page: Any, frame_id: str) -> Any:
    return page.frame_locator(f"#{frame_id}").locator("body")


@pytest.fixture(scope="module")
def shared_preview(tmp_path_factory: pytest.TempPathFactory) -> Iterator[desk.Running]:
    with running(make_site(tmp_path_factory.mktemp("site"))) as (_session, server):
        yield server


def test_missing_chromium_fails_on_ci_and_skips_elsewhere_saying_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y --no-install-recommends chromium"):
        require_browser(tmp_path / "no-chromium", ci=True)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y --no-install-recommends chromium"):
        require_browser(tmp_path / "no-chromium", ci=False)


def test_the_page_loads_and_every_frame_shows_the_letter(page: Any, shared_preview: desk.Running) -> None:
    from playwright.sync_api import expect

    open_desk(page, shared_preview)
    expect(page).to_have_title("Rédaction · La Lettre de CUF – novembre 2025")
    expect(frame(page, "desktop-frame")).to_contain_text("La Lettre de CUF")
    expect(frame(page, "desktop-frame")).to_contain_text(FIRST_ITEM)
    assert page.locator("#desktop-frame").bounding_box()["width"] >= 600
    # The other views' frames are made when first shown, each with the letter on show.
    assert page.locator("#phone-frame, #dark-frame, #text-frame").count() == 0
    for view, frame_id in (("Téléphone 375", "phone-frame"), ("Mode sombre", "dark-frame")):
        page.get_by_role("button", name=view).click()
        expect(frame(page, frame_id)).to_contain_text("La Lettre de CUF")
        expect(frame(page, frame_id)).to_contain_text(FIRST_ITEM)
        expect(page.locator("#desktop-frame")).to_be_hidden()
    page.get_by_role("button", name="Texte").click()
    expect(frame(page, "text-frame")).to_contain_text("LA LETTRE DE CUF")
    expect(page.locator(".inbox.desktop .subject")).to_have_text("La Lettre de CUF – novembre 2025")
    expect(page.locator("#report")).to_contain_text("sans date")  # the undated briefs; accepted CSS findings stay out
    expect(page.locator("#report")).not_to_contain_text("css-border-radius")
    page.get_by_role("button", name="Téléphone 375").click()
    assert page.locator("#phone-frame").bounding_box()["width"] <= 380
    shot(page, "preview-page.png")


@pytest.mark.parametrize("width", [320, 375])
def test_the_phone_frame_has_no_horizontal_scroll(page: Any, shared_preview: desk.Running,
                                                  width: int) -> None:
    from playwright.sync_api import expect

    open_desk(page, shared_preview)
    page.click(f"button[data-width='{width}']")
    phone = page.locator("#phone-frame")
    expect(phone).to_have_attribute("width", str(width))
    expect(frame(page, "phone-frame")).to_contain_text(FIRST_ITEM)
    inner = phone.element_handle().content_frame()
    page.wait_for_function("w => document.querySelector('#phone-frame').contentWindow.innerWidth === w", arg=width)
    scroll_width, client_width = inner.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert client_width == width
    assert scroll_width <= client_width, f"the letter is {scroll_width} px wide in a {width} px phone"
    ARTIFACTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / f"phone-{width}.png"))


def test_editing_a_template_updates_the_open_page_then_an_error_keeps_the_letter(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    template = tmp_path / "templates" / "letter.mjml.j2"
    with running(make_site(tmp_path)) as (_session, server):
        open_desk(page, server)
        expect(frame(page, "desktop-frame")).to_contain_text(FIRST_ITEM)
        edit(template, TITLE_LINE, "{{ letter.title }} · ÉDITION TEST{% endif %}</h1>")
        # No page.reload(): the server-sent event must make the page reload by itself.
        expect(frame(page, "desktop-frame")).to_contain_text("ÉDITION TEST", timeout=WAIT_MS)
        page.get_by_role("button", name="Téléphone 375").click()  # a hidden frame loads the new letter when shown
        expect(frame(page, "phone-frame")).to_contain_text("ÉDITION TEST")
        page.get_by_role("button", name="Ordinateur").click()
        shot(page, "preview-after-edit.png")

        # a Jinja syntax error
        edit(template, "ÉDITION TEST{% endif %}</h1>", "ÉDITION TEST{% endif %}</h1>{% endfor %}")
        expect(page.locator(".build-error")).to_be_visible(timeout=WAIT_MS)
        expect(page.locator(".build-error")).to_contain_text("letter.mjml.j2")
        expect(page.locator(".build-error")).to_contain_text("ligne")
        expect(frame(page, "desktop-frame")).to_contain_text("ÉDITION TEST")  # the last good letter stays
        expect(frame(page, "phone-frame")).to_contain_text(FIRST_ITEM)
        shot(page, "preview-template-error.png")

        edit(template, "{% endfor %}", "")
        expect(page.locator(".build-error")).to_have_count(0, timeout=WAIT_MS)


class QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def built_outbox(tmp_path: Path) -> Path:
    out = tmp_path / "outbox"
    # In a thread: Playwright's sync API runs an event loop in this one, and a build may run its own.
    worker = threading.Thread(target=pipeline.build, args=(config.load(ROOT / "sources.toml"), LETTER_DATE, out),
                              kwargs={"include_sent": True})
    worker.start()
    worker.join()
    assert (out / "index.html").is_file()
    return out


def test_the_web_version_works_opened_as_a_file(page: Any, built_outbox: Path) -> None:
    from playwright.sync_api import expect

    page.goto((built_outbox / "index.html").as_uri())
    page.click("text=La Lettre de CUF – novembre 2025")
    expect(page).to_have_url((built_outbox / "2025-11-20" / "letter.html").as_uri())
    expect(page.locator("body")).to_contain_text(FIRST_ITEM)
    assert page.evaluate("document.compatMode") == "CSS1Compat"  # standards mode: the doctype is there
    shot(page, "web-version-file.png")


def test_the_web_version_works_served_over_http(page: Any, built_outbox: Path) -> None:
    from playwright.sync_api import expect

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietFiles, directory=str(built_outbox)))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        page.goto(base)
        page.click("text=La Lettre de CUF – novembre 2025")
        expect(page).to_have_url(base + "2025-11-20/letter.html")
        expect(page.locator("body")).to_contain_text(FIRST_ITEM)
        expect(page.locator("body")).to_contain_text("Se désinscrire")
        assert page.evaluate("document.characterSet") == "UTF-8"
        assert page.evaluate("document.compatMode") == "CSS1Compat"
    finally:
        server.shutdown()
        server.server_close()


# --- the editorial desk: each action clicked, the issue file checked after it ------------------------------

VIETNAM = "https://cites-unies-france.org/intemperies-dans-le-centre-du-vietnam-ouverture-d-un-fonds-de-solidarite-des"
SENEGAL = "https://cites-unies-france.org/atelier-du-groupe-pays-senegal-le-19-novembre-2025"
SENEGAL_TITLE = "Atelier du groupe-pays Sénégal"
VIETNAM_TITLE = "Intempéries dans le centre du Vietnam"
COMMENT = "# Items left out of this letter."  # a comment of the issue file that every change must keep
SAVE_SECONDS = 1.0  # every change is on disk within a second


def issue_data(path: Path) -> dict[str, Any]:
    import tomllib

    return tomllib.loads(path.read_text(encoding="utf-8"))


def wait_file(page: Any, path: Path, condition: Any, seconds: float = SAVE_SECONDS) -> dict[str, Any]:
    """The issue file's data once `condition(data)` holds, within `seconds`; its comment is still there."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        data = issue_data(path)
        if condition(data):
            assert COMMENT in path.read_text(encoding="utf-8")
            settled(page, path)
            return data
        assert time.monotonic() < deadline, f"not written within {seconds} s: {data}"
        page.wait_for_timeout(20)  # not time.sleep: Playwright's sync API routes requests only while called


def settled(page: Any, issue: Path) -> None:
    """Wait until the page shows the issue file as it is on disk, with no change or refresh under way."""
    from digest.edit.issueedit import version_of

    page.wait_for_function("v => document.body.dataset.issueVersion === v && document.body.dataset.pending === '0'",
                           arg=version_of(issue), timeout=WAIT_MS)


def card(page: Any, title: str) -> Any:
    return page.locator("li.card").filter(has=page.locator("h4", has_text=title))


def letter_text(page: Any) -> str:
    return str(page.frame_locator("#desktop-frame").locator("body").inner_text())


@pytest.fixture
def desk_site(tmp_path: Path) -> Iterator[tuple[Path, desk.Running]]:
    """A site with the project's commented issue file, and the desk on it."""
    issue = with_issue(tmp_path)
    with running(make_site(tmp_path)) as (_session, server):
        yield issue, server


def test_exclude_and_reinstate_an_item(page: Any, desk_site: tuple[Path, desk.Running]) -> None:
    from playwright.sync_api import expect

    issue, server = desk_site
    open_desk(page, server)
    expect(frame(page, "desktop-frame")).to_contain_text(SENEGAL_TITLE)
    card(page, SENEGAL_TITLE).get_by_role("button", name="Exclure").click()
    wait_file(page, issue, lambda d: d.get("exclude") == [SENEGAL])
    expect(frame(page, "desktop-frame")).not_to_contain_text(SENEGAL_TITLE, timeout=WAIT_MS)
    expect(card(page, SENEGAL_TITLE)).to_contain_text("Écarté : Exclu par l’équipe")
    shot(page, "desk-excluded.png")
    card(page, SENEGAL_TITLE).get_by_role("button", name="Réintégrer").click()
    wait_file(page, issue, lambda d: d.get("exclude") == [])
    expect(frame(page, "desktop-frame")).to_contain_text(SENEGAL_TITLE, timeout=WAIT_MS)
    expect(card(page, SENEGAL_TITLE).get_by_role("button", name="Exclure")).to_be_visible()


PATCHED = """async () => {
  const frame = document.querySelector('#desktop-frame');
  const served = await (await fetch('letter.html?v=' + document.body.dataset.version)).text();
  const fresh = new frame.contentWindow.DOMParser().parseFromString(served, 'text/html');
  return { kept: frame.contentDocument.keptFromBefore === true,
           equal: frame.contentDocument.documentElement.isEqualNode(fresh.documentElement) };
}"""
COLOURS = """id => [...document.querySelector('#' + id).contentDocument.querySelectorAll('body *')].map(
  e => [e.tagName, getComputedStyle(e).color, getComputedStyle(e).backgroundColor].join(' '))"""


def test_a_click_patches_the_letter_in_place_as_a_fresh_load_shows_it(page: Any,
                                                                       desk_site: tuple[Path, desk.Running]) -> None:
    """The change's answer brings the new letter, patched into the frame's document: no reload (the place read
    and the pictures stay), and the same letter, styles and all, as a frame that loads its address."""
    from playwright.sync_api import expect

    issue, server = desk_site
    open_desk(page, server)
    expect(frame(page, "desktop-frame")).to_contain_text(SENEGAL_TITLE)
    page.evaluate("document.querySelector('#desktop-frame').contentDocument.keptFromBefore = true")
    for button, excluded in (("Exclure", [SENEGAL]), ("Réintégrer", [])):
        card(page, SENEGAL_TITLE).get_by_role("button", name=button).click()
        wait_file(page, issue, lambda d, excluded=excluded: d.get("exclude") == excluded)
        assert page.evaluate(PATCHED) == {"kept": True, "equal": True}
        assert (SENEGAL_TITLE in letter_text(page)) == (not excluded)
    # A save by hand is patched in the same way.
    issue.write_text(issue.read_text(encoding="utf-8").replace("exclude = [\n]", f'exclude = ["{SENEGAL}"]'),
                     encoding="utf-8")
    expect(frame(page, "desktop-frame")).not_to_contain_text(SENEGAL_TITLE, timeout=WAIT_MS)
    settled(page, issue)
    assert page.evaluate(PATCHED) == {"kept": True, "equal": True}
    card(page, SENEGAL_TITLE).get_by_role("button", name="Réintégrer").click()
    wait_file(page, issue, lambda d: d.get("exclude") == [])
    patched = page.evaluate(COLOURS, "desktop-frame")
    page.get_by_role("button", name="Téléphone 414").click()  # a frame made now: it loads the letter's address
    expect(frame(page, "phone-frame")).to_contain_text(SENEGAL_TITLE)
    assert patched == page.evaluate(COLOURS, "phone-frame")  # the letter's inline styles apply as when loaded
    assert any("rgb(27, 79, 143)" in line for line in patched)  # the header's blue, from a style attribute


def test_pin_reorder_pins_and_feature(page: Any, desk_site: tuple[Path, desk.Running]) -> None:
    from playwright.sync_api import expect

    issue, server = desk_site
    open_desk(page, server)
    card(page, SENEGAL_TITLE).get_by_role("button", name="Épingler").click()
    wait_file(page, issue, lambda d: d["pin"] == [VIETNAM, SENEGAL])
    card(page, SENEGAL_TITLE).get_by_role("button", name="Monter").click()
    wait_file(page, issue, lambda d: d["pin"] == [SENEGAL, VIETNAM])
    page.wait_for_function("t => document.querySelector('#desktop-frame').contentDocument.body.innerText"
                           ".indexOf(t[0]) < document.querySelector('#desktop-frame').contentDocument.body"
                           ".innerText.indexOf(t[1])", arg=[SENEGAL_TITLE, VIETNAM_TITLE])
    card(page, SENEGAL_TITLE).get_by_role("button", name="Descendre").click()
    wait_file(page, issue, lambda d: d["pin"] == [VIETNAM, SENEGAL])
    card(page, VIETNAM_TITLE).get_by_role("button", name="À la une").click()
    wait_file(page, issue, lambda d: d.get("featured") == [VIETNAM])
    expect(frame(page, "desktop-frame")).to_contain_text("À la une", timeout=WAIT_MS)
    expect(page.locator("section[aria-label='À la une']")).to_contain_text(VIETNAM_TITLE)
    shot(page, "desk-featured.png")


def test_edit_an_item_and_add_one_by_hand(page: Any, desk_site: tuple[Path, desk.Running]) -> None:
    from playwright.sync_api import expect

    issue, server = desk_site
    open_desk(page, server)
    # One form edits any article: opened from a card, then from another, it follows with that card's words.
    card(page, VIETNAM_TITLE).get_by_role("button", name="Modifier").click()
    expect(card(page, VIETNAM_TITLE).get_by_label("Titre")).to_have_value(re.compile("^Intempéries dans le centre"))
    item = card(page, SENEGAL_TITLE)
    item.get_by_role("button", name="Modifier").click()
    expect(card(page, VIETNAM_TITLE).get_by_label("Titre")).to_have_count(0)
    expect(card(page, VIETNAM_TITLE).get_by_role("button", name="Modifier")).to_have_attribute("aria-expanded", "false")
    expect(item.get_by_label("Titre")).to_have_value(re.compile("^Atelier du groupe-pays Sénégal"))
    expect(item.get_by_label("Titre")).to_be_focused()
    item.get_by_label("Titre").fill("Sénégal : un titre plus court")
    item.get_by_label("Rubrique").select_option("breves")
    item.get_by_role("button", name="Enregistrer").click()
    data = wait_file(page, issue, lambda d: bool(d.get("override")))
    # Only what the editor changed is written: the teaser and picture stay the source's.
    assert data["override"] == [{"item": SENEGAL, "title": "Sénégal : un titre plus court", "section": "breves"}]
    expect(frame(page, "desktop-frame")).to_contain_text("Sénégal : un titre plus court", timeout=WAIT_MS)
    expect(page.locator("#section-breves")).to_contain_text("Sénégal : un titre plus court")

    page.get_by_role("button", name="Ajouter un article").click()
    form = page.locator("#add-form")
    form.get_by_label("Rubrique").select_option("breves")
    form.get_by_label("Titre").fill("Assemblée générale : save the date")
    form.get_by_label("Adresse (lien)").fill("https://cites-unies-france.org/assemblee-generale-2026")
    form.get_by_label("Accroche").fill("L’assemblée générale se tiendra à Paris.")
    form.get_by_role("button", name="Ajouter").click()
    data = wait_file(page, issue, lambda d: bool(d.get("item")))
    assert data["item"] == [{"section": "breves", "title": "Assemblée générale : save the date",
                             "url": "https://cites-unies-france.org/assemblee-generale-2026",
                             "summary": "L’assemblée générale se tiendra à Paris."}]
    expect(frame(page, "desktop-frame")).to_contain_text("Assemblée générale : save the date", timeout=WAIT_MS)


def test_the_words_of_the_letter_and_the_section_order(page: Any, desk_site: tuple[Path, desk.Running]) -> None:
    from playwright.sync_api import expect

    issue, server = desk_site
    open_desk(page, server)
    subject = "La Lettre de CUF – novembre 2025 : solidarité avec le Vietnam et les collectivités"
    page.get_by_label("Objet", exact=True).fill(subject)
    expect(page.locator(".inbox.desktop .subject")).to_have_text(subject)  # live, before any save
    expect(page.locator(".count[data-for='subject']")).to_contain_text(f"{len(subject)} caractères")
    page.get_by_label("Texte d’aperçu", exact=True).fill("Fonds de solidarité Vietnam, Assises frontalières")
    page.get_by_label("Édito", exact=True).fill("Un mois de **solidarité**.")
    data = wait_file(page, issue, lambda d: d.get("subject") == subject and d["editorial"]["text"].strip()
                     == "Un mois de **solidarité**." and d.get("preheader", "").startswith("Fonds"))
    assert data["editorial"]["title"] == "Édito"
    expect(page.locator("#edito-preview strong")).to_have_text("solidarité", timeout=WAIT_MS)
    expect(frame(page, "desktop-frame")).to_contain_text("Un mois de solidarité.", timeout=WAIT_MS)
    # The report links its subject finding (too long for inboxes) to the field.
    link = page.locator("#report a[href='#field-subject']")
    expect(link).to_have_count(1, timeout=WAIT_MS)
    link.click()
    expect(page).to_have_url(server.url + "#field-subject")

    page.locator("#sections-order li", has_text="En bref").get_by_role("button", name="Monter").click()
    wait_file(page, issue, lambda d: d.get("sections") == ["cuf", "agenda", "breves", "collectivites"])
    expect(page.locator("#sections-order li").nth(2)).to_contain_text("En bref", timeout=WAIT_MS)
    assert "Markdown: paragraphs" in issue.read_text(encoding="utf-8")  # the [editorial] table's comment too
    page.set_viewport_size({"width": 1400, "height": 1000})
    shot(page, "desk-words.png")


def test_a_hand_edit_shows_and_a_change_on_the_older_version_is_refused(
        page: Any, desk_site: tuple[Path, desk.Running]) -> None:
    from playwright.sync_api import expect

    issue, server = desk_site
    open_desk(page, server)
    old = page.evaluate("document.body.dataset.issueVersion")
    edit(issue, "# subject = ", 'subject = "Écrit à la main"\n# ')
    expect(page.get_by_label("Objet", exact=True)).to_have_value("Écrit à la main", timeout=WAIT_MS)  # the page follows
    # A page that had not heard of the hand edit yet: its change is refused, the hand edit kept.
    page.evaluate("v => { document.body.dataset.issueVersion = v; }", old)
    card(page, SENEGAL_TITLE).get_by_role("button", name="Exclure").click()
    expect(page.locator("#message")).to_contain_text("modifié à la main", timeout=WAIT_MS)
    data = issue_data(issue)
    assert data["subject"] == "Écrit à la main" and "exclude" not in data
    # The page now holds the file's version: the same click goes through.
    card(page, SENEGAL_TITLE).get_by_role("button", name="Exclure").click()
    wait_file(page, issue, lambda d: d.get("exclude") == [SENEGAL] and d["subject"] == "Écrit à la main")


def test_the_letter_frame_is_sandboxed_and_runs_no_script(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    path = make_site(tmp_path)
    # A template that carries a script into the letter: the desk must show the letter without running it.
    body = '<mj-body width="600px" background-color="#eef1f4" css-class="dk">'
    edit(tmp_path / "templates" / "letter.mjml.j2", body, body + "<mj-raw><script>document.body.dataset.ran = 'yes';"
         "parent.document.title = 'pwned';</script></mj-raw>")
    with running(path) as (_session, server):
        open_desk(page, server)
        expect(frame(page, "desktop-frame")).to_contain_text(FIRST_ITEM)
        assert "<script>" in page.evaluate("document.querySelector('#desktop-frame').contentDocument"
                                           ".documentElement.outerHTML")
        sandbox = page.locator("#desktop-frame").get_attribute("sandbox")
        assert "allow-scripts" not in sandbox and "allow-top-navigation" not in sandbox
        inner = page.locator("#desktop-frame").element_handle().content_frame()
        assert inner.evaluate("document.body.dataset.ran") is None
        assert page.title() != "pwned"
        page.goto(server.url + "letter.html")  # opened alone, its own policy still forbids the script
        assert page.evaluate("document.body.dataset.ran") is None


def test_a_page_on_another_site_cannot_reach_the_desk_through_dns_rebinding(browser: Any,
                                                                            desk_site: tuple[Path, desk.Running]
                                                                            ) -> None:
    _issue, server = desk_site
    port = server.sock.getsockname()[1]
    # Another Chromium whose resolver maps rebind.test to 127.0.0.1, as a rebinding attacker's DNS would.
    other = browser.browser_type.launch(executable_path=str(CHROMIUM),
                                        args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP rebind.test 127.0.0.1"])
    try:
        attacked = other.new_page()
        response = attacked.goto(f"http://rebind.test:{port}/")
        assert response.status == 421
        assert "Adresse non reconnue" in attacked.content() and "Exclure" not in attacked.content()
        # The refusal page's own policy lets no script of it fetch anything; asked directly, the server refuses.
        assert attacked.evaluate("fetch('/state').then(r => r.status, () => 'blocked')") == "blocked"
        assert attacked.goto(f"http://rebind.test:{port}/state").status == 421
    finally:
        other.close()


def test_send_me_a_test_from_the_page(page: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from playwright.sync_api import expect

    from tests.smtp_sink import Sink

    monkeypatch.setenv("DIGEST_SECRET", "test-secret-0123456789-abcdefghij")
    path = make_site(tmp_path)
    with Sink() as sink:
        path.write_text(path.read_text(encoding="utf-8") + f'\n[smtp]\nhost = "127.0.0.1"\nport = {sink.port}\n'
                        'security = "none"\n\n[preview]\ntest_to = ["redaction@example.org"]\n', encoding="utf-8")
        with running(path) as (_session, server):
            open_desk(page, server)
            expect(page.get_by_label("Adresses")).to_have_value("redaction@example.org")
            page.get_by_role("button", name="M’envoyer un test").click()
            expect(page.locator("#test-result")).to_contain_text("Test envoyé à redaction@example.org",
                                                                 timeout=WAIT_MS)
            assert [r.rcpt for r in sink.recorder.received] == ["redaction@example.org"]
            assert sink.recorder.received[0].message["Subject"].startswith("[TEST] La Lettre de CUF")
            page.get_by_label("Adresses").fill("pas-une-adresse")
            page.get_by_role("button", name="M’envoyer un test").click()
            expect(page.locator("#test-result")).to_contain_text("Test non envoyé", timeout=WAIT_MS)
            assert len(sink.recorder.received) == 1


def test_the_desk_opens_by_the_printed_url_and_its_cookie_is_out_of_scripts_reach(
        browser: Any, page: Any, desk_site: tuple[Path, desk.Running]) -> None:
    _issue, server = desk_site
    stranger = browser.new_context()
    stranger.route("**/*", lambda route: route.continue_()
                   if route.request.url.startswith("http://127.0.0.1") else route.abort())
    try:
        other = stranger.new_page()
        response = other.goto(server.url)  # another user of the machine, without the URL
        assert response.status == 403 and "digest preview" in other.content() and "Exclure" not in other.content()
    finally:
        stranger.close()
    open_desk(page, server)
    assert page.get_by_role("button", name="Exclure").first.is_visible()
    assert page.evaluate("document.cookie") == ""  # HttpOnly: no script of the page reads it
    assert "cle=" not in page.content()
    cookie = next(c for c in page.context.cookies() if c["name"] == "digest-desk")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == server.desk.prefix


def test_nothing_the_browser_sends_to_another_port_of_the_machine_opens_the_desk(
        page: Any, desk_site: tuple[Path, desk.Running]) -> None:
    """Cookies know no port: a contribution's link to another user's listener on 127.0.0.1 must carry nothing
    that opens the desk."""
    _issue, server = desk_site
    heard: list[dict[str, str]] = []

    class Listener(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            heard.append(dict(self.headers))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<p>another listener</p>")

        def log_message(self, *args: Any) -> None:
            pass

    listener = ThreadingHTTPServer(("127.0.0.1", 0), Listener)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    try:
        open_desk(page, server)
        port = listener.server_address[1]
        for url in (f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{port}/action"):
            page.goto(url)
    finally:
        listener.shutdown()
    assert len(heard) == 2 and not any("digest-desk" in h.get("Cookie", "") for h in heard), heard
    assert not any("Referer" in h for h in heard)


def test_the_browser_is_started_on_a_private_file_never_on_the_key(page: Any, tmp_path: Path) -> None:
    """The key never sits on a command line (every user of the machine reads them in /proc): the browser gets a
    file only this user can read, which forwards to the desk."""
    import os
    import signal
    import subprocess
    import time

    from tests import installed

    seen = tmp_path / "browser-saw.txt"
    fake = tmp_path / "browser.sh"
    fake.write_text(f'#!/bin/sh\nf="${{1#file://}}"\n{{ echo "$@"; stat -c %a "$f" "$(dirname "$f")"; }} '
                    f'> "{seen}.part"\nmv "{seen}.part" "{seen}"\n', encoding="utf-8")
    fake.chmod(0o700)
    process = subprocess.Popen([*installed.command(), "preview", "-c", str(make_site(tmp_path)), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "BROWSER": str(fake), "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 60
        while not seen.exists():
            assert process.poll() is None and time.monotonic() < deadline, "the browser was never started"
            time.sleep(0.05)
        argv, file_mode, folder_mode = seen.read_text(encoding="utf-8").split("\n")[:3]
        assert argv.startswith("file:///") and "cle=" not in argv and "127.0.0.1" not in argv
        assert (file_mode, folder_mode) == ("600", "700")
        page.goto(argv)  # what the browser does with it: forwarded to the desk, the key spent on the way
        page.wait_for_url("http://127.0.0.1:*/*/")
        assert "cle=" not in page.url and page.locator("#subject").is_visible(), page.content()[:3000]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert not Path(argv[len("file://"):]).parent.exists()  # gone when the desk stops


# --- the desk on every screen the team uses: a wide laptop, a small one, a tablet, a phone ------------------
# At each width: no horizontal scroll, every field at least 280 px wide, every visible control at least 24 × 24 px
# (44 × 44 on a phone), and axe-core's WCAG 2.x A/AA rules find nothing, with the stock look and a branded one;
# from 1200 px the work (at least 420 px) beside the letter, from 1000 px the work at least 380 px and an item's
# text 260, below one column with the letter behind a sticky switch, never a frame scrolled inside the page.

DESK_WIDTHS = (1400, 1024, 768, 390)

MEASURE = """(target) => {
  const box = e => e.getBoundingClientRect();
  const shown = e => { const b = box(e); return b.width > 0 && b.height > 0 &&
                       getComputedStyle(e).visibility !== 'hidden'; };
  const fields = ['#subject', '#preheader', '#editorial'].map(s => Math.round(box(document.querySelector(s)).width));
  const small = [...document.querySelectorAll('button, input[type=submit], .card .meta a, header a.badge')]
      .filter(shown).filter(e => box(e).width < target || box(e).height < target)
      .map(e => e.textContent.trim() + ' ' + Math.round(box(e).width) + 'x' + Math.round(box(e).height));
  const letter = document.querySelector('.letter'), work = document.querySelector('.work');
  const card = document.querySelector('#items li.card');
  const picture = card.querySelector('img, .noimg, .picture-missing');
  return {scroll: document.scrollingElement.scrollWidth, inner: window.innerWidth, fields,
          work: Math.round(box(work).width), small, letterShown: shown(letter),
          side: shown(letter) && box(letter).left >= box(work).right,
          text: Math.round(box(card.querySelector('.body')).width),
          stacked: shown(picture) && box(picture).bottom <= box(card.querySelector('.body')).top + 1,
          card: Math.round(box(card).width),
          switchShown: shown(document.querySelector('#letter-switch'))};
}"""

FRAME_FITS = """() => { const f = document.querySelector('#desktop-frame');
  return f.contentDocument.documentElement.scrollHeight <= f.clientHeight + 2; }"""


@pytest.fixture(scope="module")
def branded_preview(tmp_path_factory: pytest.TempPathFactory) -> Iterator[desk.Running]:
    """The desk of a letter whose [look] is light and bright: the pages must still read."""
    path = make_site(tmp_path_factory.mktemp("branded"))
    path.write_text(path.read_text(encoding="utf-8") + '\n[look]\nheader = "#7fb3e0"\naccent = "#ffb000"\n'
                    'link = "#66ccff"\nbutton = "#f5c542"\n', encoding="utf-8")
    with running(path) as (_session, server):
        yield server


def _layout(browser: Any, server: desk.Running, width: int) -> None:
    from tests.test_reader import AXE, AXE_TAGS, require_axe  # here: test_reader imports this module

    require_axe(AXE)
    # bypass_csp: axe-core is injected as a script, which the desk's policy (rightly) forbids to anyone else
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    context.route("**/*", lambda route: route.continue_()
                  if route.request.url.startswith(("http://127.0.0.1", "file://")) else route.abort())
    page = context.new_page()
    try:
        open_desk(page, server)
        page.wait_for_selector("#subject")
        found = page.evaluate(MEASURE, 44 if width < 600 else 24)
        assert found["scroll"] <= found["inner"], f"{width} px: the page scrolls sideways ({found})"
        assert min(found["fields"]) >= 280, f"{width} px: a field is narrower than 280 px ({found['fields']})"
        assert not found["small"], f"{width} px: controls too small to hit: {found['small']}"
        if width >= 1200:
            assert found["side"] and found["work"] >= 420 and not found["switchShown"], found
        elif width >= 1000:
            assert found["side"] and found["work"] >= 380 and found["text"] >= 260, found
        else:  # one column: the work first, the letter behind the switch
            assert not found["letterShown"] and found["switchShown"], found
        assert found["stacked"] == (found["card"] < 480), found  # a narrow card: its picture above its text
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"desk-{width}.png"), full_page=False)
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
        assert result["violations"] == [], [(v["id"], [n["target"] for n in v["nodes"]][:3])
                                             for v in result["violations"]]
        if width < 1000:
            page.click("#letter-switch")
            page.wait_for_function("() => (window.deskFrames || {})['desktop-frame'] > 0")
            assert page.evaluate("document.querySelector('.letter').getBoundingClientRect().height > 0")
            assert page.evaluate(FRAME_FITS), f"{width} px: the letter scrolls inside its frame"
            assert page.get_attribute("#letter-switch", "aria-pressed") == "true"
    finally:
        context.close()


@pytest.mark.parametrize("width", DESK_WIDTHS)
def test_the_desk_reflows_and_every_field_and_control_stays_usable(browser: Any, shared_preview: desk.Running,
                                                                    width: int) -> None:
    _layout(browser, shared_preview, width)


@pytest.mark.parametrize("width", (1400, 390))
def test_a_branded_look_keeps_the_desk_readable(browser: Any, branded_preview: desk.Running, width: int) -> None:
    _layout(browser, branded_preview, width)


def test_a_picture_that_cannot_load_is_a_quiet_box_not_a_broken_icon(page: Any, shared_preview: desk.Running) -> None:
    open_desk(page, shared_preview)
    page.wait_for_selector("#items li.card")
    # A card's picture whose address answers nothing a picture can be (as an offline or moved one does).
    page.evaluate("""() => { const card = document.querySelector('#items li.card');
        const picture = document.createElement('img'); picture.id = 'gone'; picture.alt = '';
        picture.src = 'data:image/png;base64,bm90IGEgcGljdHVyZQ==';
        card.querySelector('img, .noimg, .picture-missing').replaceWith(picture); }""")
    page.wait_for_function("() => !document.getElementById('gone')")  # replaced as soon as it failed
    said = page.locator("#items li.card").first.locator(".picture-missing")
    assert said.get_attribute("role") == "img" and said.inner_text() == "Image non chargée"


def test_the_header_says_the_state_at_a_glance(page: Any, shared_preview: desk.Running) -> None:
    open_desk(page, shared_preview)
    header = page.locator("header .state")
    assert "Lettre du 20 novembre 2025" in header.inner_text()
    badges = header.locator("a.badge")
    words = badges.all_inner_texts()
    assert words and all(re.fullmatch(r"\d+ (erreurs?|avertissements?)|Aucun problème", w) for w in words), words
    badges.first.click()  # a badge opens the report
    assert page.evaluate("location.hash") == "#report-title"


def test_every_action_is_reached_by_keyboard_in_the_pages_order(page: Any, shared_preview: desk.Running) -> None:
    open_desk(page, shared_preview)
    page.wait_for_selector("#items li.card")
    order = []
    for _step in range(400):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => { const e = document.activeElement;
            return e.id || (e.closest('li.card') ? 'card' : '') || (e.dataset.view ? 'view' : '') || e.tagName; }""")
        order.append(focused)
        if focused == "view":
            break
    assert "subject" in order and "card" in order and order[-1] == "view", order[-20:]
    assert order.index("subject") < order.index("card") < order.index("view")  # the work, then the letter
    visible = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert visible != "none"  # where the focus is shows
