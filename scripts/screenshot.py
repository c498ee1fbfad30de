"""Make docs/letter.png: the default letter at desktop and phone widths, side by side (`make screenshot`). The
pages digest serves (the desk among them) are photographed by scripts/screens.py (`make screens`).

It builds the default letter (outbox/<date>/letter.html, as `digest build` does), then shows it in Debian's
Chromium through Playwright, in two frames of one page. The letter's remote pictures are answered with a small
local placeholder and every other outside request is refused, so nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import html
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest import config, pipeline  # noqa: E402  (the project root is on the path only from here)

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
PLACEHOLDER = b"""<svg xmlns="http://www.w3.org/2000/svg" width="150" height="100" viewBox="0 0 150 100">
<rect width="150" height="100" fill="#c9d6e3"/><circle cx="112" cy="28" r="12" fill="#f2c14e"/>
<path d="M0 100 L45 45 L75 80 L100 58 L150 100 Z" fill="#5d7fa3"/></svg>"""
PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
body {{ margin: 0; padding: 24px; background: #e5e9ee; font: 600 15px Arial, sans-serif; color: #16365f;
       display: flex; gap: 32px; align-items: flex-start; }}
figure {{ margin: 0; }} figcaption {{ margin-bottom: 8px; }}
iframe {{ border: 1px solid #9aa5b1; background: #fff; display: block; }}
.phone iframe {{ border: 10px solid #1f2933; border-radius: 24px; }}
</style></head><body>
<figure><figcaption>Desktop · 600 px</figcaption>
<iframe srcdoc="{letter}" width="640" height="{height}" scrolling="no"></iframe></figure>
<figure class="phone"><figcaption>Phone · 375 px</figcaption>
<iframe srcdoc="{letter}" width="375" height="{height}" scrolling="no"></iframe></figure>
</body></html>"""


def build_default(config_path: Path) -> Path:
    """Build the letter of `config_path` into its outbox, as `digest build` does; the letter.html's path."""
    cfg = config.load(config_path)
    today = cfg.letter.date or date.today()
    report = pipeline.build(cfg, today, cfg.root / "outbox", include_sent=True)
    return report.written[0].path


def screenshot(letter: Path, target: Path, height: int, chromium: str) -> None:
    """Show `letter` at both widths and save the screenshot to `target`."""
    from playwright.sync_api import Route, sync_playwright

    def answer(route: Route) -> None:
        if route.request.resource_type == "image":
            route.fulfill(status=200, content_type="image/svg+xml", body=PLACEHOLDER)
        elif route.request.url.startswith(("about:", "data:")):
            route.continue_()
        else:
            route.abort()  # no request leaves the machine

    content = PAGE.format(letter=html.escape(letter.read_text(encoding="utf-8"), quote=True), height=height)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1120, "height": height + 90})
        page.route("**/*", answer)
        page.set_content(content, wait_until="load")
        target.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target), full_page=True)
        browser.close()


def main() -> None:
    """Parse the options, build, take the screenshot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", type=Path, default=ROOT / "sources.toml")
    parser.add_argument("-o", "--output", type=Path, help="default: docs/letter.png")
    parser.add_argument("--height", type=int, default=1300, help="pixels of the letter shown (its top)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    options = parser.parse_args()
    if not Path(options.chromium).is_file():
        sys.exit(f"Chromium not found at {options.chromium}: install it with `apt-get install chromium`.")
    output = options.output or ROOT / "docs" / "letter.png"
    letter = build_default(options.config)
    screenshot(letter, output, options.height, options.chromium)
    print(f"{output} written, from {letter}")


if __name__ == "__main__":
    main()
