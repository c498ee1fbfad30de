"""A send at its hour: `digest send --list --at` records it after the same questions as a send now; `digest serve`
performs it at that time, exactly once across its workers, even when the one sending is killed; where no server
runs, `digest send --due` (cron) does. Late, rebuilt or unapproved sends are held and the team is told."""

from __future__ import annotations

import os
import signal
import sqlite3
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest import config
from digest.delivery import schedule
from digest.delivery.schedule import Held, Schedules, State
from digest.letterfolder import read_built
from tests.conftest import LETTER_DATE
from tests.send_support import DAY, built, digest, setup, sink, subscribers, waited
from tests.smtp_sink import Recorder, Sink
from tests.test_serve import start

__all__ = ["built", "sink"]
pytestmark = pytest.mark.usefixtures("secret")
TEAM = '\n[send]\nteam = "equipe@example.org"\n'
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def site(tmp_path: Path, built: Path, sink: Sink) -> Path:
    """A built letter, a sources.toml naming the team's address, twelve subscribers in the store."""
    path = setup(tmp_path, built, sink.port, TEAM)
    imported = digest("subscribers", "import", str(subscribers(tmp_path / "abonnes.csv", 12)), "-c", str(path),
                      "--consent", "test")
    assert imported.exit_code == 0, imported.output
    return path


def _later(minutes: int) -> str:
    return (datetime.now(PARIS) + timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M")


def _planned(site: Path, at: datetime, listed: str = "") -> int:
    """A send of the built letter scheduled at `at`, written as `--at` writes it (the time given directly)."""
    cfg = config.load(site)
    letter = read_built(cfg.outbox, LETTER_DATE)
    with Schedules(cfg.subscribers_path) as schedules:
        return schedules.add(LETTER_DATE, letter.fingerprint, at, listed).id


def _row(site: Path, sid: int) -> schedule.Scheduled:
    with Schedules(site.parent / "subscribers.sqlite") as schedules:
        found = schedules.get(sid)
    assert found is not None
    return found


def _subscribers_got(sink: Sink) -> dict[str, int]:
    return {k: v for k, v in sink.recorder.counts().items() if k.startswith("user")}


def _team(sink: Sink) -> list[str]:
    return [r.message["Subject"] for r in sink.recorder.received if r.rcpt == "equipe@example.org"]




def test_at_asks_first_then_records_and_says_how_it_will_be_sent(site: Path, sink: Sink) -> None:
    at = _later(90)
    planned = digest("send", "-c", str(site), "--list", "--at", at, "--yes")
    assert planned.exit_code == 0, planned.output
    assert "12 subscriber(s) not yet sent to" in planned.output and "is scheduled on" in planned.output
    assert "No `digest serve` is running" in planned.output and "send --due -c" in planned.output  # the cron line
    assert not sink.recorder.received
    listed = digest("send", "-c", str(site), "--scheduled").output
    assert f"{DAY}  " in listed and "scheduled" in listed
    assert "send scheduled on" in digest("letters", "-c", str(site)).output
    again = digest("send", "-c", str(site), "--list", "--at", _later(120), "--yes")
    assert again.exit_code == 2 and "already scheduled" in again.output
    cancelled = digest("send", "-c", str(site), "--cancel")
    assert cancelled.exit_code == 0 and "is cancelled" in cancelled.output
    assert "cancelled" in digest("send", "-c", str(site), "--scheduled").output
    assert digest("send", "-c", str(site), "--cancel").exit_code == 2  # nothing waits any more


@pytest.mark.parametrize(("given", "said"), [
    ("2020-01-01 09:00", "is past"), ("demain 9h", "is not a time"), ("2026-13-45 09:00", "is not a time")])
def test_a_time_past_or_not_a_time_is_refused(site: Path, given: str, said: str) -> None:
    refused = digest("send", "-c", str(site), "--list", "--at", given, "--yes")
    assert refused.exit_code == 2 and said in refused.output and "Traceback" not in refused.output
    assert digest("send", "-c", str(site), "--to", "a@example.org", "--at", _later(5)).exit_code == 2


def test_a_time_is_read_in_the_teams_time_zone() -> None:
    assert schedule.parse_time("2026-12-15 09:00", "Europe/Paris").astimezone(UTC).hour == 8
    assert schedule.parse_time("15/12/2026 09:00", "Europe/Paris") == schedule.parse_time("2026-12-15 9:00:00",
                                                                                           "Europe/Paris")


def test_due_performs_the_send_once_and_tells_the_team(site: Path, sink: Sink) -> None:
    sid = _planned(site, datetime.now(UTC) - timedelta(minutes=1))
    done = digest("send", "-c", str(site), "--due")
    assert done.exit_code == 0 and f"{DAY}  sent" in done.output, done.output
    assert _subscribers_got(sink) == {f"user{i:03d}@example.org": 1 for i in range(12)}
    assert _row(site, sid).state == State.DONE and _row(site, sid).counts["sent"] == 12
    team = _team(sink)
    assert team[0].startswith("Scheduled send started") and team[-1].startswith("Scheduled send done")
    assert digest("send", "-c", str(site), "--due").output == ""  # nothing more is due: nothing sent twice
    assert sum(_subscribers_got(sink).values()) == 12


def test_a_send_found_too_late_is_held_and_the_team_told(site: Path, sink: Sink) -> None:
    sid = _planned(site, datetime.now(UTC) - timedelta(hours=3))
    done = digest("send", "-c", str(site), "--due")
    assert "held" in done.output and _row(site, sid).reason == Held.LATE
    assert not _subscribers_got(sink) and _team(sink)[0].startswith("Scheduled send held")
    assert "the server was not running at its time" in digest("send", "-c", str(site), "--scheduled").output


def test_a_letter_built_again_after_it_was_scheduled_is_held(site: Path, sink: Sink) -> None:
    sid = _planned(site, datetime.now(UTC) - timedelta(minutes=1))
    issue = site.parent / "issues" / f"{DAY[:7]}.toml"
    issue.parent.mkdir(exist_ok=True)
    issue.write_text('subject = "Un autre objet"\n', encoding="utf-8")
    assert digest("build", "-c", str(site), "--date", DAY).exit_code == 0
    digest("send", "-c", str(site), "--due")
    assert _row(site, sid).reason == Held.REBUILT and not _subscribers_got(sink)


def test_a_letter_not_approved_at_its_time_is_held(site: Path, sink: Sink) -> None:
    site.write_text(site.read_text(encoding="utf-8").replace("[send]\n", '[send]\napprovers = ["dg@example.org"]\n'),
                    encoding="utf-8")
    sid = _planned(site, datetime.now(UTC) - timedelta(minutes=1))
    digest("send", "-c", str(site), "--due")
    found = _row(site, sid)
    assert found.reason == Held.NOT_APPROVED and "not approved yet" in found.detail and not _subscribers_got(sink)


def test_serve_sends_at_its_time_exactly_once_even_when_the_sending_worker_is_killed(tmp_path: Path,
                                                                                   built: Path) -> None:
    recorder = Recorder(hold_at=5)  # the 5th message's answer is withheld: its sender is killed meanwhile
    with Sink(recorder) as sink:
        path = setup(tmp_path, built, sink.port, TEAM)
        assert digest("subscribers", "import", str(subscribers(tmp_path / "abonnes.csv", 12)), "-c", str(path),
                      "--consent", "test").exit_code == 0
        process, _url, log = start(tmp_path, ["--workers", "2"])
        try:
            at = datetime.now(UTC) + timedelta(seconds=1)
            sid = _planned(path, at)
            assert recorder.holding.wait(timeout=120), log.read_text(encoding="utf-8")
            sender = _row(path, sid)
            assert sender.state == State.SENDING
            first = next(r for r in recorder.received if r.rcpt.startswith("user"))
            assert parsedate_to_datetime(first.message["Date"]) - at < timedelta(seconds=60)  # within a minute
            os.kill(int(sender.claimed_by.rpartition(":")[2]), signal.SIGKILL)
            recorder.release.set()
            waited(lambda: _row(path, sid).state == State.DONE)
        finally:
            process.terminate()
            process.wait(timeout=20)
        assert _subscribers_got(sink) == {f"user{i:03d}@example.org": 1 for i in range(12)}
        assert _row(path, sid).counts["sent"] + _row(path, sid).counts["unknown"] == 12
        with sqlite3.connect(tmp_path / "sends" / DAY / "send-journal.sqlite") as db:
            states = dict(db.execute("SELECT state, COUNT(*) FROM recipient GROUP BY state").fetchall())
        assert states == {"sent": 11, "unknown": 1}  # the killed one's message: received, its answer never heard
        assert any(s.startswith("Scheduled send resumed") for s in _team(sink))
