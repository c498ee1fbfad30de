"""Build time and peak memory: the default letter as a whole process, and a large synthetic case.

Targets (issue 2): the default letter in under 1 s as a whole process, imports included; 50 sources × 100
items in under 3 s and 200 MB. Each build runs in a child process, timed from outside; its peak memory is
the highest sum of the RSS of the build and its parsing workers (benchmarks/treemem.py).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from treemem import PeakSampler

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5


def timed_build(config: Path, outbox: Path) -> float:
    """Seconds of one `python -m digest build` process, imports included."""
    began = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "digest", "build", "-c", str(config), "-o", str(outbox)],
                            capture_output=True, text=True, check=False, env={**os.environ, "TERM": "dumb"})
    seconds = time.perf_counter() - began
    if result.returncode != 0:
        sys.exit(f"build failed:\n{result.stdout}\n{result.stderr}")
    return seconds


def peak_memory(config: Path, outbox: Path) -> float:
    """Peak MB of one build and its parsing workers, summed (sampled in a run of its own: sampling /proc
    takes CPU the timed runs should not lose)."""
    process = subprocess.Popen([sys.executable, "-m", "digest", "build", "-c", str(config), "-o", str(outbox)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with PeakSampler(process.pid) as sampler:
        process.wait()
    return max(sampler.peak_mb, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def feed(number: int, items: int) -> str:
    """An SPIP-style RSS feed with `items` entries, each with HTML, a logo and tag links."""
    entries = []
    for i in range(items):
        day = 1 + (i % 19)
        entries.append(f"""<item><title>Source {number} : actualité {i}, coopération décentralisée</title>
<link>https://membre{number}.example.org/actu-{i}</link>
<guid isPermaLink="true">https://membre{number}.example.org/actu-{i}</guid>
<dc:date>2025-11-{day:02d}T09:{i % 60:02d}:00Z</dc:date>
<description>&lt;p&gt;{"La Ville et ses partenaires ont accueilli une délégation " * 6}(…)&lt;/p&gt;
&lt;p&gt;&lt;a href="https://membre{number}.example.org/-Actus-" rel="directory"&gt;Actus&lt;/a&gt;&lt;/p&gt;
</description>
<content:encoded><![CDATA[<img class='spip_logos' width='150' height='100'
 src='https://membre{number}.example.org/IMG/arton{i}.jpg' />
<p>{"Texte complet de l’article. " * 20}</p>]]></content:encoded></item>""")
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>Membre {number}</title><link>https://membre{number}.example.org/</link>
{"".join(entries)}</channel></rss>"""


def large_config(folder: Path, sources: int = 50, items: int = 100) -> Path:
    """sources.toml with `sources` local feeds of `items` entries each, over three sections."""
    lines = [(ROOT / "sources.toml").read_text(encoding="utf-8").split("[[section]]")[0]]
    for section in ("cuf", "collectivites", "partenaires"):
        lines.append(f'[[section]]\nid = "{section}"\ntitle = "{section.title()}"\nmax_items = 15\n')
    for number in range(sources):
        (folder / f"feed{number}.xml").write_text(feed(number, items), encoding="utf-8")
        section = ("cuf", "collectivites", "partenaires")[number % 3]
        lines.append(f'[[source]]\nname = "feed{number}"\nsection = "{section}"\nurl = "feed{number}.xml"\n')
    path = folder / "sources.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def report(name: str, runs: list[float], peak_mb: float, limit_s: float, limit_mb: float | None) -> bool:
    median = statistics.median(runs)
    ok = median < limit_s and (limit_mb is None or peak_mb < limit_mb)
    memory = f", peak {peak_mb:.0f} MB (target < {limit_mb:.0f} MB)" if limit_mb else f", peak {peak_mb:.0f} MB"
    print(f"{name}: median {median:.2f} s, min {min(runs):.2f} s over {len(runs)} runs "
          f"(target < {limit_s:g} s){memory} -> {'ok' if ok else 'MISSED'}")
    return ok


def main() -> int:
    """Run both measurements; exit 1 when a target is missed."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        runs = [timed_build(ROOT / "sources.toml", folder / "out") for _ in range(RUNS)]
        ok = report("default letter, whole process", runs, peak_memory(ROOT / "sources.toml", folder / "o"),
                    1.0, None)
        config = large_config(folder)
        large = [timed_build(config, folder / "large") for _ in range(RUNS)]
        ok &= report("50 sources × 100 items", large, peak_memory(config, folder / "large-m"), 3.0, 200.0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
