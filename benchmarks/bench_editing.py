"""Editorial control at scale: near-duplicate merging, history of a year of letters, recurring events.

Targets (2 cores): selecting 2,000 items with near-duplicate checks under 1.5 s; reading 24 earlier letters'
digest.json under 0.2 s; expanding 50 weekly events over 180 days under 1 s. Exits 1 when one is missed.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest import config, letterfolder, selector  # noqa: E402
from digest.collectors import ics  # noqa: E402
from digest.collectors.base import Context, Fetched  # noqa: E402
from digest.model import Collected, Item  # noqa: E402

TODAY = date(2025, 11, 20)
WORDS = ["coopération", "décentralisée", "jeunesse", "climat", "eau", "solidarité", "Vietnam", "Sénégal", "Maroc",
         "Liban", "Palestine", "Ukraine", "webinaire", "atelier", "assises", "fonds", "appel", "projets",
         "rencontre", "mission", "délégation"]


def items(count: int) -> list[Collected]:
    """`count` news items over 4 sources, distinct titles, one in ten a near-copy of another source's item."""
    results: dict[str, list[Item]] = {name: [] for name in ("cuf-actualites", "collectivites", "breves")}
    names = list(results)
    for n in range(count):
        base = n - 1 if n % 10 == 9 else n  # one in ten: a near copy of the previous item, from another source
        words = " ".join(WORDS[(base * k) % len(WORDS)] for k in (1, 3, 7, 11, 13))
        title = f"{words} {base}" if base == n else f"La {words.upper()} : {base} !"
        results[names[n % 3]].append(Item(
            uid=f"u{n}", source=names[n % 3], title=title, url=f"https://e.org/{n}",
            date=datetime(2025, 11, 1, tzinfo=UTC) + timedelta(minutes=n), summary="x" * (n % 50)))
    return [Collected(name, tuple(found)) for name, found in results.items()]


def timed(action: object) -> float:
    began = time.perf_counter()
    action()  # type: ignore[operator]
    return time.perf_counter() - began


def main() -> int:
    """Print the figures; exit 1 when a target is missed."""
    cfg = config.load(ROOT / "sources.toml")
    collected = items(2000)
    selection = selector.select(cfg, collected, TODAY)
    # counted from what the selection left out, not from its notes (which speak the team's language)
    merged = sum(1 for gone in selection.left_out if gone.reason == selector.DUPLICATE)
    select_s = min(timed(lambda: selector.select(cfg, collected, TODAY)) for _ in range(3))
    with tempfile.TemporaryDirectory() as folder:
        for month in range(24):
            day = date(2023, 11, 20) + timedelta(days=31 * month)
            record = {"sections": [{"items": [{"uid": f"{month}-{n}", "url": f"https://e.org/{month}/{n}"}
                                              for n in range(30)]}]}
            (Path(folder) / day.isoformat()).mkdir()
            (Path(folder) / day.isoformat() / "digest.json").write_text(json.dumps(record), encoding="utf-8")
        history_s = min(timed(lambda: letterfolder.load_history(Path(folder), TODAY, lambda day: True))
                        for _ in range(3))
    events = "".join(f"BEGIN:VEVENT\nUID:e{n}\nSUMMARY:Permanence {n}\nDTSTAMP:20251101T000000Z\n"
                     f"DTSTART;TZID=Europe/Paris:20251103T{10 + n % 8:02d}0000\nRRULE:FREQ=WEEKLY\nEND:VEVENT\n"
                     for n in range(50))
    body = f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//b//FR\n{events}END:VCALENDAR\n".encode()
    source = config.SourceConfig("agenda", "agenda", "a.ics", "a.ics", "ics", 1.0)
    ctx = Context(tz=ZoneInfo("Europe/Paris"), today=TODAY, horizon_days=180)
    occurrences = len(ics.collect(source, Fetched(body, "a.ics"), ctx).items)
    expand_s = min(timed(lambda: ics.collect(source, Fetched(body, "a.ics"), ctx)) for _ in range(3))
    print(f"select 2000 items with near-duplicates: {select_s * 1000:.0f} ms "
          f"({merged} near-copies merged, 200 expected)")
    print(f"history of 24 letters (720 items): {history_s * 1000:.1f} ms")
    print(f"50 weekly events over 180 days: {occurrences} occurrences in {expand_s * 1000:.0f} ms")
    missed = [name for name, value, target in (("select", select_s, 1.5), ("history", history_s, 0.2),
                                                ("recurring", expand_s, 1.0)) if value > target]
    if merged != 200:
        missed.append(f"near-duplicates ({merged} merged)")
    if missed:
        print(f"missed: {', '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
