"""`make screens`: every page digest serves, at 1400, 1024 and 390 px, into docs/screens/ (PNG).

The pages: the desk (its top, its articles), the subscribe form, the contribution form, the subscriber's own page,
a confirmation link that no longer works, the published letters' archive and an error page (404). They are served
on loopback from a copy of the default letter (sources.toml with [subscribe] and [contribute] added), shown in
Debian's Chromium; the letter's remote pictures are answered by a local placeholder, nothing leaves the machine.
What changes from one run to the next (the build's time, its duration, the time of the last save) is hidden, so
that tests/test_screens.py can compare a page with its screenshot.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import screenshot  # noqa: E402  (scripts/screenshot.py, beside this one)

WIDTHS = (1400, 1024, 390)
HEIGHT = 900
# The pictures' placeholder and the browser's flags are screenshot.py's (the letter's picture), plus what makes two
# runs draw the same pixels.
CHROMIUM_ARGS = [*screenshot.CHROMIUM_ARGS, "--hide-scrollbars", "--font-render-hinting=none", "--disable-lcd-text"]
PLACEHOLDER = screenshot.PLACEHOLDER
# What differs between two runs of the same page: hidden before the picture is taken.
VOLATILE = ".state .built, .state .saved, #message, p.said { visibility: hidden !important; }"
EXTRA = """
[subscribe]
url = "https://cites-unies-france.org/inscription"
privacy_url = "https://cites-unies-france.org/confidentialite"

[contribute]
url = "https://cites-unies-france.org/contribuer"
section = "collectivites"

[smtp]
host = "127.0.0.1"
port = 9
security = "none"
"""


@dataclass(frozen=True)
class Shot:
    """One page to photograph: its name in docs/screens/ and how to reach it."""

    name: str
    path: str  # on the public server, or "desk" / "desk-articles"


SHOTS = (Shot("desk", "desk"), Shot("desk-articles", "desk-articles"), Shot("subscribe", "/inscription"),
         Shot("contribute", "/contribuer"), Shot("manage", "manage"), Shot("confirmation", "/inscription?c=perime"),
         Shot("archive", "/lettre/"), Shot("error", "/nulle-part"))


def project(folder: Path) -> Path:
    """A copy of the default letter with the forms switched on; its sources.toml."""
    shutil.copytree(ROOT / "samples", folder / "samples")
    text = (ROOT / "sources.toml").read_text(encoding="utf-8")
    path = folder / "sources.toml"
    path.write_text(text + EXTRA, encoding="utf-8")
    return path


def published(config_path: Path, folder: Path) -> Path:
    """The default letter built and published into folder/site (as `digest publish --date` does); the site."""
    from digest import config, letterfolder, pipeline
    from digest.web import publish

    cfg = config.load(config_path)
    day = cfg.letter.date
    assert day is not None
    pipeline.build(cfg, day, cfg.outbox, include_sent=True)
    site = folder / "site"
    publish.publish_letters(cfg, cfg.outbox, site, letterfolder.no_sends, day, dry_run=False, allow_stale=True)
    return site


def manage_path(config_path: Path) -> str:
    """The subscriber's own page of a sample subscriber: the path and query of the link their letter carries."""
    from urllib.parse import urlsplit

    from digest import config
    from digest.audience.subscribers import Subscribers
    from digest.mail import identity, links

    cfg = config.load(config_path)
    with Subscribers(cfg.subscribers_path) as store:
        store.add("anne@example.org", "Anne Martin")
    link = urlsplit(links.unsubscribe_link(cfg.letter.unsubscribe_url, identity.secret(cfg), "anne@example.org",
                                           identity.list_id(cfg)))
    return f"{link.path}?{link.query}"


@contextmanager
def public_server(config_path: Path, site: Path) -> Iterator[str]:
    """`digest serve` of this letter on a free loopback port; its base URL."""
    import uvicorn

    from digest.web import public

    application = public.app(public.settings_from(config_path, site))
    server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def take(page: Any, url: str, target: Path, scroll_to: str | None = None) -> None:
    """The page at `url`, what changes hidden, into `target`."""
    page.goto(url, wait_until="load")
    page.add_style_tag(content=VOLATILE)
    if scroll_to:
        page.evaluate("s => document.querySelector(s).scrollIntoView()", scroll_to)
    page.screenshot(path=str(target))


def main() -> None:
    """Serve the pages, photograph each at each width."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "screens")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    options = parser.parse_args()
    if not Path(options.chromium).is_file():
        sys.exit(f"Chromium not found at {options.chromium}: install it with `apt-get install chromium`.")
    options.output.mkdir(parents=True, exist_ok=True)
    for name, width, path in photographs(options.output, options.chromium):
        print(f"{path} ({name}, {width} px)")


def photographs(output: Path, chromium: str) -> Iterator[tuple[str, int, Path]]:
    """Every page at every width into `output`: (page, width, file) as each is written."""
    from playwright.sync_api import Route

    def answer(route: Route) -> None:
        if route.request.url.startswith("http://127.0.0.1"):
            route.continue_()
        elif route.request.resource_type == "image":
            route.fulfill(status=200, content_type="image/svg+xml", body=PLACEHOLDER)
        else:
            route.abort()  # no request leaves the machine

    from digest import i18n

    os.environ.setdefault("DIGEST_SECRET", "screens-only-secret-0123456789")  # the pages' links are signed
    before = i18n.current()
    i18n.use("fr")  # the team's desk, whatever the caller's language (the tests speak English)
    try:
        yield from _served(output, chromium, answer)
    finally:
        i18n.use(before)


def _served(output: Path, chromium: str, answer: Any) -> Iterator[tuple[str, int, Path]]:
    """The letter built, published, its desk and `digest serve` running, each page photographed."""
    from playwright.sync_api import sync_playwright

    from digest.review import desk, preview

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        config_path = project(folder)
        site = published(config_path, folder)
        own = manage_path(config_path)
        session = preview.Preview(config_path, outbox=folder / "empty-outbox")
        running = desk.Running(session).start()
        session.start_watching(timeout=60)  # built here, before Playwright's own event loop runs in this thread
        try:
            with public_server(config_path, site) as base, sync_playwright() as playwright:
                yield from _photograph(playwright, chromium, answer, output, running, base, own)
        finally:
            running.stop()
            session.stop()


def _photograph(playwright: Any, chromium: str, answer: Any, output: Path, running: Any, base: str, own: str
                ) -> Iterator[tuple[str, int, Path]]:
    """Each page at each width, through one browser."""
    browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
    try:
        for width in WIDTHS:
            context = browser.new_context(viewport={"width": width, "height": HEIGHT}, locale="fr-FR",
                                  bypass_csp=True)  # to hide what changes from run to run
            context.route("**/*", answer)
            page = context.new_page()
            page.goto(running.login_url(), wait_until="load")
            page.wait_for_function("() => (window.deskFrames || {})['desktop-frame'] > 0")
            for shot in SHOTS:
                target = output / f"{shot.name}-{width}.png"
                if shot.path == "desk":
                    take(page, running.url, target)
                elif shot.path == "desk-articles":
                    take(page, running.url, target, "#articles")
                else:
                    take(page, base + (own if shot.path == "manage" else shot.path), target)
                yield shot.name, width, target
            context.close()
    finally:
        browser.close()

if __name__ == "__main__":
    main()
