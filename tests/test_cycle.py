"""The life of a letter, with a real aiosmtpd on 127.0.0.1: which letter a command takes, the question before a
list send, stale builds, no rebuild after the send began, nothing private in the outbox, all-or-nothing writes."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from digest import config, inputs, letterfolder
from digest.delivery.journal import Journal
from tests.conftest import LETTER_DATE, NEWS_AND_EVENTS, ROOT
from tests.send_support import DAY, SECRET, config_text, digest, subscribers
from tests.smtp_sink import Recorder, Sink

DECEMBER = "2025-12-18"


pytestmark = pytest.mark.usefixtures("secret")  # the send tests' unsubscribe secret (tests/send_support.py)


def project(folder: Path, port: int, issue: str | None = None) -> Path:
    """sources.toml (pinned to 2025-11-20) for the server on `port`, and November's issue file if given."""
    path = folder / "sources.toml"
    path.write_text(config_text(port), encoding="utf-8")
    if issue is not None:
        (folder / "issues").mkdir(exist_ok=True)
        (folder / "issues" / "2025-11.toml").write_text(issue, encoding="utf-8")
    return path


def build(cfg: Path, *args: str) -> None:
    result = digest("build", "-c", str(cfg), *args)
    assert result.exit_code == 0, result.output


def test_without_date_send_takes_the_newest_unsent_letter_not_the_pinned_date(tmp_path: Path) -> None:
    with Sink() as sink:
        cfg = project(tmp_path, sink.port)
        build(cfg)  # November: [letter] date
        build(cfg, "--date", DECEMBER)
        test = digest("send", "-c", str(cfg), "--to", "moi@example.org")
        assert test.exit_code == 0, test.output
        assert test.output.startswith(f"Letter {DECEMBER} “La Lettre de Cités Unies France – décembre 2025”")
        assert f"also not sent: {DAY} “La Lettre de Cités Unies France – novembre 2025”" in test.output
        assert [r.message["Subject"] for r in sink.recorder.received] == [
            "[TEST] La Lettre de Cités Unies France – décembre 2025"]
        sent = digest("send", "-c", str(cfg), "--list", str(subscribers(tmp_path / "s.csv", 3)), "--yes")
        assert sent.exit_code == 0, sent.output
        assert {r.message["Subject"] for r in sink.recorder.received[1:]} == {
            "La Lettre de Cités Unies France – décembre 2025"}
        # December's list send is complete: November, built before it and never sent, is superseded. It is
        # never taken without --date: no command offers the trial letter once a later one went out.
        status = digest("send", "-c", str(cfg), "--status")
        assert status.output.startswith(f"Letter {DECEMBER} ") and "also not sent" not in status.output
        again = digest("send", "-c", str(cfg), "--yes", "--list", str(subscribers(tmp_path / "s.csv", 3)))
        assert again.exit_code == 2 and "every letter in" in again.output, again.output
        assert len(sink.recorder.received) == 4  # the test and the three copies of December: nothing more
        listing = digest("letters", "-c", str(cfg))
    assert listing.exit_code == 0, listing.output
    december, november = listing.output.splitlines()
    assert december.startswith(f"{DECEMBER} “La Lettre de Cités Unies France – décembre 2025”  "
                               "sent (sent 3, failed 0, deferred 0, unknown 0)")
    assert "inputs unchanged" in december
    assert november.startswith(f"{DAY} “La Lettre de Cités Unies France – novembre 2025”  "
                               "superseded (never sent; a later letter was)  built ")


def test_a_list_send_without_a_terminal_and_without_yes_sends_nothing(tmp_path: Path) -> None:
    with Sink() as sink:
        cfg = project(tmp_path, sink.port)
        build(cfg)
        result = digest("send", "-c", str(cfg), "--list", str(subscribers(tmp_path / "s.csv", 3)))
    assert result.exit_code == 2
    assert "  to:       3 subscriber(s) not yet sent to, via 127.0.0.1:" in result.output
    assert "there is no terminal to ask: add --yes" in result.output and "Nothing sent." in result.output
    assert not sink.recorder.received and not (tmp_path / "sends" / DAY / "send-journal.sqlite").exists()


def _send_on_a_terminal(cfg: Path, csv: Path, answer: bytes) -> subprocess.CompletedProcess[bytes]:
    """`digest send --list` with a terminal (a pty) as its input, answering the question with `answer`."""
    master, slave = os.openpty()
    try:
        process = subprocess.Popen([sys.executable, "-m", "digest", "send", "-c", str(cfg), "--list", str(csv)],
                                   stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT,
                                   env={**os.environ, "DIGEST_SECRET": SECRET})
        os.write(master, answer)
        output, _ = process.communicate(timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    return subprocess.CompletedProcess(process.args, process.returncode, output)


@pytest.mark.parametrize("answer", ["o", "oui", "y", "yes", " Oui "])
def test_on_a_terminal_the_list_send_asks_in_french_and_o_oui_y_or_yes_sends(tmp_path: Path, answer: str) -> None:
    with Sink() as sink:
        cfg = project(tmp_path, sink.port)
        build(cfg)
        accepted = _send_on_a_terminal(cfg, subscribers(tmp_path / "s.csv", 2), f"{answer}\n".encode())
        assert accepted.returncode == 0, accepted.stdout
    assert "Send to 2 subscribers? [y/N]" in accepted.stdout.decode()
    assert sorted(sink.recorder.counts()) == ["user000@example.org", "user001@example.org"]


def test_on_a_terminal_any_other_answer_sends_nothing(tmp_path: Path) -> None:
    with Sink() as sink:
        cfg = project(tmp_path, sink.port)
        build(cfg)
        csv = subscribers(tmp_path / "s.csv", 2)
        for answer in ["", "n", "non", "no", "ouais", "oui merci", "0"]:  # "" takes the default: no
            refused = _send_on_a_terminal(cfg, csv, f"{answer}\n".encode())
            output = refused.stdout.decode()
            assert refused.returncode == 1, (answer, output)
            assert "Send to 2 subscribers? [y/N]" in output and "Nothing sent." in output, (answer, output)
        assert not sink.recorder.received


def test_a_file_changed_since_the_build_stops_send_export_and_publish(tmp_path: Path) -> None:
    with Sink() as sink:
        cfg = project(tmp_path, sink.port, issue='subject = "Ancien objet"\n')
        build(cfg)
        (tmp_path / "issues" / "2025-11.toml").write_text('subject = "Nouvel objet"\n', encoding="utf-8")
        for command in (["send", "--to", "moi@example.org"], ["export", "--esp", "brevo"],
                        ["publish", str(tmp_path / "site"), "--date", DAY]):
            refused = digest(command[0], "-c", str(cfg), *command[1:])
            assert refused.exit_code == 2, refused.output
            assert ("these files changed since the letter of 20 November 2025 was built: "
                    "issues/2025-11.toml") in refused.output
        assert not sink.recorder.received and not (tmp_path / "site").exists()
        assert "changed since: issues/2025-11.toml" in digest("letters", "-c", str(cfg)).output
        allowed = digest("send", "-c", str(cfg), "--to", "moi@example.org", "--allow-stale")
        assert allowed.exit_code == 0, allowed.output
        assert "used as built although these files changed since: issues/2025-11.toml" in allowed.output
        assert "“Ancien objet”  tested  built " in digest("letters", "-c", str(cfg)).output
        build(cfg)
        assert "“Nouvel objet”  built  built " in digest("letters", "-c", str(cfg)).output  # not tested yet
        again = digest("send", "-c", str(cfg), "--to", "moi@example.org")
        assert again.exit_code == 0, again.output
        assert "“Nouvel objet”  tested  built " in digest("letters", "-c", str(cfg)).output
    assert [r.message["Subject"] for r in sink.recorder.received] == ["[TEST] Ancien objet", "[TEST] Nouvel objet"]


def test_changing_only_the_smtp_table_does_not_make_the_letter_stale(tmp_path: Path) -> None:
    cfg = project(tmp_path, 25)
    build(cfg)
    cfg.write_text(config_text(2525), encoding="utf-8")
    assert "inputs unchanged" in digest("letters", "-c", str(cfg)).output
    cfg.write_text(config_text(2525).replace('language = "fr"', 'language = "en"'), encoding="utf-8")
    assert "changed since: sources.toml" in digest("letters", "-c", str(cfg)).output


def test_a_letter_whose_list_send_began_is_built_again_only_with_force(tmp_path: Path) -> None:
    with Sink() as sink:
        cfg = project(tmp_path, sink.port)
        build(cfg)
        sent = digest("send", "-c", str(cfg), "--list", str(subscribers(tmp_path / "s.csv", 2)), "--yes")
        assert sent.exit_code == 0, sent.output
    before = (tmp_path / "outbox" / DAY / "letter.html").read_bytes()
    refused = digest("build", "-c", str(cfg))
    assert refused.exit_code == 2
    assert "the list send of 20 November 2025 has begun (2 subscriber(s) got it)" in refused.output
    assert "--force" in refused.output
    assert (tmp_path / "outbox" / DAY / "letter.html").read_bytes() == before
    forced = digest("build", "-c", str(cfg), "--force")
    assert forced.exit_code == 0, forced.output
    assert "2 subscriber(s) got the earlier version of 20 November 2025" in forced.output


def test_no_file_under_the_outbox_holds_a_subscribers_address(tmp_path: Path) -> None:
    with Sink() as sink:
        cfg = project(tmp_path, sink.port)
        build(cfg)
        csv = subscribers(tmp_path / "s.csv", 5)
        dry = digest("send", "-c", str(cfg), "--list", str(csv), "--dry-run")
        assert dry.exit_code == 0, dry.output
        sent = digest("send", "-c", str(cfg), "--list", str(csv), "--yes")
        assert sent.exit_code == 0, sent.output
        published = digest("publish", "-c", str(cfg), str(tmp_path / "site"))
        assert published.exit_code == 0, published.output
    assert len(sink.recorder.received) == 5
    assert len(list((tmp_path / "sends" / DAY / "dry-run").glob("*.eml"))) == 5
    assert (tmp_path / "sends" / DAY / "send-journal.sqlite").is_file()
    for folder in (tmp_path / "outbox", tmp_path / "site"):
        for path in (p for p in folder.rglob("*") if p.is_file()):
            data = path.read_bytes()
            assert b"user00" not in data and b"Abonn" not in data, path
    assert "sent (sent 5, failed 0, deferred 0, unknown 0), published" in digest("letters", "-c", str(cfg)).output


def test_a_journal_left_in_the_outbox_is_moved_to_the_private_folder(tmp_path: Path) -> None:
    cfg = project(tmp_path, 25)
    build(cfg)
    legacy = tmp_path / "outbox" / DAY
    Journal(legacy).close()  # where an older digest kept it
    (legacy / "dry-run").mkdir()
    (legacy / "dry-run" / "00001-user000@example.org.eml").write_bytes(b"copy")
    result = digest("send", "-c", str(cfg), "--status")
    assert result.exit_code == 0, result.output
    assert "note: moved send-journal.sqlite, send-journal.lock, dry-run from" in result.output
    assert f"sends/{DAY}/send-journal.sqlite):" in result.output  # --status reads it there
    assert not (legacy / "send-journal.sqlite").exists() and not (legacy / "dry-run").exists()
    assert (tmp_path / "sends" / DAY / "dry-run" / "00001-user000@example.org.eml").read_bytes() == b"copy"
    (legacy / "dry-run").mkdir()  # an older digest's dry run again: the next build takes it out of the outbox
    (legacy / "dry-run" / "00001-user000@example.org.eml").write_bytes(b"older copy")
    rebuilt = digest("build", "-c", str(cfg))
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "note: moved dry-run from" in rebuilt.output and not (legacy / "dry-run").exists()


def test_publish_copies_only_the_public_files_whole(tmp_path: Path) -> None:
    cfg = project(tmp_path, 25)
    build(cfg)
    site = tmp_path / "site"
    never_sent = digest("publish", "-c", str(cfg), str(site))
    assert never_sent.exit_code == 2 and "has been sent to the list yet" in never_sent.output and not site.exists()
    dry = digest("publish", "-c", str(cfg), str(site), "--dry-run", "--date", DAY)  # a letter put on the web first
    assert dry.exit_code == 0 and not site.exists()
    assert f"would copy {DAY}/letter.html" in dry.output and "would copy index.html" in dry.output
    result = digest("publish", "-c", str(cfg), str(site), "--date", DAY)
    assert result.exit_code == 0, result.output
    names = {str(p.relative_to(site)) for p in site.rglob("*") if p.is_file()}
    assert {"index.html", "feed.xml", f"{DAY}/letter.html", f"{DAY}/letter.txt"} <= names
    assert {n.split("/")[1] for n in names if "/" in n} == {"letter.html", "letter.txt", "agenda"}
    built = (tmp_path / "outbox" / DAY / "letter.html").read_bytes()
    published, links = re.subn(rb'<link rel="alternate" type="application/atom\+xml" title="[^"]*" '
                               rb'href="\.\./feed\.xml">(?=</head>)', b"", (site / DAY / "letter.html").read_bytes())
    assert links == 1 and published == built  # the web version as built, pointing at the feed
    into_outbox = digest("publish", "-c", str(cfg), str(tmp_path / "outbox"), "--date", DAY)
    assert into_outbox.exit_code == 2 and "is in the outbox" in into_outbox.output
    assert (tmp_path / "outbox" / DAY / "digest.json").is_file()


def _limited(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def _run_limited(cfg: Path, limit: int, *args: str) -> subprocess.CompletedProcess[str]:
    """digest in a process that may write no file larger than `limit` bytes (as a full disk would stop it)."""
    return subprocess.run([sys.executable, "-m", "digest", *args, "-c", str(cfg)], cwd=cfg.parent,
                          capture_output=True, text=True, timeout=120, preexec_fn=lambda: _limited(limit),
                          env={**os.environ, "DIGEST_SECRET": SECRET}, check=False)


def test_a_build_that_cannot_write_leaves_the_previous_letter_whole(tmp_path: Path) -> None:
    cfg = project(tmp_path, 25, issue='subject = "Ancien objet"\n')
    build(cfg)
    folder = tmp_path / "outbox" / DAY
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    (tmp_path / "issues" / "2025-11.toml").write_text('subject = "Nouvel objet"\n', encoding="utf-8")
    failed = _run_limited(cfg, 51200, "build")  # letter.html (~42 KB) fits, letter.eml (~62 KB) does not
    assert failed.returncode == 2, failed.stdout + failed.stderr
    assert failed.stderr == f"Error: could not write outbox/{DAY}/letter.eml: disk full\n"
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
    assert sorted(p.name for p in (tmp_path / "outbox").iterdir()) == [DAY, "index.html"]  # no temporary left
    killed = tmp_path / "outbox" / f".{DAY}.tmp-killed"  # what a build killed mid-write would leave
    killed.mkdir()
    os.utime(killed, (0, 0))
    build(cfg)
    assert sorted(p.name for p in (tmp_path / "outbox").iterdir()) == [DAY, "index.html"]


def test_publish_that_cannot_write_leaves_the_published_letter_whole(tmp_path: Path) -> None:
    cfg = project(tmp_path, 25)
    build(cfg)
    site = tmp_path / "site"
    assert digest("publish", "-c", str(cfg), str(site), "--date", DAY).exit_code == 0
    published = (site / DAY / "letter.html").read_bytes()
    with (tmp_path / "outbox" / DAY / "letter.html").open("ab") as letter:
        letter.write(b"<!-- a later version -->\n")
    failed = _run_limited(cfg, 20000, "publish", str(site), "--date", DAY)  # letter.html (~42 KB) cannot be written
    assert failed.returncode == 2, failed.stdout + failed.stderr
    assert failed.stderr == f"Error: could not write site/{DAY}/letter.html: disk full\n"
    assert (site / DAY / "letter.html").read_bytes() == published
    assert sorted(p.name for p in site.iterdir()) == [DAY, "feed.xml", "index.html"]


def test_a_journal_folder_that_cannot_be_made_is_one_clear_line(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with Sink() as sink:
        cfg = project(tmp_path, sink.port)
        cfg.write_text(config_text(sink.port).replace('language = "fr"', 'language = "fr"\nprivate_dir = "taken"'),
                       encoding="utf-8")
        build(cfg)
        (tmp_path / "taken").write_text("a file where the folder should be", encoding="utf-8")
        result = digest("send", "-c", str(cfg), "--list", str(subscribers(tmp_path / "s.csv", 2)), "--yes")
    assert result.exit_code == 2
    assert result.output.splitlines()[-1].startswith(f"Error: could not write taken/{DAY}/send-journal.sqlite: ")
    assert not sink.recorder.received


def test_the_fingerprint_covers_every_file_input_and_the_templates_used(write_config: Callable[..., Path],
                                                                        tmp_path: Path) -> None:
    web = '[[source]]\nname = "partenaires"\nsection = "cuf"\nurl = "https://example.org/flux.xml"\nformat = "rss"\n'
    path = write_config(NEWS_AND_EVENTS + web, files={
        "news.csv": "title;url;date\n", "events.csv": "title;url;start\n",
        "templates/letter.txt.j2": '{% include "signature.txt.j2" %}\n', "templates/signature.txt.j2": "CUF\n"})
    cfg = config.load(path)
    assert set(inputs.files(cfg, LETTER_DATE)) == {
        "sources.toml", "issues/2025-11.toml", "news.csv", "events.csv",
        ".digest-cache/partenaires.cache (web source partenaires)",
        "templates/letter.txt.j2", "templates/signature.txt.j2", "digest.templates/letter.mjml.j2"}
    folder = tmp_path / "outbox" / DAY
    folder.mkdir(parents=True)
    (folder / "inputs.json").write_bytes(letterfolder.inputs_json(LETTER_DATE, inputs.fingerprint(cfg, LETTER_DATE)))
    assert letterfolder.changed(cfg, folder, LETTER_DATE) == []
    cfg.cache_dir.mkdir()
    (cfg.cache_dir / "partenaires.cache").write_bytes(b"<rss/>")  # a later fetch brought a new body
    (tmp_path / "templates" / "signature.txt.j2").write_text("Cités Unies France\n", encoding="utf-8")
    assert letterfolder.changed(cfg, folder, LETTER_DATE) == [
        ".digest-cache/partenaires.cache (web source partenaires)", "templates/signature.txt.j2"]


def test_a_damaged_journal_is_named_not_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = project(tmp_path, 25)
    build(cfg)
    (tmp_path / "sends" / DAY).mkdir(parents=True)
    (tmp_path / "sends" / DAY / "send-journal.sqlite").write_bytes(b"not a database, " * 100)
    result = digest("letters", "-c", str(cfg))
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: sends/{DAY}/send-journal.sqlite cannot be read as a send journal (")


def test_a_letter_stays_sending_and_send_exits_1_while_someone_is_deferred(tmp_path: Path) -> None:
    busy = ["450 4.2.1 mailbox busy"] * 3  # every try of the run
    with Sink(Recorder(rcpt_replies={"user001@example.org": busy})) as sink:
        cfg = project(tmp_path, sink.port)
        build(cfg)
        csv = subscribers(tmp_path / "s.csv", 2)
        first = digest("send", "-c", str(cfg), "--list", str(csv), "--yes")
        assert first.exit_code == 1, first.output
        assert "1 subscriber(s) still pending, deferred or unknown" in first.output
        assert f"{DAY} “La Lettre de Cités Unies France – novembre 2025”  sending (sent 1, deferred 1)" in digest(
            "letters", "-c", str(cfg)).output
        again = digest("send", "-c", str(cfg), "--list", str(csv), "--yes")  # no --date: the letter still sending
        assert again.exit_code == 0, again.output
        assert again.output.startswith(f"Letter {DAY} “La Lettre de Cités Unies France – novembre 2025”: sending")
    assert sink.recorder.counts() == {"user000@example.org": 1, "user001@example.org": 1}
