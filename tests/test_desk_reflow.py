"""The desk on every screen the team uses: a wide laptop, a small one, a tablet, a phone (Chromium).

At each width: no horizontal scroll, every field at least 280 px wide, the work column at least 200 px, every
visible control at least 24 × 24 px, and axe-core's WCAG 2.x A/AA rules find nothing. A screenshot of each width
is kept in test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digest.review import desk
from tests.preview_support import make_site, running
from tests.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, open_desk, require_browser
from tests.test_reader import AXE, AXE_TAGS, require_axe

WIDTHS = (1400, 1024, 768, 390)

MEASURE = """() => {
  const box = e => e.getBoundingClientRect();
  const shown = e => { const b = box(e); return b.width > 0 && b.height > 0 &&
                       getComputedStyle(e).visibility !== 'hidden'; };
  const fields = ['#subject', '#preheader', '#editorial'].map(s => Math.round(box(document.querySelector(s)).width));
  const small = [...document.querySelectorAll('button, input[type=submit]')].filter(shown)
      .filter(e => box(e).width < 24 || box(e).height < 24).map(e => e.textContent.trim());
  return {scroll: document.scrollingElement.scrollWidth, inner: window.innerWidth, fields,
          work: Math.round(box(document.querySelector('.work')).width), small};
}"""


@pytest.fixture(scope="module")
def desk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[desk.Running]:
    with running(make_site(tmp_path_factory.mktemp("site"))) as (_session, server):
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_browser(CHROMIUM)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_desk_reflows_and_every_field_and_control_stays_usable(browser: Any, desk_server: desk.Running,
                                                                    width: int) -> None:
    require_axe(AXE)
    # bypass_csp: axe-core is injected as a script, which the desk's policy (rightly) forbids to anyone else
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    context.route("**/*", lambda route: route.continue_()
                  if route.request.url.startswith(("http://127.0.0.1", "file://")) else route.abort())
    page = context.new_page()
    try:
        open_desk(page, desk_server)
        page.wait_for_selector("#subject")
        found = page.evaluate(MEASURE)
        assert found["scroll"] <= found["inner"], f"{width} px: the page scrolls sideways ({found})"
        assert min(found["fields"]) >= 280, f"{width} px: a field is narrower than 280 px ({found['fields']})"
        assert found["work"] >= 200 and not found["small"], found
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(Path(ARTIFACTS) / f"desk-{width}.png"), full_page=False)
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
        assert result["violations"] == [], [(v["id"], [n["target"] for n in v["nodes"]][:3])
                                             for v in result["violations"]]
    finally:
        context.close()
