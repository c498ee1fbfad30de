"""The default letter as readers get it, in Debian's Chromium: pictures blocked, phone and desktop widths,
axe-core's WCAG 2.x A/AA rules, light, dark and the dark that webmail apps force on a page.

axe-core is the npm package pinned in tests/axe/package.json, installed by `make test` (npm). Screenshots go
to test-artifacts/ (git-ignored). Without Chromium or axe-core these tests fail when CI is set and are
skipped otherwise, each time with the command that installs what is missing.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digest import config, pipeline
from tests import programs
from tests.conftest import LETTER_DATE, ROOT
from tests.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, require_browser

AXE = ROOT / "tests" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]  # target-size is wcag22aa
FORCE_DARK = "--enable-features=WebContentsForceDark"  # what Chromium-based webmail apps do to a page
LINK_BLUE = "rgb(27, 79, 143)"  # the letter's link colour, #1b4f8f
BRANDED_LINK = "rgb(11, 87, 208)"  # [look] link = "#0b57d0" in tests/test_look.py's BRANDED
WIDTHS = [375, 600]


def require_axe(path: Path, ci: bool | None = None) -> None:
    """Fail (on CI) or skip (elsewhere) with how to install axe-core."""
    if not path.is_file():
        programs.unavailable(f"axe-core not found at {path}: run `make test` (it installs npm where it can, then "
                             f"runs `npm ci` in tests/axe), or `{programs.install_command(['npm'])}` first.", ci)


def test_missing_axe_fails_on_ci_and_skips_elsewhere_saying_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="npm"):
        require_axe(tmp_path / "axe.min.js", ci=True)
    with pytest.raises(pytest.skip.Exception, match="npm"):
        require_axe(tmp_path / "axe.min.js", ci=False)


@pytest.fixture(scope="module", params=["stock", "branded"])
def letter_file(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default letter's HTML, built without writing the outbox, saved to open as a file: with the stock look,
    and with a team's own colours and logo ([look]; the logo's address is not reachable: pictures off)."""
    cfg = config.load(ROOT / "sources.toml")
    if request.param == "branded":
        from tests.test_look import project

        cfg = config.load(project(tmp_path_factory.mktemp("branded")))
    built: list[pipeline.Built] = []
    # In a thread: Playwright's sync API runs an event loop in this one, and a build may run its own.
    worker = threading.Thread(target=lambda: built.append(
        pipeline.build(cfg, LETTER_DATE, out=None, include_sent=True)))
    worker.start()
    worker.join()
    path = tmp_path_factory.mktemp(f"letter-{request.param}") / "letter.html"
    path.write_text(built[0].rendered.html, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    require_browser(CHROMIUM)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as running:
        yield running


def _launch(playwright: Any, extra: list[str]) -> Iterator[Any]:
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS + extra)
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def browser(playwright: Any) -> Iterator[Any]:
    yield from _launch(playwright, [])


@pytest.fixture(scope="module")
def forced_dark_browser(playwright: Any) -> Iterator[Any]:
    yield from _launch(playwright, [FORCE_DARK])


def _picture() -> bytes:
    """A 150 x 100 PNG, the shape of the CUF site's vignettes, served in place of every remote picture."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (150, 100), (200, 80, 40)).save(out, "PNG")
    return out.getvalue()


def open_letter(browser: Any, path: Path, width: int, *, pictures: bool = True, scheme: str = "light") -> Any:
    """A page showing the letter at `width`: remote pictures served locally, or blocked like Outlook does."""
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
    picture = _picture()

    def answer(route: Any) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        elif pictures and route.request.resource_type == "image":
            route.fulfill(body=picture, content_type="image/png")
        else:
            route.abort()  # pictures off, and nothing else leaves the machine

    context.route("**/*", answer)
    page = context.new_page()
    page.goto(path.as_uri())
    page.wait_for_function("[...document.images].every(i => i.complete)")
    return page


def boxes(page: Any) -> list[list[float]]:
    return page.evaluate("[...document.images].map(i => [i.getBoundingClientRect().width,"
                         " i.getBoundingClientRect().height])")


@pytest.mark.parametrize("width", WIDTHS)
def test_with_pictures_blocked_every_picture_keeps_its_box_and_the_letter_its_height(
        browser: Any, letter_file: Path, width: int) -> None:
    shown = open_letter(browser, letter_file, width)
    blocked = open_letter(browser, letter_file, width, pictures=False)
    assert shown.evaluate("[...document.images].every(i => i.naturalWidth === 150)")  # really shown
    assert blocked.evaluate("[...document.images].every(i => i.naturalWidth === 0)")  # really blocked
    assert len(boxes(shown)) >= 15
    assert boxes(blocked) == boxes(shown)
    assert all(w > 0 and h > 0 for w, h in boxes(shown))
    height = "document.documentElement.scrollHeight"
    assert blocked.evaluate(height) <= shown.evaluate(height) * 1.05
    ARTIFACTS.mkdir(exist_ok=True)
    blocked.screenshot(path=str(ARTIFACTS / f"pictures-off-{width}.png"), full_page=True)
    shown.context.close()
    blocked.context.close()


def test_on_a_phone_the_thumbnail_shrinks_and_the_text_column_widens(browser: Any, letter_file: Path) -> None:
    page = open_letter(browser, letter_file, 375)
    thumbnail = page.evaluate("(r => [r.width, r.height])(document.querySelector('td.th img').getBoundingClientRect())")
    assert thumbnail == [64, 43]
    text_width = page.evaluate("document.querySelector('td.th').nextElementSibling.getBoundingClientRect().width")
    assert text_width >= 250  # 215 px before: teasers ran over 8-9 lines
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", WIDTHS)
def test_axe_core_finds_no_wcag_a_or_aa_problem(browser: Any, letter_file: Path, width: int, scheme: str) -> None:
    require_axe(AXE)
    page = open_letter(browser, letter_file, width, scheme=scheme)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
    problems = [f"{v['id']} ({v['impact']}): {v['help']}; {len(v['nodes'])}× e.g. {v['nodes'][0]['html'][:120]}"
                for v in result["violations"]]
    assert problems == []
    passed = {rule["id"] for rule in result["passes"]}
    assert {"target-size", "image-alt", "html-has-lang", "link-name"} <= passed  # the rules really ran
    page.context.close()


@pytest.mark.parametrize("width", [320, *WIDTHS])  # 320: the smallest phones, where the pair wraps today
def test_calendar_links_are_buttons_a_thumb_can_hit_in_the_link_colour(browser: Any, letter_file: Path,
                                                                       width: int) -> None:
    page = open_letter(browser, letter_file, width)
    buttons = page.evaluate("[...document.querySelectorAll('a.cb')].map(a => {const r = a.getBoundingClientRect();"
                            " return [a.textContent, getComputedStyle(a).color, r.left, r.top, r.right, r.bottom]})")
    assert {b[0] for b in buttons} == {".ics", "Google"}
    assert {b[1] for b in buttons} == {LINK_BLUE if "branded" not in str(letter_file) else BRANDED_LINK}
    for _, _, left, top, right, bottom in buttons:  # WCAG 2.2 target size (minimum)
        assert right - left >= 24 and bottom - top >= 24, buttons
    for ics, google in zip(buttons[::2], buttons[1::2], strict=True):
        gap = max(google[2] - ics[4], google[3] - ics[5])  # beside it, or on the next line
        assert gap >= 8, (ics, google)  # apart, so a thumb does not hit both: the template's margins, not a space
    page.context.close()


# --- dark mode: the template's own (prefers-color-scheme) and the one webmail apps force -------------------

def luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG relative luminance."""
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    red, green, blue = (channel(v) for v in rgb)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def ratio(a: float, b: float) -> float:
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


def contrast(png: bytes) -> float:
    """The contrast of what is drawn in a screenshot of an element: its most common colour (the background)
    against the colour, covering at least 0.5 % of it, that differs from it most (the text)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    colors = image.getcolors(maxcolors=image.width * image.height) or []
    background = luminance(max(colors)[1])
    enough = [color for count, color in colors if count >= 0.005 * image.width * image.height]
    return max(ratio(luminance(color), background) for color in enough)


def test_contrast_reads_text_against_its_background() -> None:
    from PIL import Image, ImageDraw

    def drawn(text_colour: tuple[int, int, int]) -> bytes:
        image = Image.new("RGB", (120, 30), (255, 255, 255))
        ImageDraw.Draw(image).rectangle((10, 10, 60, 16), fill=text_colour)
        out = io.BytesIO()
        image.save(out, "PNG")
        return out.getvalue()

    assert contrast(drawn((0, 0, 0))) == pytest.approx(21)
    assert contrast(drawn((230, 230, 230))) < 1.5  # pale grey on white: unreadable, and found so


# What must stay readable, and the contrast WCAG AA asks of it (3 for large text, 4.5 otherwise).
READABLE = [("the letter's title", "h1", 3.0), ("an agenda badge", ".bd", 4.5),
            ("a calendar button", "a.cb", 4.5), ("a link", "a[href*='cites-unies-france.org/']:not(.cb)", 4.5),
            ("the unsubscribe link", "text=Se désinscrire", 4.5), ("a section heading", "h2", 3.0)]


@pytest.mark.parametrize("mode", ["light", "dark", "forced-dark"])
@pytest.mark.parametrize("width", WIDTHS)
def test_the_header_badges_and_links_stay_readable_in_every_colour_mode(
        browser: Any, forced_dark_browser: Any, letter_file: Path, width: int, mode: str) -> None:
    chosen = forced_dark_browser if mode == "forced-dark" else browser
    # Forced dark as Gmail's apps do it: the client reports no dark preference, so the template's own dark
    # rules stay off, and Chromium darkens the page by itself.
    page = open_letter(chosen, letter_file, width, scheme="dark" if mode == "dark" else "light")
    ARTIFACTS.mkdir(exist_ok=True)
    whole = page.screenshot(path=str(ARTIFACTS / f"{mode}-{width}.png"), full_page=True)
    if mode != "light":  # the page really is dark: else this test would prove nothing
        from PIL import Image

        assert luminance(Image.open(io.BytesIO(whole)).convert("RGB").getpixel((2, 400))) < 0.1
    for what, selector, needed in READABLE:
        element = page.locator(selector).first
        element.scroll_into_view_if_needed()
        found = contrast(element.screenshot())
        assert found >= needed, f"{what} ({selector}) has a contrast of {found:.1f} in {mode} at {width} px"
    page.context.close()
