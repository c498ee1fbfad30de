"""`digest send` against a real aiosmtpd on 127.0.0.1: what arrives, and exactly once through every failure."""

from __future__ import annotations

import email
import email.policy
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from digest import config
from digest.audience.recipients import Recipient
from digest.delivery import smtp
from digest.delivery.journal import Journal
from digest.mail.signing import unsubscribe_address
from tests import installed
from tests.conftest import LETTER_DATE, ROOT
from tests.send_support import (
    ACCENTED_TITLE,
    DAY,
    LONG_UNSUBSCRIBE,
    SECRET,
    digest,
    setup,
    subscribers,
)
from tests.smtp_sink import Recorder, Sink

pytestmark = pytest.mark.usefixtures("secret")  # the send tests' unsubscribe secret (tests/send_support.py)


def journal_rows(tmp_path: Path) -> dict[str, tuple[str, int, int | None, str | None]]:
    """email -> (state, attempts, code, response), read straight from the SQLite file."""
    db = sqlite3.connect(tmp_path / "sends" / DAY / "send-journal.sqlite")
    try:
        rows = db.execute("SELECT email, state, attempts, code, response FROM recipient").fetchall()
    finally:
        db.close()
    return {email: (state, attempts, code, response) for email, state, attempts, code, response in rows}


def test_a_test_send_arrives_whole_with_its_headers(tmp_path: Path, built: Path) -> None:
    with Sink() as sink:
        cfg = setup(tmp_path, built, sink.port)
        result = digest("send", "-c", str(cfg), "--to", "moi@example.org", "--to", "Collegue@Example.ORG")
        assert result.exit_code == 0, result.output
    got = sorted(sink.recorder.received, key=lambda r: r.rcpt)
    assert [r.rcpt for r in got] == ["Collegue@example.org", "moi@example.org"]
    ids = set()
    for received in got:
        message = received.message
        assert message["Subject"] == f"[TEST] {ACCENTED_TITLE} – novembre 2025"
        assert message["To"] == received.rcpt
        assert message["From"] == "Cités Unies France <lettre@cites-unies-france.org>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["List-Id"] == f"{ACCENTED_TITLE} <lettre.cites-unies-france.org>"
        assert message.get_content_type() == "multipart/alternative"
        parts = [part.get_content_type() for part in message.iter_parts()]
        assert parts == ["text/plain", "text/html"]
        # The List-Unsubscribe line arrives unfolded, the long URL whole, with the recipient's own token.
        line = next(x for x in received.raw.split(b"\r\n") if x.startswith(b"List-Unsubscribe:"))
        url = line.decode().split("<", 1)[1].split(">", 1)[0]
        assert url.startswith(LONG_UNSUBSCRIBE + f"&l={DAY}&t=")
        token = url.rsplit("t=", 1)[1]
        assert unsubscribe_address(SECRET.encode(), token, "lettre.cites-unies-france.org") == received.rcpt
        assert unsubscribe_address(SECRET.encode(), token, "autre.cites-unies-france.org") is None  # bound to its list
        assert "mailto:desinscription@cites-unies-france.org?subject=unsubscribe" in line.decode()
        html = message.get_body(("html",)).get_content()
        text = message.get_body(("plain",)).get_content()
        assert f'href="{url.replace("&", "&amp;")}"' in html
        assert url in text.split()
        assert "Se désinscrire" in html and "Se désinscrire" in text
        body = received.raw.split(b"\r\n\r\n", 1)[1]
        assert max(len(x) for x in body.split(b"\r\n")) <= 76
        ids.add(message["Message-ID"])
    assert len(ids) == 2


def test_two_hundred_subscribers_each_get_it_once(tmp_path: Path, built: Path) -> None:
    with Sink() as sink:
        cfg = setup(tmp_path, built, sink.port)
        csv = subscribers(tmp_path / "subscribers.csv", 200)
        result = digest("send", "-c", str(cfg), "--yes", "--list", str(csv))
        assert result.exit_code == 0, result.output
        assert "Sent 200" in result.output
        again = digest("send", "-c", str(cfg), "--yes", "--list", str(csv), "--date", DAY)
        assert again.exit_code == 0 and "Sent 0" in again.output and "200 had it already" in again.output
    counts = sink.recorder.counts()
    assert len(counts) == 200 and set(counts.values()) == {1}
    assert sink.recorder.connections == 1  # one connection reused for every message; none for nothing to send
    named = next(r for r in sink.recorder.received if r.rcpt == "user007@example.org").message
    assert named["To"] == "Abonné 7 <user007@example.org>"
    status = digest("send", "-c", str(cfg), "--status")
    assert "sent 200" in status.output and "pending 0" in status.output


def test_a_dropped_connection_is_reopened_and_no_one_is_sent_twice(tmp_path: Path, built: Path) -> None:
    with Sink(Recorder(drop_after=50)) as sink:
        cfg = setup(tmp_path, built, sink.port)
        result = digest("send", "-c", str(cfg), "--yes", "--list", str(subscribers(tmp_path / "s.csv", 120)))
        assert result.exit_code == 0, result.output
    counts = sink.recorder.counts()
    assert len(counts) == 120 and set(counts.values()) == {1}
    assert sink.recorder.connections == 2


def test_a_server_gone_after_fifty_then_a_rerun_completes_exactly_once(tmp_path: Path, built: Path) -> None:
    recorder = Recorder(refuse_after=50)
    with Sink(recorder) as sink:
        cfg_path = setup(tmp_path, built, sink.port)
        cfg = config.load(cfg_path)
        people = [Recipient(f"user{i:03d}@example.org") for i in range(120)]
        job = smtp.load_job(cfg, LETTER_DATE, tmp_path / "outbox")
        assert cfg.smtp is not None
        with pytest.raises(smtp.SendError, match="run the same command again"):
            smtp.send_to_list(job, people, smtp.Connection(cfg.smtp, None, backoff=(0.01, 0.01), sleep=time.sleep))
        assert len(recorder.received) == 50
        rows = journal_rows(tmp_path)
        assert sum(state == "sent" for state, *_ in rows.values()) == 50
        assert sum(state == "pending" for state, *_ in rows.values()) == 70
        recorder.refusing = False  # the server is back
        report = smtp.send_to_list(job, people, smtp.Connection(cfg.smtp, None))
        assert report.sent == 70 and report.already_sent == 50
    counts = recorder.counts()
    assert len(counts) == 120 and set(counts.values()) == {1}


def test_killed_mid_send_then_rerun_sends_to_the_rest_once_and_reports_the_unknown(
        tmp_path: Path, built: Path) -> None:
    recorder = Recorder(delay=0.02)
    with Sink(recorder) as sink:
        cfg = setup(tmp_path, built, sink.port)
        csv = subscribers(tmp_path / "s.csv", 60)
        env = {**os.environ, "DIGEST_SECRET": SECRET}
        command = [*installed.command(), "send", "-c", str(cfg), "--yes", "--list", str(csv)]
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while len(recorder.received) < 10 and time.monotonic() < deadline:
            time.sleep(0.005)
        # Kill while the server holds the next message (recorded, its 250 not yet sent): an unknown outcome.
        recorder.delay = 1.0
        recorder.entered_data.clear()
        assert recorder.entered_data.wait(5)
        process.send_signal(signal.SIGKILL)
        process.wait(5)
        recorder.delay = 0.0
        killed_at = len(recorder.received)
        assert 10 <= killed_at < 60
        rows = journal_rows(tmp_path)
        assert sum(state == "sending" for state, *_ in rows.values()) == 1
        rerun = digest("send", "-c", str(cfg), "--yes", "--list", str(csv))
        assert rerun.exit_code == 1, rerun.output  # one subscriber's outcome is unknown: the send is not complete
        assert "1 subscriber(s) still pending, deferred or unknown" in rerun.output
        assert "1 recipient(s) of an earlier run have an unknown outcome" in rerun.output
        unknown = next(email for email, (state, *_) in journal_rows(tmp_path).items() if state == "unknown")
        assert f"unknown  {unknown}" in rerun.output
        status = digest("send", "-c", str(cfg), "--status")
        assert f"sent {59}" in status.output and "unknown 1" in status.output
    counts = recorder.counts()
    assert len(counts) == 60 and set(counts.values()) == {1}
    assert counts[unknown] == 1  # the server had it: not sending again was right


def test_a_message_lost_during_data_is_unknown_and_resent_only_when_asked(tmp_path: Path, built: Path) -> None:
    recorder = Recorder(lose_data_of={"user003@example.org"})
    with Sink(recorder) as sink:
        cfg = setup(tmp_path, built, sink.port)
        csv = subscribers(tmp_path / "s.csv", 8)
        first = digest("send", "-c", str(cfg), "--yes", "--list", str(csv))
        assert first.exit_code == 1, first.output
        assert "unknown   user003@example.org" in first.output
        second = digest("send", "-c", str(cfg), "--yes", "--list", str(csv))
        assert "Sent 0" in second.output and "--resend-unknown sends to them" in second.output
        assert "user003@example.org" not in recorder.counts()
        third = digest("send", "-c", str(cfg), "--yes", "--list", str(csv), "--resend-unknown")
        assert third.exit_code == 0, third.output
    counts = recorder.counts()
    assert len(counts) == 8 and set(counts.values()) == {1}


def test_a_450_is_tried_again_later_in_the_run(tmp_path: Path, built: Path) -> None:
    recorder = Recorder(rcpt_replies={"user002@example.org": ["450 4.2.1 mailbox busy, try later"]})
    with Sink(recorder) as sink:
        cfg = setup(tmp_path, built, sink.port)
        result = digest("send", "-c", str(cfg), "--yes", "--list", str(subscribers(tmp_path / "s.csv", 5)))
        assert result.exit_code == 0, result.output
    assert [r.rcpt for r in recorder.received][-1] == "user002@example.org"  # after the others
    counts = recorder.counts()
    assert len(counts) == 5 and set(counts.values()) == {1}
    assert journal_rows(tmp_path)["user002@example.org"][:3] == ("sent", 2, 250)  # two transactions


def test_a_550_is_recorded_with_the_servers_words_and_the_rest_still_sent(tmp_path: Path, built: Path) -> None:
    recorder = Recorder(rcpt_replies={"user001@example.org": ["550 5.1.1 <user001@example.org>: no such user"]})
    with Sink(recorder) as sink:
        cfg = setup(tmp_path, built, sink.port)
        csv = subscribers(tmp_path / "s.csv", 4)
        result = digest("send", "-c", str(cfg), "--yes", "--list", str(csv))
        assert result.exit_code == 0, result.output
        assert "failed    user001@example.org: 550 5.1.1 <user001@example.org>: no such user" in result.output
        rerun = digest("send", "-c", str(cfg), "--yes", "--list", str(csv), "--date", DAY)
        assert "Sent 0" in rerun.output
        status = digest("send", "-c", str(cfg), "--status")
        assert "failed 1" in status.output and "no such user" in status.output
    assert sorted(recorder.counts()) == ["user000@example.org", "user002@example.org", "user003@example.org"]
    assert journal_rows(tmp_path)["user001@example.org"] == (
        "failed", 1, 550, "5.1.1 <user001@example.org>: no such user")


def test_the_rate_limit_spaces_messages(tmp_path: Path, built: Path) -> None:
    with Sink() as sink:
        cfg = setup(tmp_path, built, sink.port, smtp="rate = 20\n")
        began = time.monotonic()
        result = digest("send", "-c", str(cfg), "--yes", "--list", str(subscribers(tmp_path / "s.csv", 6)))
        took = time.monotonic() - began
        assert result.exit_code == 0, result.output
    assert len(sink.recorder.received) == 6
    assert took >= 5 / 20  # six messages at 20 per second: five gaps of 50 ms at least


def test_a_second_send_of_the_same_issue_at_once_is_refused(tmp_path: Path, built: Path) -> None:
    with Sink() as sink:
        cfg = setup(tmp_path, built, sink.port)
        with Journal(tmp_path / "sends" / DAY):
            result = digest("send", "-c", str(cfg), "--yes", "--list", str(subscribers(tmp_path / "s.csv", 3)))
        assert result.exit_code == 2
        assert "another `digest send` is sending this issue" in result.output
    assert sink.recorder.received == []


def test_send_says_when_the_letter_is_not_built(tmp_path: Path) -> None:
    cfg = tmp_path / "sources.toml"
    from tests.send_support import config_text

    cfg.write_text(config_text(25), encoding="utf-8")
    result = digest("send", "-c", str(cfg), "--date", "2025-12-01", "--to", "moi@example.org")
    assert result.exit_code == 2
    assert "the letter for 1 December 2025 has not been built" in result.output
    assert "digest build --date 2025-12-01" in result.output
    assert "Traceback" not in result.output


def test_send_needs_the_secret(tmp_path: Path, built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIGEST_SECRET")
    cfg = setup(tmp_path, built, 25)
    result = digest("send", "-c", str(cfg), "--to", "moi@example.org")
    assert result.exit_code == 2 and "DIGEST_SECRET" in result.output


def test_an_unreachable_server_leaves_everyone_pending(tmp_path: Path, built: Path) -> None:
    from tests.smtp_sink import free_port

    cfg_path = setup(tmp_path, built, free_port())
    cfg = config.load(cfg_path)
    assert cfg.smtp is not None
    job = smtp.load_job(cfg, LETTER_DATE, tmp_path / "outbox")
    with pytest.raises(smtp.SendError, match="cannot reach the SMTP server"):
        smtp.send_to_list(job, [Recipient("a@example.org")], smtp.Connection(cfg.smtp, None, backoff=(0.01,)))
    assert journal_rows(tmp_path) == {"a@example.org": ("pending", 0, None, None)}


def test_dry_run_writes_each_copy_and_sends_nothing(tmp_path: Path, built: Path) -> None:
    with Sink() as sink:
        cfg = setup(tmp_path, built, sink.port)
        csv = subscribers(tmp_path / "s.csv", 3, extra="ancien@example.org;Ancien;oui\nnope@;X;\n")
        result = digest("send", "-c", str(cfg), "--yes", "--list", str(csv), "--dry-run")
        assert result.exit_code == 0, result.output
    assert sink.recorder.received == []
    assert "3 to send to, 1 unsubscribed, 1 invalid" in result.output
    assert "line 6: 'nope@' not sent" in result.output
    files = sorted((tmp_path / "sends" / DAY / "dry-run").iterdir())
    assert [f.name for f in files] == [f"0000{i + 1}-user00{i}@example.org.eml" for i in range(3)]
    copy = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert copy["To"] == "Abonné 0 <user000@example.org>"
    assert copy["Subject"] == f"{ACCENTED_TITLE} – novembre 2025"
    assert not (tmp_path / "sends" / DAY / "send-journal.sqlite").exists()


def test_a_letter_built_again_mid_send_is_flagged_and_the_rest_get_the_new_one(tmp_path: Path, built: Path) -> None:
    with Sink() as sink:
        cfg = setup(tmp_path, built, sink.port)
        first = digest("send", "-c", str(cfg), "--yes", "--list", str(subscribers(tmp_path / "s.csv", 2)))
        assert first.exit_code == 0 and "built again" not in first.output
        text = tmp_path / "outbox" / DAY / "letter.txt"
        text.write_text(text.read_text(encoding="utf-8") + "Correction : la date du webinaire.\n", encoding="utf-8")
        second = digest("send", "-c", str(cfg), "--yes", "--list", str(subscribers(tmp_path / "s.csv", 3)),
                        "--date", DAY)
        assert second.exit_code == 0, second.output
    assert "the letter was built again since this issue's send began: 2 subscriber(s)" in second.output
    newest = next(r for r in sink.recorder.received if r.rcpt == "user002@example.org").message
    assert "Correction" in newest.get_body(("plain",)).get_content()
    assert sorted(sink.recorder.counts().values()) == [1, 1, 1]


def _sending(tmp_path: Path, built: Path, port: int, count: int, recorder: Recorder
             ) -> tuple[subprocess.Popen[str], Path, Path]:
    """A real `digest send --list` to `count` subscribers, once five copies reached the server."""
    cfg = setup(tmp_path, built, port)
    csv = subscribers(tmp_path / "s.csv", count)
    env = {**os.environ, "DIGEST_SECRET": SECRET}
    command = [*installed.command(), "send", "-c", str(cfg), "--yes", "--list", str(csv)]
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    deadline = time.monotonic() + 20
    while len(recorder.received) < 5 and time.monotonic() < deadline:
        time.sleep(0.005)
    return process, cfg, csv


@pytest.mark.parametrize(("signal_number", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stopped_list_send_finishes_its_message_says_how_far_it_went_and_how_to_finish(
        tmp_path: Path, built: Path, signal_number: int, code: int) -> None:
    recorder = Recorder(delay=0.05)
    with Sink(recorder) as sink:
        process, _cfg, csv = _sending(tmp_path, built, sink.port, 40, recorder)
        process.send_signal(signal_number)  # Ctrl-C, or systemd's stop
        output, _ = process.communicate(timeout=30)
        assert process.returncode == code, output
        rows = journal_rows(tmp_path)
        sent = sum(state == "sent" for state, *_ in rows.values())
        assert 5 <= sent < 40 and not any(state in ("sending", "unknown") for state, *_ in rows.values())
        assert sent == len(recorder.received)  # the message in flight was finished and journalled
        assert f"Stopped: {sent} sent in all, {40 - sent} still to send (0 unknown)" in output, output
        finish = next(line.strip() for line in output.splitlines() if line.strip().startswith("digest send"))
        assert finish.split()[-4:] == ["--list", str(csv), "--date", DAY], finish
        again = digest(*finish.split()[1:], "--yes")  # the printed command, as the team would paste it
        assert again.exit_code == 0, again.output
    counts = recorder.counts()
    assert len(counts) == 40 and set(counts.values()) == {1}


def test_a_second_ctrl_c_stops_at_once_leaving_at_most_one_unknown(tmp_path: Path, built: Path) -> None:
    recorder = Recorder(delay=0.02)
    with Sink(recorder) as sink:
        process, _cfg, _csv = _sending(tmp_path, built, sink.port, 30, recorder)
        recorder.delay = 5.0  # the server holds the next message: the first Ctrl-C waits for it, the second not
        recorder.entered_data.clear()
        assert recorder.entered_data.wait(5)
        process.send_signal(signal.SIGINT)
        assert process.stdout is not None
        said = []  # the second Ctrl-C once the first was heard (it says so), never after a guessed pause
        while not said or "Ctrl-C" not in said[-1]:
            said.append(process.stdout.readline())
            assert said[-1], "".join(said)  # the output ended without hearing the first Ctrl-C
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=10)
        output = "".join(said) + rest
        recorder.delay = 0.0
        assert process.returncode == 130 and "Stopped at once." in output, output
        states = [state for state, *_ in journal_rows(tmp_path).values()]
        assert states.count("sending") + states.count("unknown") <= 1 and "digest send -c" in output
