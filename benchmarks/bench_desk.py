"""The editorial desk's reaction times, in Debian's Chromium (Playwright), on the default letter.

Targets (medians): from the click event on an item's button to the first frame painted with the new letter
≤ 100 ms (issue 34; 300 ms in issue 11, 150 ms in issue 23); from a hand save of the issue file to the letter
shown ≤ 300 ms (issue 11); from the édito's last keystroke to the letter showing it ≤ 300 ms, and the desk opened
again to its letter painted ≤ 500 ms (issue 34). The page notes when a frame painted its letter (desk.js,
window.deskFrames: after the next animation frame once the letter is in the frame's document).
Remote images are not fetched (offline machine): the frame's load does not wait for the network.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.preview_support import make_site, running, with_issue  # noqa: E402

RUNS = 20  # even: each series ends with the item back in the letter; 20 steady the median on a busy machine
TARGET_MS = 300
CLICK_TARGET_MS = 100
KEY_TARGET_MS, LOAD_TARGET_MS = 300, 500
CHROMIUM = "/usr/bin/chromium"
# The page notes its own times (window.deskFrames, window.clickedAt); the robot looks every 50 ms, not on every
# frame (Playwright's default): reading the whole letter's text on each frame took the CPU that is being timed.
POLL_MS = 50
SETTLE_MS = 1000
TITLE = "Atelier du groupe-pays Sénégal"
SENEGAL = "https://cites-unies-france.org/atelier-du-groupe-pays-senegal-le-19-novembre-2025"


def loaded_after(page: Any, since: float, present: bool) -> float:
    """Milliseconds from `since` (epoch ms) to the desktop frame's load showing (or not) the item's title."""
    page.wait_for_function(
        "([since, title, present]) => (window.deskFrames || {})['desktop-frame'] >= since && "
        "document.querySelector('#desktop-frame').contentDocument.body.innerText.includes(title) === present",
        arg=[since, TITLE, present], timeout=10_000, polling=POLL_MS)
    return float(page.evaluate("window.deskFrames['desktop-frame']")) - since


def click_times(page: Any) -> list[float]:
    """Exclude then reinstate the item, again and again: click to new letter on screen, each time."""
    times = []
    for number in range(RUNS):
        excluding = number % 2 == 0
        card = page.locator("li.card").filter(has=page.locator("h4", has_text=TITLE))
        button = card.get_by_role("button", name="Exclure" if excluding else "Réintégrer")
        button.wait_for()
        page.wait_for_function("() => document.body.dataset.pending === '0'", polling=POLL_MS)
        button.click()
        # Timed from the click event itself: Playwright's checks before it clicks (the button visible, stable
        # over two animation frames, hit-tested) are the robot's time, not the desk's.
        since = float(page.evaluate("window.clickedAt"))
        times.append(loaded_after(page, since, present=not excluding))
    return times


def save_times(page: Any, issue: Path) -> list[float]:
    """Exclude the item by hand in the issue file, then take it back: file save to reloaded letter."""
    base = issue.read_text(encoding="utf-8")  # the clicks left an empty exclude list
    excluded = base.replace("exclude = [\n]", f'exclude = ["{SENEGAL}"]')
    assert excluded != base
    times = []
    for number in range(RUNS):
        page.wait_for_function("() => document.body.dataset.pending === '0'", polling=POLL_MS)
        page.wait_for_timeout(100)
        since = time.time() * 1000
        issue.write_text(excluded if number % 2 == 0 else base, encoding="utf-8")
        times.append(loaded_after(page, since, present=number % 2 == 1))
    return times


def keystroke_times(page: Any) -> list[float]:
    """Type a word at the end of the édito: its last keystroke to the letter showing it."""
    times = []
    editorial = page.locator("#editorial")
    for number in range(RUNS):
        page.wait_for_function("() => document.body.dataset.pending === '0'", polling=POLL_MS)
        word = f"mot{number}x"
        editorial.focus()
        page.keyboard.press("End")
        page.keyboard.type(" " + word[:-1])
        since = time.time() * 1000
        page.keyboard.type(word[-1])
        page.wait_for_function(
            "([since, word]) => (window.deskFrames || {})['desktop-frame'] >= since && "
            "document.querySelector('#desktop-frame').contentDocument.body.innerText.includes(word)",
            arg=[since, word], timeout=10_000, polling=POLL_MS)
        times.append(float(page.evaluate("window.deskFrames['desktop-frame']")) - since)
    return times


def load_times(browser: Any, server: Any) -> list[float]:
    """The desk opened again (reloaded, its user logged in, the browser running): from the navigation to the
    letter painted in its frame."""
    times = []
    for _run in range(RUNS):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(server.login_url())
        page.wait_for_function("() => (window.deskFrames || {})['desktop-frame'] > 0", polling=POLL_MS)
        # A browser profile just made is busy for a moment after its first page (its caches filled, the page's
        # script compiled and cached): the desk is timed when opened again in a browser that has settled, as a
        # person's browser is, not while it finishes that work (which cost ~100 ms more here, and varied twice as much).
        page.wait_for_timeout(SETTLE_MS)
        since = time.time() * 1000
        page.reload()
        page.wait_for_function("since => (window.deskFrames || {})['desktop-frame'] >= since", arg=since,
                               polling=POLL_MS)
        times.append(float(page.evaluate("window.deskFrames['desktop-frame']")) - since)
        context.close()
    return times


def main() -> int:
    """Print the medians; exit 1 when one misses its target."""
    from playwright.sync_api import sync_playwright

    from digest import i18n

    i18n.use("fr")  # the team's desk (the tests' support module, imported above, chose English for the tests)
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        issue = with_issue(Path(folder))
        # Names other than loopback do not resolve (no request leaves the machine, as with no network), without
        # Playwright's request interception, whose round trips to this process would be timed too.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.add_init_script("document.addEventListener('click', () => { window.clickedAt = Date.now(); }, true)")
        with running(make_site(Path(folder))) as (_session, server):
            page.goto(server.login_url())  # the URL `digest preview` prints, with its one-time key
            page.wait_for_function("() => (window.deskFrames || {})['desktop-frame'] > 0", polling=POLL_MS)
            clicks = click_times(page)
            saves = save_times(page, issue)
            keys = keystroke_times(page)
            loads = load_times(browser, server)
        browser.close()
    click, save = statistics.median(clicks), statistics.median(saves)
    print(f"desk, click to new letter:  {click:6.0f} ms median, {max(clicks):.0f} ms max "
          f"(issue 34: ≤ {CLICK_TARGET_MS} ms)")
    print(f"desk, file save to reload:  {save:6.0f} ms median, {max(saves):.0f} ms max (target ≤ {TARGET_MS} ms)")
    key, load = statistics.median(keys), statistics.median(loads)
    print(f"desk, édito keystroke to letter: {key:6.0f} ms median, {max(keys):.0f} ms max "
          f"(issue 34: ≤ {KEY_TARGET_MS} ms)")
    print(f"desk, first load to letter: {load:6.0f} ms median, {max(loads):.0f} ms max "
          f"(issue 34: ≤ {LOAD_TARGET_MS} ms)")
    return 1 if click > CLICK_TARGET_MS or save > TARGET_MS or key > KEY_TARGET_MS or load > LOAD_TARGET_MS else 0


if __name__ == "__main__":
    sys.exit(main())
