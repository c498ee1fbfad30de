"""The preview and the web version in a real browser: Debian's Chromium driven by Playwright.

Screenshots are saved under test-artifacts/ (git-ignored). Without Chromium these tests fail when CI is set
and are skipped otherwise, each time with the command that installs it.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from digest import config, pipeline
from digest.review import preview
from tests.conftest import LETTER_DATE, ROOT
from tests.preview_support import edit, make_site, running

CHROMIUM = Path(os.environ.get("DIGEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
ARTIFACTS = ROOT / "test-artifacts"
TITLE_LINE = "{{ letter.title }}</h1>"
FIRST_ITEM = "Retour sur la mission de la présidente"
WAIT_MS = 8000  # the longest wait for a rebuild to reach the page (it takes well under a second)


def require_browser(chromium: Path, ci: bool) -> None:
    """Fail (on CI) or skip (elsewhere) with how to install what is missing."""
    problem = None
    if importlib.util.find_spec("playwright") is None:
        problem = "Playwright's Python package is missing: run `pip install -e '.[test]'`."
    elif not chromium.is_file():
        problem = (f"Chromium not found at {chromium}: the browser tests need it. "
                   "Install it with `apt-get install chromium` (Debian, Ubuntu), or set DIGEST_CHROMIUM to its path.")
    if problem and ci:
        pytest.fail(problem, pytrace=False)
    if problem:
        pytest.skip(problem)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_browser(CHROMIUM, bool(os.environ.get("CI")))
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


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def frame(page: Any, frame_id: str) -> Any:
    return page.frame_locator(f"#{frame_id}").locator("body")


@pytest.fixture(scope="module")
def shared_preview(tmp_path_factory: pytest.TempPathFactory) -> Iterator[preview.PreviewServer]:
    with running(make_site(tmp_path_factory.mktemp("site"))) as (_session, server):
        yield server


def test_missing_chromium_fails_on_ci_and_skips_elsewhere_saying_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="apt-get install chromium"):
        require_browser(tmp_path / "no-chromium", ci=True)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        require_browser(tmp_path / "no-chromium", ci=False)


def test_the_page_loads_and_every_frame_shows_the_letter(page: Any, shared_preview: preview.PreviewServer) -> None:
    from playwright.sync_api import expect

    page.goto(shared_preview.url)
    expect(page).to_have_title("Preview · La Lettre de CUF – novembre 2025")
    for frame_id in ("desktop-frame", "phone-frame", "dark-frame"):
        expect(frame(page, frame_id)).to_contain_text("La Lettre de CUF")
        expect(frame(page, frame_id)).to_contain_text(FIRST_ITEM)
    expect(page.locator("#subject")).to_have_text("La Lettre de CUF – novembre 2025")
    expect(page.locator("#report")).to_contain_text("css-border-radius")
    expect(page.locator("#text")).to_contain_text("LA LETTRE DE CUF")
    assert page.locator("#desktop-frame").bounding_box()["width"] >= 600
    assert page.locator("#phone-frame").bounding_box()["width"] <= 380
    shot(page, "preview-page.png")


@pytest.mark.parametrize("width", [320, 375])
def test_the_phone_frame_has_no_horizontal_scroll(page: Any, shared_preview: preview.PreviewServer,
                                                  width: int) -> None:
    from playwright.sync_api import expect

    page.goto(shared_preview.url)
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
        page.goto(server.url)
        expect(frame(page, "desktop-frame")).to_contain_text(FIRST_ITEM)
        edit(template, TITLE_LINE, "{{ letter.title }} · ÉDITION TEST</h1>")
        # No page.reload(): the server-sent event must make the page reload by itself.
        expect(frame(page, "desktop-frame")).to_contain_text("ÉDITION TEST", timeout=WAIT_MS)
        expect(frame(page, "phone-frame")).to_contain_text("ÉDITION TEST")
        shot(page, "preview-after-edit.png")

        edit(template, "ÉDITION TEST</h1>", "ÉDITION TEST</h1>{% endfor %}")  # a Jinja syntax error
        expect(page.locator("#build-error")).to_be_visible(timeout=WAIT_MS)
        expect(page.locator("#build-error")).to_contain_text("letter.mjml.j2")
        expect(page.locator("#build-error")).to_contain_text("line")
        expect(frame(page, "desktop-frame")).to_contain_text("ÉDITION TEST")  # the last good letter stays
        expect(frame(page, "phone-frame")).to_contain_text(FIRST_ITEM)
        shot(page, "preview-template-error.png")

        edit(template, "{% endfor %}", "")
        expect(page.locator("#build-error")).to_have_count(0, timeout=WAIT_MS)


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
