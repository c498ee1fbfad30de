"""What makes the desk answer at once, each held to what the editor relies on: a change answers with its letter
(the report follows, right), the page's card forms work without a script, a change started from the file kept
parsed writes what a fresh read would, and no answer waits on Nagle's algorithm. The times themselves are
measured by benchmarks/bench_desk.py, never here."""

from __future__ import annotations

import json
import shutil
import socket
import tomllib
from pathlib import Path
from typing import Any

import httpx
import lxml.html
import pytest

from digest import config
from digest.edit import issueedit
from digest.review import check, desk
from tests.conftest import ROOT
from tests.preview_support import cookie_for, make_site, running, with_issue
from tests.test_preview import post, report, request

pytestmark = pytest.mark.usefixtures("french")  # the desk speaks the team's language

SENEGAL = "https://cites-unies-france.org/atelier-du-groupe-pays-senegal-le-19-novembre-2025"
SENEGAL_TITLE = "Atelier du groupe-pays Sénégal"
LONG_SUBJECT = "La Lettre de CUF de novembre : " + "coopération décentralisée, " * 4  # past what a phone shows


def state(server: desk.Running) -> dict[str, Any]:
    """The page's parts as the page asks for them after a change."""
    return json.loads(request(server.url + "state")[2])  # type: ignore[no-any-return]


def test_a_change_answers_with_its_letter_and_the_report_that_follows_is_the_new_letters(tmp_path: Path) -> None:
    with_issue(tmp_path)
    with running(make_site(tmp_path)) as (session, server):
        status, answer = post(server, op="exclude", name=SENEGAL)
        assert status == 200
        letter = answer["letter"]
        assert letter.startswith("<!doctype html>") and SENEGAL_TITLE not in letter
        assert letter == request(server.url + "letter.html")[2]  # the page shows what the letter's address serves

        assert not any(f["check"] == "subject" for f in report(server.url)["findings"])
        status, answer = post(server, op="words", subject=LONG_SUBJECT, preheader="", editorial="")
        assert LONG_SUBJECT.strip() in answer["letter"]
        parts = state(server)["parts"]
        assert isinstance(parts, dict) and f"{len(LONG_SUBJECT.strip())} caractères" in parts["report"]
        shown_report = report(server.url)
        cfg, built = session.config, session.snapshot.built
        assert cfg is not None and built is not None
        _again, expected = check.build_and_check(cfg, built.letter.date, session.outbox)
        shown_findings = {(f["level"], f["check"], f["message"]) for f in shown_report["findings"]}
        assert any(check_name == "subject" for _level, check_name, _message in shown_findings)
        # the report of the letter on show, as `digest check` finds it (less what the template accepts)
        assert shown_findings <= {(f.level, f.check, f.message) for f in expected}


def test_a_cards_buttons_work_without_the_pages_script(tmp_path: Path) -> None:
    """The page's one form per card: a browser without script posts the button pressed, as its `op`."""
    issue = with_issue(tmp_path)
    with running(make_site(tmp_path)) as (session, server):
        page = request(server.url)[2]
        card = lxml.html.fromstring(page).xpath(f'//li[@data-name="{SENEGAL}"]')[0]
        form = card.xpath(".//form[contains(@class, 'actions')]")[0]
        fields = {i.get("name"): i.get("value") for i in form.xpath(".//input[@type='hidden']")}
        pressed = form.xpath(".//button[normalize-space()='Exclure']")[0]
        fields[pressed.get("name")] = pressed.get("value")
        # posted as a browser does without script: no JSON asked, the redirection back to the page not followed
        answer = httpx.post(server.url + "action", data=fields, headers=cookie_for(server.url), timeout=10)
        assert answer.status_code == 303 and answer.headers["location"] == server.desk.prefix
        assert tomllib.loads(issue.read_text(encoding="utf-8"))["exclude"] == [SENEGAL]
        assert SENEGAL_TITLE not in (session.snapshot.html or "")


def test_a_change_started_from_the_file_kept_parsed_writes_what_a_fresh_read_would(tmp_path: Path) -> None:
    issue = tmp_path / "issues" / "2025-11.toml"
    issue.parent.mkdir()
    cfg = config.load(make_site(tmp_path))
    steps = [issueedit.exclude(SENEGAL), issueedit.include(SENEGAL), issueedit.toggle("pin", SENEGAL),
             issueedit.move("pin", SENEGAL, "up"), issueedit.toggle("featured", SENEGAL),
             issueedit.set_text("subject", "Objet"), issueedit.set_editorial("Bonjour\n\nà tous"),
             issueedit.exclude(SENEGAL), issueedit.include(SENEGAL), issueedit.set_editorial("")]
    written = {}
    for kept in (False, True):
        shutil.copy(ROOT / "issues" / "2025-11.toml", issue)
        for step in steps:
            if kept:
                issueedit.read_ahead(issue)
            else:
                issueedit._PARSED.clear()
            issueedit.apply(cfg, issue, issueedit.version_of(issue), step)
        written[kept] = issue.read_bytes()
    assert written[True] == written[False]
    assert b"# Items left out of this letter." in written[True]  # the comments kept, as ever
    # A refused change leaves nothing behind in the file kept parsed: the next change does not carry it.
    issueedit.read_ahead(issue)
    with pytest.raises(issueedit.Refused):
        issueedit.apply(cfg, issue, issueedit.version_of(issue),
                        issueedit.override(SENEGAL, {"title": "Refusé", "image": "javascript:alert(1)"}))
    issueedit.apply(cfg, issue, issueedit.version_of(issue), issueedit.toggle("pin", SENEGAL))
    assert "Refusé" not in issue.read_text(encoding="utf-8") and "javascript" not in issue.read_text(encoding="utf-8")


def test_every_connection_the_desk_accepts_sends_at_once(tmp_path: Path) -> None:
    """Nagle's algorithm off (TCP_NODELAY) on the desk's connections: with it on, an answer written in two
    parts waited for the browser's delayed acknowledgement, 40 ms on every request."""
    with running(make_site(tmp_path)) as (_session, server), httpx.Client(headers=cookie_for(server.url)) as client:
        assert client.get(server.url + "state").status_code == 200  # the connection stays open
        connections = list(server.server.server_state.connections)
        assert connections
        for connection in connections:
            sock = connection.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1



def test_a_rebuild_that_fails_after_a_click_keeps_the_report_of_the_letter_on_show(tmp_path: Path) -> None:
    """A click shows its letter before checking it; a template broken just after leaves that letter on show, and
    its report still comes: the error above it, its findings below."""
    with_issue(tmp_path)
    with running(make_site(tmp_path)) as (session, server):
        assert post(server, op="words", subject=LONG_SUBJECT, preheader="", editorial="")[0] == 200
        template = tmp_path / "templates" / "letter.mjml.j2"
        template.write_text(template.read_text(encoding="utf-8") + "{% endfor %}", encoding="utf-8")
        failed = session.rebuild()  # what the watcher does on the save
        assert failed.error and "letter.mjml.j2" in failed.error and LONG_SUBJECT.strip() in (failed.html or "")
        shown = report(server.url)
        assert "letter.mjml.j2" in shown["error"]
        assert any(f["check"] == "subject" for f in shown["findings"])  # the letter on show, judged
