"""The pre-send check's cost and the preview's reaction time.

Targets (issue 5): the whole report (CSS table included) on the default letter under 150 ms; on a letter near
Gmail's clipping size (~100 KB of HTML) under 500 ms; a saved template reaches the open page's event stream
(file-system event + rebuild + event) in under 300 ms (issue 11; it was 1.5 s with polling).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
import urllib.request
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest import config, pipeline  # noqa: E402
from digest.review import (  # noqa: E402
    check,
    cssdata,
)
from tests.preview_support import cookie_for, edit, make_site, running  # noqa: E402

RUNS = 7
REACTION_TARGET = 0.3


def median_ms(action: object, runs: int = RUNS) -> float:
    """The median wall time of `action()` in milliseconds."""
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        action()  # type: ignore[operator]
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def check_costs() -> tuple[float, float, float]:
    """Median ms of the report on the default letter and on a ~100 KB one, and that HTML's size in KB."""
    cfg = config.load(ROOT / "sources.toml")
    built = pipeline.build(cfg, cfg.letter.date or date.today(), out=None)
    cssdata.load()  # read once per process, as a CLI run does; not part of each check
    default = median_ms(lambda: check.run(built))
    rendered = built.rendered
    body = rendered.html[rendered.html.index("<body"):].split(">", 1)[1].rsplit("</body>", 1)[0]
    big_html = rendered.html
    while len(big_html.encode("utf-8")) < 100 * 1024:  # the letter's items again, up to Gmail's limit
        big_html = big_html.replace("</body>", body[:20_000] + "</body>", 1)
    big = replace(built, rendered=replace(rendered, html=big_html))
    large = median_ms(lambda: check.run(big))
    return default, large, len(big_html.encode("utf-8")) / 1024


def next_build(events: Any) -> dict[str, Any]:
    """The data of the next 'build' event on an open event stream."""
    while True:
        line = events.readline()
        if line.startswith(b"data:"):
            return json.loads(line[5:])  # type: ignore[no-any-return]


def reaction_seconds() -> list[float]:
    """Seconds from saving a template to the rebuild event on an open stream, a few times."""
    seconds = []
    with tempfile.TemporaryDirectory() as folder:
        path = make_site(Path(folder))
        template = Path(folder) / "templates" / "letter.mjml.j2"
        with running(path) as (_session, server), \
                urllib.request.urlopen(urllib.request.Request(server.url + "events", headers=cookie_for(server.url)),
                                       timeout=10) as events:
            next_build(events)  # the current version, sent at once
            for number in range(5):
                began = time.perf_counter()
                edit(template, "{{ letter.title }}", f"{{{{ letter.title }}}}<!-- {number} -->")
                assert next_build(events)["ok"]
                seconds.append(time.perf_counter() - began)
                edit(template, f"<!-- {number} -->", "")
                next_build(events)
    return seconds


def main() -> int:
    """Print the figures; exit 1 when a target is missed."""
    default, large, size = check_costs()
    reactions = reaction_seconds()
    print(f"check, default letter:      {default:7.1f} ms (target < 150 ms)")
    print(f"check, {size:5.1f} KB letter:     {large:7.1f} ms (target < 500 ms)")
    print(f"preview, save to event:     {statistics.median(reactions):7.2f} s median, {max(reactions):.2f} s max "
          f"(target < {REACTION_TARGET} s, median)")
    missed = default >= 150 or large >= 500 or statistics.median(reactions) >= REACTION_TARGET
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
