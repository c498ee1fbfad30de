"""The subscribe form under a burst: 50 form posts at once to a real `digest serve` (one worker) on 127.0.0.1,
each from its own client (X-Forwarded-For, as the reverse proxy says it) for a new address.

Targets: the 95th percentile of the answers' times under 100 ms (a post never waits on SMTP: its mail is queued
in the store); each confirmation mail received by a local SMTP server (aiosmtpd) within 10 s of its post.

Then the enumeration probe (issue 29): one post at a time for addresses in each of seven states (new, waiting,
subscribed, unsubscribed, bounced, complained, erased), interleaved; target: the medians of the states' answer
times within 10 ms of each other (the answer, its status and its headers are the same: tests/test_subscribe.py).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.serving import serving  # noqa: E402
from tests.send_support import config_text  # noqa: E402
from tests.smtp_sink import Sink  # noqa: E402

POSTS = 50
ROUNDS = 3
TARGETS = {"p95": 0.100, "mail": 10.0, "spread": 0.010}
STATES = ("new", "pending", "subscribed", "unsubscribed", "bounced", "complained", "erased")
PROBES = 25
PATH = "/lettre/inscription"


async def burst(port: int, round_: int) -> tuple[list[float], dict[str, float]]:
    """POSTS form posts at once, each on its own connection: each answer's seconds (connecting included), and
    when each was posted (by address). A plain socket writes each request, so that the figures are the
    server's, not an HTTP client library's (on 2 cores the client shares the machine)."""
    async def one(number: int) -> tuple[str, float, float]:
        email = f"bench{round_}-{number:03d}@example.org"
        body = urlencode({"email": email, "nom": f"Abonné {number}", "consentement": "oui"}).encode()
        request = (f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: https://cites-unies-france.org\r\n"
                   f"X-Forwarded-For: 198.51.100.{number + 1}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                   f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
        began = time.perf_counter()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        answer = await reader.read()
        seconds = time.perf_counter() - began
        writer.close()
        assert answer.startswith(b"HTTP/1.1 200") and "Vérifiez votre boîte".encode() in answer, answer[:100]
        return email, began, seconds
    done = await asyncio.gather(*(one(n) for n in range(POSTS)))
    return [seconds for _email, _began, seconds in done], {email: began for email, began, _s in done}


def prepare(store: Path) -> dict[str, list[str]]:
    """Addresses in each state, PROBES of each, written into the store before the server starts."""
    from digest.audience.joining import Signups
    from digest.audience.states import Means, Status

    addresses = {state: [f"probe-{state}-{n:02d}@example.org" for n in range(PROBES)] for state in STATES}
    with Signups(store) as signups:
        for state in STATES[2:]:
            for email in addresses[state]:
                signups.subscribers.add(email)
                if state == "unsubscribed":
                    signups.subscribers.unsubscribe(email, "bench", Means.REMOVE)
                elif state in ("bounced", "complained"):
                    signups.subscribers.set_status(email, Status(state), "bench", Means.BOUNCE)
                elif state == "erased":
                    signups.subscribers.erase(email)
    return addresses


def probe(base: str, addresses: dict[str, list[str]]) -> dict[str, float]:
    """The median answer time of each state's posts, one post at a time, the states interleaved."""
    times: dict[str, list[float]] = {state: [] for state in STATES}
    with httpx.Client() as client:
        for email in addresses["pending"]:  # waiting for their confirmation: asked once already
            client.post(base + PATH, data={"email": email, "consentement": "oui"},
                        headers={"X-Forwarded-For": "203.0.113.250"})
        for number in range(PROBES):
            for state in STATES:
                began = time.perf_counter()
                answer = client.post(base + PATH, data={"email": addresses[state][number], "consentement": "oui"},
                                     headers={"X-Forwarded-For": f"192.0.2.{number % 250 + 1}"})
                times[state].append(time.perf_counter() - began)
                assert answer.status_code == 200
    return {state: statistics.median(values) for state, values in times.items()}


def main() -> int:
    """Print the figures; exit 1 when a target is missed."""
    with tempfile.TemporaryDirectory() as tmp, Sink() as sink:
        folder = Path(tmp)
        received: dict[str, float] = {}
        handler = sink.recorder.handle_DATA

        async def stamped(server: object, session: object, envelope: object) -> str:
            received.setdefault(envelope.rcpt_tos[0], time.perf_counter())  # type: ignore[attr-defined]
            return await handler(server, session, envelope)  # type: ignore[arg-type]

        sink.recorder.handle_DATA = stamped  # type: ignore[method-assign]
        (folder / "sources.toml").write_text(config_text(sink.port) + (
            '\n[subscribe]\nurl = "https://cites-unies-france.org/lettre/inscription"\nper_ip_hour = 1000\n'
            'mails_per_hour = 100000\n'),
            encoding="utf-8")
        addresses = prepare(folder / "subscribers.sqlite")
        with serving(folder / "sources.toml", PATH) as (_process, base):
            port = int(base.rpartition(":")[2])
            times: list[float] = []
            posted: dict[str, float] = {}
            for round_ in range(ROUNDS):
                seconds, began = asyncio.run(burst(port, round_))
                times += seconds
                posted |= began
                time.sleep(0.5)
            deadline = time.monotonic() + 30
            while len(received) < len(posted) and time.monotonic() < deadline:
                time.sleep(0.05)
            medians = probe(base, addresses)
    p95 = statistics.quantiles(times, n=20)[-1]
    delays = [received[email] - began for email, began in posted.items() if email in received]
    slowest = max(delays) if len(delays) == len(posted) else float("inf")
    print(f"{ROUNDS} bursts of {POSTS} form posts at once, one worker: "
          f"median {statistics.median(times) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
          f"max {max(times) * 1000:.0f} ms (target p95 {TARGETS['p95'] * 1000:g} ms)")
    print(f"confirmation mails received: {len(delays)} of {len(posted)}; post to mail median "
          f"{statistics.median(delays) if delays else float('inf'):.2f} s, slowest {slowest:.2f} s "
          f"(target {TARGETS['mail']:g} s)")
    spread = max(medians.values()) - min(medians.values())
    print("enumeration probe, median answer per state: " + ", ".join(
        f"{state} {seconds * 1000:.1f} ms" for state, seconds in medians.items())
        + f"; spread {spread * 1000:.1f} ms (target {TARGETS['spread'] * 1000:g} ms)")
    return 0 if p95 < TARGETS["p95"] and slowest < TARGETS["mail"] and spread < TARGETS["spread"] else 1


if __name__ == "__main__":
    sys.exit(main())
