"""Reading 300 members' sites: the first collection (feeds looked for, then read), the next one, peak memory.

300 sites shaped like French local authorities' (tests/cms_sites.py): 40 % WordPress, 25 % SPIP, 10 % Drupal,
5 % Joomla, 5 % TYPO3, 5 % with a sitemap only, 5 % without a feed, 3 % whose feed fails (500), 2 % slow (their
feed answers after 5 s); each with ten articles, two on international action. They are served by another process
(it does not share the collector's GIL) on 30 loopback addresses, ten sites each (127.0.0.2 to 127.0.0.31: 30
hosts, so that [fetch] per_host is the real politeness), every answer delayed by 100 ms like a distant server.
digest runs with the default [fetch] settings (32 connections, 4 per host, a 60 s deadline).

Targets (issue 37): the 300 sites within the collection's deadline (60 s) on two cores, every proposal found;
the next collection (feeds known, unchanged feeds answered 304) under 15 s.
"""

from __future__ import annotations

import multiprocessing
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.collectors import collect_all  # noqa: E402 (after the path is set)
from digest.collectors.base import Context  # noqa: E402
from digest.config import FetchConfig, MemberSitesConfig, SourceConfig  # noqa: E402
from tests.cms_sites import Article, Site, serving  # noqa: E402

SITES, HOSTS = 300, 30
DELAY, SLOW = 0.1, 5.0
MIX = (("wordpress", 40), ("spip", 25), ("drupal", 10), ("joomla", 5), ("typo3", 5), ("sitemap", 5),
       ("nofeed", 5), ("failing", 3), ("slow", 2))
TARGET_FIRST, TARGET_SECOND = 60.0, 15.0
TODAY = datetime(2026, 12, 1, tzinfo=UTC)


def kinds() -> list[str]:
    """The CMS of each of the 300 sites, in the mix above."""
    made = [kind for kind, percent in MIX for _ in range(SITES * percent // 100)]
    return (made + ["wordpress"] * SITES)[:SITES]


def articles(number: int) -> list[Article]:
    """Ten articles of a member's site: two on its international action."""
    day = TODAY - timedelta(days=number % 20 + 1)
    made = [Article(f"Jumelage : la ville {number} reçoit une délégation de sa ville jumelle",
                    "Trois jours d'échanges.", day, f"jumelage-{number}"),
            Article(f"Coopération décentralisée avec le Sénégal : bilan {number}", "Des projets d'assainissement.", day,
                    f"senegal-{number}")]
    made += [Article(f"Conseil municipal {number} : ordre du jour n° {k}", "Budget, tarifs et subventions.", day,
                     f"conseil-{number}-{k}") for k in range(8)]
    return made


def serve(host_number: int, sites: list[tuple[int, str]], ready: multiprocessing.Queue,  # type: ignore[type-arg]
          stop: multiprocessing.Event) -> None:  # type: ignore[valid-type]
    """(Server process.) Serve ten sites on 127.0.0.<host_number> until told to stop."""
    made = [Site(f"/site-{n}/", kind, articles(n)) for n, kind in sites]
    with serving(made, f"127.0.0.{host_number}", delay=DELAY, slow_seconds=SLOW) as server:
        ready.put((host_number, server.base))
        stop.wait()  # type: ignore[attr-defined]


def members_file(folder: Path, bases: dict[int, str]) -> tuple[Path, int]:
    """The members file naming the 300 sites; how many of them carry proposals to find."""
    rows, expected = ["collectivite;domaines;site"], 0
    for n, kind in enumerate(kinds()):
        host = 2 + n % HOSTS
        rows.append(f"Ville {n};ville{n}.fr;{bases[host]}/site-{n}/")
        expected += 2 if kind not in ("nofeed", "failing") else 0  # a slow site answers within the deadline
    path = folder / "adherents.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path, expected


def main() -> int:
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Queue(), context.Event()
    by_host: dict[int, list[tuple[int, str]]] = {}
    for n, kind in enumerate(kinds()):
        by_host.setdefault(2 + n % HOSTS, []).append((n, kind))
    servers = [context.Process(target=serve, args=(h, s, ready, stop), daemon=True) for h, s in by_host.items()]
    for process in servers:
        process.start()
    bases = dict(ready.get(timeout=60) for _ in servers)
    try:
        with tempfile.TemporaryDirectory() as folder:
            members, expected = members_file(Path(folder), bases)
            source = SourceConfig(name="sites", section="collectivites", url=str(members), location=str(members),
                                  format="member-sites")
            settings = FetchConfig(cache_dir=Path(folder) / "cache")
            ctx = Context(tz=ZoneInfo("Europe/Paris"), today=TODAY.date())
            timings, found = [], []
            for _run in range(2):
                began = time.perf_counter()
                result = collect_all((source,), ctx, settings, member_sites=MemberSitesConfig())
                timings.append(time.perf_counter() - began)
                found.append(len(result[0].items))
    finally:
        stop.set()
        for process in servers:
            process.join(timeout=10)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{SITES} members' sites on {HOSTS} hosts, {DELAY * 1000:.0f} ms per answer, default [fetch]:")
    print(f"  first collection (feeds looked for, then read): {timings[0]:.1f} s, {found[0]} proposals of "
          f"{expected} (target < {TARGET_FIRST:.0f} s, all found)")
    print(f"  next collection (feeds known, 304s): {timings[1]:.1f} s, {found[1]} proposals "
          f"(target < {TARGET_SECOND:.0f} s)")
    print(f"  peak memory of the collecting process: {peak:.0f} MB")
    ok = timings[0] < TARGET_FIRST and timings[1] < TARGET_SECOND and found == [expected, expected]
    print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
