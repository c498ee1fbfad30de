"""A second pair of eyes: with [send] approvers, a list send waits until an approver approved this very build.

The approvers get the letter by mail (a real SMTP server), answer on the page of the installed `digest serve`
(a real HTTP server on 127.0.0.1), and the team is mailed each answer by the server's courier."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from digest import config
from digest.delivery import approval
from digest.letterfolder import read_built
from tests.conftest import LETTER_DATE
from tests.send_support import DAY, built, digest, setup, sink, subscribers, waited
from tests.smtp_sink import Sink
from tests.test_serve import start

__all__ = ["built", "sink"]
pytestmark = pytest.mark.usefixtures("secret")
APPROVERS = '\n[send]\napprovers = ["dg@example.org", "com@example.org"]\nteam = "equipe@example.org"\n'


@pytest.fixture
def site(tmp_path: Path, built: Path, sink: Sink) -> Path:
    """A built letter, a sources.toml with two approvers and the team's address, five subscribers."""
    path = setup(tmp_path, built, sink.port, APPROVERS)
    subscribers(tmp_path / "abonnes.csv", 5)
    return path


def _links(sink: Sink) -> dict[str, str]:
    """Each approver's link, read from the text of the mail they got."""
    found = {}
    for received in sink.recorder.received:
        text = received.message.get_body(("plain",))
        assert text is not None
        match = re.search(r"https://\S+/validation\?c=[\w-]+", text.get_content())
        if match:
            found[received.rcpt] = match.group()
    return found




def _local(link: str, url: str) -> str:
    """The link as the server on 127.0.0.1 answers it (the proxy in front of it keeps the path and query)."""
    return url + link[link.index("/validation"):]


@pytest.fixture
def server(site: Path) -> Iterator[tuple[str, Path]]:
    """The installed `digest serve` for the site: its base URL and its log."""
    process, url, log = start(site.parent, [])
    yield url, log
    process.terminate()
    process.wait(timeout=10)


def test_a_letter_not_approved_does_not_go_to_the_list(site: Path, sink: Sink) -> None:
    refused = digest("send", "-c", str(site), "--list", str(site.parent / "abonnes.csv"), "--yes")
    assert refused.exit_code == 2, refused.output
    assert "dg@example.org, com@example.org" in refused.output and "--ask-approval" in refused.output
    assert "no approver was asked" in refused.output and not sink.recorder.received
    dry = digest("send", "-c", str(site), "--list", str(site.parent / "abonnes.csv"), "--dry-run")
    assert dry.exit_code == 0, dry.output  # a dry run sends nothing: no approval needed
    assert digest("send", "-c", str(site), "--to", "moi@example.org").exit_code == 0  # nor a test


def test_asking_mails_each_approver_the_letter_with_a_banner_and_a_link_of_their_own(site: Path, sink: Sink) -> None:
    asked = digest("send", "-c", str(site), "--ask-approval")
    assert asked.exit_code == 0, asked.output
    assert "asked dg@example.org" in asked.output and "/validation" in asked.output
    assert sorted(r.rcpt for r in sink.recorder.received) == ["com@example.org", "dg@example.org"]
    mail = sink.recorder.received[0].message
    letter = read_built(site.parent / "outbox", LETTER_DATE)
    assert mail["Subject"] == f"[TO APPROVE] {letter.subject}"
    page = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "waits for your approval" in page and letter.headlines[0].split()[0] in page
    links = _links(sink)
    assert len(set(links.values())) == 2  # each approver's own link
    with sqlite3.connect(site.parent / "subscribers.sqlite") as db:
        expires = [datetime.fromisoformat(r[0]) for r in db.execute("SELECT expires FROM pended WHERE kind='approval'")]
    assert len(expires) == 2 and all(timedelta(days=6, hours=23) < e - datetime.now(UTC) <= timedelta(days=7)
                                     for e in expires)  # a week to answer
    said = digest("letters", "-c", str(site)).output
    assert "waiting for approval (asked of dg@example.org, com@example.org)" in said
    refused = digest("send", "-c", str(site), "--list", str(site.parent / "abonnes.csv"), "--yes")
    assert refused.exit_code == 2 and "no approver has answered yet" in refused.output


def test_an_approval_on_the_page_lets_the_send_go_and_tells_the_team(site: Path, sink: Sink,
                                                                     server: tuple[str, Path]) -> None:
    url, _log = server
    assert digest("send", "-c", str(site), "--ask-approval").exit_code == 0
    link = _local(_links(sink)["dg@example.org"], url)
    shown = httpx.get(link)
    assert shown.status_code == 200 and "Approve the send" in shown.text and "Ask for changes" in shown.text
    assert 'sandbox srcdoc="' in shown.text and "img-src https:" in shown.headers["content-security-policy"]
    assert httpx.get(link).status_code == 200  # a GET (a mail scanner's) changed nothing
    assert "waiting for approval" in digest("letters", "-c", str(site)).output
    answered = httpx.post(link, data={"reponse": "approved", "approver": "someone@else.org"})
    assert answered.status_code == 200 and "Send approved" in answered.text
    again = httpx.post(link, data={"reponse": "changes", "commentaire": "trop tard"})
    assert "This link no longer works" in again.text  # once
    said = digest("letters", "-c", str(site)).output
    assert "approved by dg@example.org on " in said and "someone@else.org" not in said
    team = waited(lambda: [r for r in sink.recorder.received if r.rcpt == "equipe@example.org"])
    assert len(team) == 1 and team[0].message["Subject"].startswith("Approved by dg@example.org")
    sent = digest("send", "-c", str(site), "--list", str(site.parent / "abonnes.csv"), "--yes")
    assert sent.exit_code == 0, sent.output
    assert "Approval: approved by dg@example.org" in sent.output
    status = digest("send", "-c", str(site), "--status").output
    assert "Approved by dg@example.org on " in status  # the send journal keeps who approved the build it sent
    assert len([r for r in sink.recorder.received if r.rcpt.startswith("user")]) == 5


def test_changes_need_a_comment_and_keep_the_letter_from_leaving(site: Path, sink: Sink,
                                                                 server: tuple[str, Path]) -> None:
    url, _log = server
    assert digest("send", "-c", str(site), "--ask-approval").exit_code == 0
    link = _local(_links(sink)["com@example.org"], url)
    bare = httpx.post(link, data={"reponse": "changes", "commentaire": "  "})
    assert "Say what to change" in bare.text and "Ask for changes" in bare.text  # nothing recorded: asked again
    assert "waiting for approval" in digest("letters", "-c", str(site)).output
    wanted = httpx.post(link, data={"reponse": "changes", "commentaire": "Le titre <b>de l'édito</b> est faux"})
    assert "Changes asked" in wanted.text
    refused = digest("send", "-c", str(site), "--list", str(site.parent / "abonnes.csv"), "--yes")
    assert refused.exit_code == 2
    assert "com@example.org asked for changes: Le titre <b>de l'édito</b> est faux" in refused.output


def test_a_rebuild_voids_the_approval_and_the_pages_of_the_old_build_say_so(site: Path, sink: Sink,
                                                                             server: tuple[str, Path]) -> None:
    url, _log = server
    assert digest("send", "-c", str(site), "--ask-approval").exit_code == 0
    links = _links(sink)
    assert "Send approved" in httpx.post(_local(links["dg@example.org"], url), data={"reponse": "approved"}).text
    issue = site.parent / "issues" / f"{DAY[:7]}.toml"
    issue.parent.mkdir(exist_ok=True)
    issue.write_text('subject = "Un autre objet"\n', encoding="utf-8")
    assert digest("build", "-c", str(site), "--date", DAY).exit_code == 0
    refused = digest("send", "-c", str(site), "--list", str(site.parent / "abonnes.csv"), "--yes")
    assert refused.exit_code == 2 and "was for an earlier build" in refused.output
    assert "built again since: to ask again" in digest("letters", "-c", str(site)).output
    late = _local(links["com@example.org"], url)
    assert "The letter changed since" in httpx.get(late).text
    assert "The letter changed since" in httpx.post(late, data={"reponse": "approved"}).text
    cfg = config.load(site)
    assert approval.of_letter(cfg, read_built(cfg.outbox, LETTER_DATE)).standing == approval.Standing.VOIDED


def test_forged_expired_and_foreign_answers_change_nothing(site: Path, sink: Sink, server: tuple[str, Path]) -> None:
    url, _log = server
    assert digest("send", "-c", str(site), "--ask-approval").exit_code == 0
    links = _links(sink)
    for forged in ("nope", "x" * 500, ""):
        assert "This link no longer works" in httpx.post(f"{url}/validation?c={forged}",
                                                          data={"reponse": "approved"}).text
    foreign = httpx.post(_local(links["dg@example.org"], url), data={"reponse": "approved"},
                         headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    with sqlite3.connect(site.parent / "subscribers.sqlite") as db:
        db.execute("UPDATE pended SET expires='2000-01-01T00:00:00+00:00' WHERE kind='approval'")
    assert "This link no longer works" in httpx.get(_local(links["com@example.org"], url)).text
    assert "waiting for approval" in digest("letters", "-c", str(site)).output


def test_an_approver_taken_off_the_list_no_longer_counts(site: Path, sink: Sink, server: tuple[str, Path]) -> None:
    url, _log = server
    assert digest("send", "-c", str(site), "--ask-approval").exit_code == 0
    assert "Send approved" in httpx.post(_local(_links(sink)["com@example.org"], url),
                                         data={"reponse": "approved"}).text
    site.write_text(site.read_text(encoding="utf-8").replace('"dg@example.org", "com@example.org"',
                                                             '"dg@example.org"'), encoding="utf-8")
    refused = digest("send", "-c", str(site), "--list", str(site.parent / "abonnes.csv"), "--yes")
    assert refused.exit_code == 2 and "(dg@example.org)" in refused.output


def test_without_smtp_approvers_are_refused_by_the_configuration(tmp_path: Path) -> None:
    from tests.send_support import config_text

    text = config_text(25).split("\n[smtp]\n")[0] + APPROVERS
    (tmp_path / "sources.toml").write_text(text, encoding="utf-8")
    checked = digest("check", "-c", str(tmp_path / "sources.toml"))
    assert checked.exit_code == 2 and "[send] approvers" in checked.output and "[smtp]" in checked.output


def test_the_desk_asks_for_approval_and_shows_where_it_stands(site: Path, sink: Sink) -> None:
    import json

    from tests.preview_support import running
    from tests.test_preview import request

    with running(site) as (_session, server):
        status, _headers, body = request(server.url + "ask-approval", {"token": server.desk.token})
        answer = json.loads(body)
        assert status == 200 and answer["ok"], answer
        assert answer["message"] == "Approval asked of dg@example.org, com@example.org."
        home = request(server.url)[2]
        assert "Ask for approval" in home and "waiting for approval (asked of dg@example.org, com@example.org)" in home
        forged = request(server.url + "ask-approval", {"token": "forged"})
        assert forged[0] == 403
    assert sorted(r.rcpt for r in sink.recorder.received) == ["com@example.org", "dg@example.org"]
