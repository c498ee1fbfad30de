"""The subscriber store, the unsubscribe page and the bounce reader at the size of a real list (10 000).

Targets: importing a 10 000-row CSV in 5 s or less; the store's "who left" read (a list send asks it every
100 messages) in 20 ms or less for 10 000 addresses; `digest bounces` over 1 000 real bounce messages in a
Maildir in 30 s or less; `digest serve` answering 20 one-click POSTs per second or more with one worker (the
need: even every one of 10 000 subscribers leaving within the hour after a letter is 3 per second).
"""

from __future__ import annotations

import mailbox
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.audience import bounces  # noqa: E402
from digest.audience.states import Means  # noqa: E402
from digest.audience.subscribers import Subscribers  # noqa: E402
from digest.mail import identity, links  # noqa: E402

COUNT = 10_000
SECRET = "bench-secret-0123456789-abcdefghij"
LIST = "lettre.cites-unies-france.org"
CORPUS = ROOT / "tests" / "data" / "bounces"
TARGETS = {"import": 5.0, "gone": 0.020, "bounces": 30.0, "posts": 20.0}


def bench_store(folder: Path) -> tuple[float, float]:
    """Seconds to import 10 000 rows, and to read who left."""
    csv = folder / "abonnes.csv"
    csv.write_text("email;nom;organisation\n" + "".join(f"user{i:05d}@example.org;Abonné {i};Mairie {i % 90}\n"
                                                         for i in range(COUNT)), encoding="utf-8")
    with Subscribers(folder / "subscribers.sqlite") as store:
        began = time.perf_counter()
        report = store.import_csv(csv)
        imported = time.perf_counter() - began
        assert report.added == COUNT
        for i in range(0, COUNT, 50):
            store.unsubscribe(f"user{i:05d}@example.org", "bench", Means.REMOVE)
        began = time.perf_counter()
        for _ in range(10):
            gone = store.gone()
        asked = (time.perf_counter() - began) / 10
        assert len(gone) == COUNT // 50
    return imported, asked


def bench_bounces(folder: Path) -> float:
    """Seconds for 1 000 bounce messages (the corpus, again and again, each made unique)."""
    box = mailbox.Maildir(folder / "Maildir", create=True)
    files = [p.read_bytes() for p in sorted(CORPUS.glob("*_[0-9][0-9].txt"))]  # not SOURCE.txt
    for number in range(1000):
        box.add(f"X-Bench: {number}\n".encode() + files[number % len(files)])
    with Subscribers(folder / "subscribers.sqlite") as store:
        rules = bounces.rules_for(store, SECRET.encode(), LIST, "lettre-retour@cites-unies-france.org",
                                  "mailto:desinscription@cites-unies-france.org")
        began = time.perf_counter()
        with bounces.FileMailbox(folder / "Maildir", "maildir").opened() as opened:
            summary = bounces.process(opened, store, rules)
        seconds = time.perf_counter() - began
    assert summary.not_understood == 0, summary
    return seconds


def bench_posts(folder: Path) -> float:
    """One-click POSTs per second to a real `digest serve` (one worker) on 127.0.0.1."""
    (folder / "sources.toml").write_text((ROOT / "sources.toml").read_text(encoding="utf-8").replace(
        'url = "samples/', f'url = "{ROOT / "samples"}/'), encoding="utf-8")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "digest", "serve", "-c", str(folder / "sources.toml"),
                                "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "DIGEST_SECRET": SECRET})
    try:
        from digest import config

        cfg = config.load(folder / "sources.toml")
        base = f"http://127.0.0.1:{port}"
        made = [links.unsubscribe_link(cfg.letter.unsubscribe_url, SECRET.encode(), f"user{i:05d}@example.org",
                                              identity.list_id(cfg)) for i in range(500)]
        paths = [link.split("://", 1)[1].split("/", 1)[1] for link in made]
        with httpx.Client(base_url=base) as client:
            for _ in range(300):
                try:
                    client.get("/")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            began = time.perf_counter()
            for path in paths:
                answer = client.post("/" + path, content=b"List-Unsubscribe=One-Click",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
                assert answer.status_code == 200, answer.status_code
            return len(paths) / (time.perf_counter() - began)
    finally:
        process.terminate()
        process.wait(timeout=20)


def main() -> int:
    """Print the figures; exit 1 when a target is missed."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        imported, asked = bench_store(folder)
        read = bench_bounces(folder)
        posts = bench_posts(folder)
    print(f"import of {COUNT} rows: {imported:.2f} s (target {TARGETS['import']:g} s)")
    print(f"who left, {COUNT} addresses: {asked * 1000:.1f} ms (target {TARGETS['gone'] * 1000:g} ms)")
    print(f"digest bounces, 1000 messages: {read:.2f} s (target {TARGETS['bounces']:g} s)")
    print(f"digest serve, one-click POSTs: {posts:.0f} per second (target {TARGETS['posts']:g})")
    missed = [imported > TARGETS["import"], asked > TARGETS["gone"], read > TARGETS["bounces"],
              posts < TARGETS["posts"]]
    return 1 if any(missed) else 0


if __name__ == "__main__":
    sys.exit(main())
