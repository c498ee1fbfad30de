"""A scheduled send starts within a minute of its time: `digest serve --workers 2` on a store of 2 000
subscribers, a send scheduled a few seconds ahead (at varied offsets, so the clock's tick is met at every phase);
the delay from its time to the first copy an SMTP server on 127.0.0.1 receives, and the send's rate."""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.serving import serving  # noqa: E402
from digest import config  # noqa: E402
from digest.delivery.schedule import Schedules, State  # noqa: E402
from digest.letterfolder import read_built  # noqa: E402
from tests.conftest import LETTER_DATE  # noqa: E402
from tests.send_support import build_letter, digest, setup, subscribers  # noqa: E402
from tests.smtp_sink import Sink  # noqa: E402

SUBSCRIBERS = 2000
OFFSETS = (2.0, 5.5, 9.0)  # seconds ahead of now: where the send's time falls between two ticks
TARGET = 60.0  # seconds from its time to its first copy


def one_round(built: Path, folder: Path, offset: float) -> tuple[float, float]:
    """The delay from the send's time to its first copy, and the copies a second; seconds."""
    with Sink() as sink:
        path = setup(folder, built, sink.port, '\n[send]\nteam = "equipe@example.org"\n')
        imported = digest("subscribers", "import", str(subscribers(folder / "abonnes.csv", SUBSCRIBERS)), "-c",
                          str(path), "--consent", "bench")
        assert imported.exit_code == 0, imported.output
        cfg = config.load(path)
        with serving(path, "/", "--workers", "2"):
            at = datetime.now(UTC) + timedelta(seconds=offset)
            with Schedules(cfg.subscribers_path) as schedules:
                sid = schedules.add(LETTER_DATE, read_built(cfg.outbox, LETTER_DATE).fingerprint, at, "").id
            deadline = time.monotonic() + 180
            while True:
                with Schedules(cfg.subscribers_path) as schedules:
                    found = schedules.get(sid)
                assert found is not None and time.monotonic() < deadline, "the send never ended"
                if found.state == State.DONE:
                    break
                time.sleep(0.2)
        copies = [r for r in sink.recorder.received if r.rcpt.startswith("user")]
        assert len(copies) == SUBSCRIBERS and len({r.rcpt for r in copies}) == SUBSCRIBERS
        from email.utils import parsedate_to_datetime

        dates = sorted(parsedate_to_datetime(r.message["Date"]) for r in copies)
        return (dates[0] - at).total_seconds(), SUBSCRIBERS / max((dates[-1] - dates[0]).total_seconds(), 1.0)


def main() -> int:
    """Print the figures; exit 1 when the target is missed."""
    with tempfile.TemporaryDirectory() as tmp:
        built = build_letter(Path(tmp) / "built")
        figures = [one_round(built, Path(tmp) / f"round{n}", offset) for n, offset in enumerate(OFFSETS)]
    delays = [d for d, _rate in figures]
    print(f"scheduled send, {SUBSCRIBERS} subscribers, digest serve --workers 2: first copy "
          + ", ".join(f"{d:.1f} s" for d in delays) + f" after its time (target {TARGET:g} s); "
          + "rate " + ", ".join(f"{rate:.0f}/s" for _d, rate in figures))
    return 0 if max(delays) < TARGET else 1


if __name__ == "__main__":
    import os

    os.environ.setdefault("DIGEST_SECRET", "test-secret-0123456789-abcdefghij")
    sys.exit(main())
