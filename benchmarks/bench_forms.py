"""The contribution form under a picture attack (issue 29): a real `digest serve --workers 2` on 127.0.0.1, 16
loops posting small files that decode huge (a 2 KB WebP of 16383 x 3000, a 370 KB 16-bit PNG of 8000 x 6000) for
20 s, while an honest member posts a 12-megapixel phone photo every second. Twice:

- as in the issue, the attacker is one client (one IPv6 /64) and the form's caps are the defaults: after its
  first posts, every post is answered before its photo is opened;
- then each bomb from its own client and address, the caps raised out of reach: the decoding path itself.

Targets, in both: the server's summed peak memory (PSS of the serve process and its workers) at most 600 MB,
back under 400 MB after; in the first, every honest post answered within 2 s (the second's is reported).
"""

from __future__ import annotations

import io
import itertools
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.serving import serving  # noqa: E402
from benchmarks.treemem import PeakSampler, tree_rss_mb  # noqa: E402
from tests.send_support import config_text  # noqa: E402
from tests.smtp_sink import Sink  # noqa: E402
from tests.test_contribute import png16  # noqa: E402

LOOPS = 16
SECONDS = 20.0
PATH = "/lettre/contribuer"
TARGETS = {"peak_mb": 600.0, "after_mb": 400.0, "honest_s": 2.0}
_numbers = itertools.count()


def attack_files() -> list[tuple[str, bytes, str]]:
    """The two bombs of the issue."""
    webp = io.BytesIO()
    Image.new("RGBA", (16383, 3000)).save(webp, "WEBP", lossless=True)
    return [("bombe.webp", webp.getvalue(), "image/webp"), ("bombe.png", png16(8000, 6000), "image/png")]


def phone_photo() -> bytes:
    out = io.BytesIO()
    Image.effect_noise((4000, 3000), 60).convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def post(client: httpx.Client, base: str, file: tuple[str, bytes, str], *, honest: bool = False,
         one_client: bool = False) -> int:
    number = next(_numbers)
    data = {"collectivite": "Ville de Nancy", "contact": "Anne Martin", "email": f"m{number}@nancy.fr",
            "titre": f"Atelier {number}", "texte": "Un atelier a réuni les deux villes.", "alt": "Un atelier",
            "droits": "oui"}
    client_ip = (f"2001:db8:{number // 65000 + (0 if honest else 1):x}:{number % 65000:x}::1" if not one_client
                 else f"2001:db8:bad:1::{number % 65000:x}")
    answer = client.post(base + PATH, data=data, files={"photo": file}, headers={
        "X-Forwarded-For": client_ip, "Origin": "https://cites-unies-france.org"})
    return answer.status_code


def attack(caps: str, one_client: bool, bombs: list[tuple[str, bytes, str]], photo: bytes) -> dict[str, float]:
    """One run against a fresh server: its figures."""
    honest_times: list[float] = []
    answers: dict[int, int] = {}
    with tempfile.TemporaryDirectory() as tmp, Sink() as sink:
        folder = Path(tmp)
        (folder / "sources.toml").write_text(config_text(sink.port) + f"""
[subscribe]
{caps}
[contribute]
url = "https://cites-unies-france.org{PATH}"
section = "collectivites"
""" + ("per_ip_hour = 1000000\n" if caps else ""), encoding="utf-8")
        with serving(folder / "sources.toml", PATH, "--workers", "2") as (process, base):
            idle = tree_rss_mb(process.pid)
            stop = time.monotonic() + SECONDS
            lock = threading.Lock()

            def bomb(which: int) -> None:
                with httpx.Client(timeout=60) as client:
                    while time.monotonic() < stop:
                        status = post(client, base, bombs[which % 2], one_client=one_client)
                        with lock:
                            answers[status] = answers.get(status, 0) + 1

            def honest() -> None:
                with httpx.Client(timeout=60) as client:
                    while time.monotonic() < stop:
                        began = time.perf_counter()
                        assert post(client, base, ("IMG_2024.jpg", photo, "image/jpeg"), honest=True) == 200
                        honest_times.append(time.perf_counter() - began)
                        time.sleep(max(0.0, 1.0 - (time.perf_counter() - began)))

            with PeakSampler(process.pid) as sampler:
                threads = [threading.Thread(target=bomb, args=(n,)) for n in range(LOOPS)]
                threads.append(threading.Thread(target=honest))
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            time.sleep(2.0)  # the workers settle: what they keep after the attack
            after = tree_rss_mb(process.pid)
    print(f"{LOOPS} loops of decompression bombs for {SECONDS:g} s against 2 workers, "
          f"{'one client, default caps' if one_client else 'each its own client, no cap reached'}: "
          f"{sum(answers.values())} posts answered {dict(sorted(answers.items()))}")
    worst = max(honest_times) if honest_times else float("inf")
    print(f"  server memory: idle {idle:.0f} MB, peak {sampler.peak_mb:.0f} MB (target {TARGETS['peak_mb']:g}), "
          f"after {after:.0f} MB (target {TARGETS['after_mb']:g}); honest 12-megapixel photo posts meanwhile: "
          f"{len(honest_times)}, slowest {worst:.2f} s")
    return {"peak": sampler.peak_mb, "after": after, "honest": worst}


def main() -> int:
    """Print the figures; exit 1 when a target is missed."""
    bombs, photo = attack_files(), phone_photo()
    capped = attack("", True, bombs, photo)
    open_ = attack("mails_per_hour = 1000000", False, bombs, photo)
    ok = all(run["peak"] <= TARGETS["peak_mb"] and run["after"] <= TARGETS["after_mb"] for run in (capped, open_))
    ok = ok and capped["honest"] <= TARGETS["honest_s"]
    print(f"target: peak at most {TARGETS['peak_mb']:g} MB, after at most {TARGETS['after_mb']:g} MB, an honest "
          f"post within {TARGETS['honest_s']:g} s under the issue's attack -> {'ok' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
