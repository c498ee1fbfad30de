"""The editorial desk over HTTP (no browser): routes, rebuilds on change, event stream, errors, Ctrl-C, the
Host check, the session token, the security headers, changes to the issue file and their conflicts; and the web
archive the outbox writes (outbox/index.html)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from digest import config, letterfolder, pipeline
from digest.cli import main
from digest.errors import DigestError
from digest.review import desk, preview
from tests import installed
from tests.conftest import LETTER_DATE, ROOT, plain
from tests.preview_support import cookie_for, edit, make_site, running, with_issue

pytestmark = pytest.mark.usefixtures("french")  # the desk speaks the team's language

TITLE_LINE = "{{ letter.title }}{% endif %}</h1>"


def get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=cookie_for(url)), timeout=5) as response:
        return response.status, response.headers["Content-Type"], response.read().decode("utf-8")


def report(base: str) -> dict[str, Any]:
    return json.loads(get(base + "report.json")[2])  # type: ignore[no-any-return]


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_routes_serve_the_page_the_letter_its_variants_and_the_report(tmp_path: Path) -> None:
    with running(make_site(tmp_path)) as (_session, server):
        base = server.url
        assert base.startswith("http://127.0.0.1:")
        status, kind, page = get(base)
        assert status == 200 and kind.startswith("text/html")
        assert "La Lettre de CUF – novembre 2025" in page  # the subject, as the inbox line shows it
        assert 'id="phone-frame"' in page and 'id="desktop-frame"' in page and 'id="dark-frame"' in page
        assert '<html lang="fr">' in page and "Les articles" in page
        _, _, letter = get(base + "letter.html")
        assert letter.startswith("<!doctype html>") and "Se désinscrire" in letter
        _, _, dark = get(base + "letter-dark.html")
        assert "prefers-color-scheme" not in dark and "color-scheme: dark" in dark
        _, kind, text = get(base + "letter.txt")
        assert kind.startswith("text/plain") and "LA LETTRE DE CUF" in text
        findings = report(base)["findings"]
        assert any(f["check"] == "no-date" and f["level"] == "warning" for f in findings)  # the undated briefs
        assert not any(f["check"] == "css" for f in findings)  # accepted beside the stock template, as in check
        with pytest.raises(urllib.error.HTTPError) as missing:
            get(base + "nothing-here")
        assert missing.value.code == 404


def test_a_template_change_rebuilds_and_is_announced_on_the_event_stream(tmp_path: Path) -> None:
    path = make_site(tmp_path)
    with running(path) as (_session, server), urllib.request.urlopen(urllib.request.Request(
            server.url + "events", headers=cookie_for(server.url)), timeout=5) as events:
        assert events.readline() == b"event: build\n"
        assert json.loads(events.readline().decode().removeprefix("data: ")) == {"version": 1, "ok": True}
        events.readline()
        edit(tmp_path / "templates" / "letter.mjml.j2", TITLE_LINE,
             "{{ letter.title }} · ÉDITION TEST{% endif %}</h1>")
        assert events.readline() == b"event: build\n"
        assert json.loads(events.readline().decode().removeprefix("data: ")) == {"version": 2, "ok": True}
        assert "ÉDITION TEST" in get(server.url + "letter.html")[2]


def test_a_failed_rebuild_shows_its_error_and_keeps_the_last_good_letter(tmp_path: Path) -> None:
    path = make_site(tmp_path)
    with running(path) as (session, server):
        good = get(server.url + "letter.html")[2]
        edit(tmp_path / "templates" / "letter.mjml.j2", TITLE_LINE, "{% if %}" + TITLE_LINE)
        wait_for(lambda: session.snapshot.version >= 2)
        state = report(server.url)
        assert "letter.mjml.j2" in state["error"] and "ligne" in state["error"]
        assert get(server.url + "letter.html")[2] == good
        page = get(server.url)[2]
        assert 'id="build-error"' in page and "letter.mjml.j2" in page
        edit(tmp_path / "templates" / "letter.mjml.j2", "{% if %}", "")
        wait_for(lambda: session.snapshot.version >= 3)
        assert report(server.url)["error"] is None


def test_a_broken_configuration_is_shown_and_fixed_without_restarting(tmp_path: Path) -> None:
    path = make_site(tmp_path)
    with running(path) as (session, server):
        edit(path, 'kind = "agenda"', 'kind = "agendas"')
        wait_for(lambda: session.snapshot.version >= 2)
        assert "kind: attendu : l’un de news, agenda" in plain(report(server.url)["error"])
        edit(path, 'kind = "agendas"', 'kind = "agenda"')
        wait_for(lambda: session.snapshot.version >= 3)
        assert report(server.url)["error"] is None


def test_a_data_file_change_rebuilds(tmp_path: Path) -> None:
    path = make_site(tmp_path)
    breves = tmp_path / "samples" / "breves.json"
    with running(path) as (session, server):
        data = json.loads(breves.read_text(encoding="utf-8"))
        items = data["items"] if isinstance(data, dict) else data
        items.append({"title": "Brève ajoutée pendant la relecture", "url": "https://example.org/ajout"})
        breves.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        wait_for(lambda: "Brève ajoutée pendant la relecture" in (session.snapshot.html or ""))
        assert "Brève ajoutée pendant la relecture" in get(server.url + "letter.txt")[2]


def test_an_issue_file_is_watched(tmp_path: Path) -> None:
    cfg = config.load(make_site(tmp_path))
    issue = tmp_path / "issues" / "2025-11.toml"
    issue.parent.mkdir()
    issue.write_text("", encoding="utf-8")
    assert issue in preview.watched_paths(cfg)
    assert tmp_path / "samples" / "agenda.ics" in preview.watched_paths(cfg)
    assert tmp_path / "templates" / "letter.txt.j2" in preview.watched_paths(cfg)


def test_dark_view_applies_the_dark_styles_unconditionally() -> None:
    html = ("<html><head><style>@media (prefers-color-scheme: dark) { .dk { color: #fff } }"
            "@media screen and (prefers-color-scheme: light) { .lt { color: #000 } }</style></head></html>")
    dark = preview.dark(html)
    assert "@media (min-width: 0px) { .dk" in dark
    assert "screen and (max-width: -1px)" in dark
    assert ":root { color-scheme: dark; }" in dark


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    path = make_site(tmp_path)
    with running(path) as (_session, server):
        port = server.sock.getsockname()[1]
        with pytest.raises(DigestError, match=f"impossible d’écouter sur 127.0.0.1:{port}.*--port"):
            desk.bind("127.0.0.1", port)


def test_preview_listens_on_loopback_unless_told(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["preview", "--help"])
    assert "--host" in result.output and "127.0.0.1" in result.output and "--no-open" in result.output
    assert "--port" in result.output


def test_preview_with_a_broken_configuration_exits_2_before_serving(tmp_path: Path) -> None:
    path = make_site(tmp_path)
    edit(path, 'kind = "agenda"', 'kind = "agendas"')
    result = CliRunner().invoke(main, ["preview", "-c", str(path), "--no-open", "--port", "0"])
    assert result.exit_code == 2
    assert "kind: attendu : l’un de news, agenda" in plain(result.output) and "Traceback" not in result.output


def test_ctrl_c_stops_the_preview_cleanly(tmp_path: Path) -> None:
    path = make_site(tmp_path)
    process = subprocess.Popen([*installed.command(), "preview", "-c", str(path), "--port", "0",
                                "--no-open"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert process.stdout is not None
    lines = []
    while "Ctrl-C" not in "".join(lines):
        line = process.stdout.readline()
        assert line, "".join(lines)
        lines.append(line)
    printed = next(word for word in "".join(lines).split() if word.startswith("http://127.0.0.1:"))
    url, _, key = printed.partition("?")
    assert key.startswith("cle=")  # the URL to open carries the one-time key
    visit = httpx.get(printed, follow_redirects=False, timeout=5)
    cookie = {"Cookie": f"digest-desk={visit.cookies['digest-desk']}"}
    events = urllib.request.urlopen(urllib.request.Request(url + "events", headers=cookie), timeout=5)
    assert events.readline() == b"event: build\n"
    page = httpx.get(url, headers=cookie, timeout=10)  # the desk as the installed package serves it
    assert page.status_code == 200 and "La Lettre de CUF" in page.text and "static/desk.js" in page.text
    assert httpx.get(url + "static/desk.js", headers=cookie, timeout=10).status_code == 200
    assert "<html" in httpx.get(url + "letter.html", headers=cookie, timeout=10).text
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=10)
    events.close()
    assert process.returncode == 0, output
    assert "Rédaction arrêtée." in output and "Traceback" not in output


# --- the web archive -------------------------------------------------------------------------------------


def test_outbox_index_lists_every_letter_newest_first(tmp_path: Path) -> None:
    cfg = config.load(ROOT / "sources.toml")
    out = tmp_path / "outbox"
    for day in (LETTER_DATE, LETTER_DATE.replace(day=27)):
        pipeline.build(cfg, day, out, include_sent=True)
    index = (out / "index.html").read_text(encoding="utf-8")
    newest, oldest = index.index('href="2025-11-27/letter.html"'), index.index('href="2025-11-20/letter.html"')
    assert newest < oldest
    assert "La Lettre de CUF – novembre 2025" in index
    assert (out / "2025-11-27" / "letter.html").is_file()
    assert [a.folder.name for a in letterfolder.letters(out)] == ["2025-11-20", "2025-11-27"]


def test_build_prints_the_index_among_the_files_written(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["build", "-c", str(ROOT / "sources.toml"), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "../index.html" in result.output
    assert (tmp_path / "index.html").is_file()


# --- the desk's safety and its changes to the issue file ---------------------------------------------------

VIETNAM = "https://cites-unies-france.org/intemperies-dans-le-centre-du-vietnam-ouverture-d-un-fonds-de-solidarite-des"
SENEGAL = "https://cites-unies-france.org/atelier-du-groupe-pays-senegal-le-19-novembre-2025"


def request(url: str, data: dict[str, str] | None = None, headers: dict[str, str] | None = None
            ) -> tuple[int, dict[str, str], str]:
    """A GET (or a POST of `data` as a form) with these headers; status, headers and body, errors included."""
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    sent = urllib.request.Request(url, data=body, headers={"Accept": "application/json", **cookie_for(url),
                                                           **(headers or {})})
    try:
        with urllib.request.urlopen(sent, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode("utf-8")


def post(server: desk.Running, **fields: str) -> tuple[int, dict[str, Any]]:
    """A change from the page: the session's token and the issue file's version unless given."""
    state = json.loads(request(server.url + "state")[2])
    form = {"token": server.desk.token, "version": state["issue_version"], **fields}
    status, _, body = request(server.url + "action", form)
    return status, json.loads(body)


def test_a_request_for_another_host_name_is_refused_dns_rebinding(tmp_path: Path) -> None:
    with running(make_site(tmp_path)) as (_session, server):
        port = server.sock.getsockname()[1]
        for host in ("evil.example", f"evil.example:{port}", "127.0.0.1:1"):
            status, _, body = request(server.url, headers={"Host": host})
            assert status == 421 and "letter.html" not in body and "Lettre" not in body
            assert request(server.url + "letter.html", headers={"Host": host})[0] == 421
        assert request(server.url, headers={"Host": f"localhost:{port}"})[0] == 200
        assert request(server.url)[0] == 200


def test_the_page_and_the_letter_send_a_content_security_policy_and_frame_options(tmp_path: Path) -> None:
    with running(make_site(tmp_path)) as (_session, server):
        _, headers, page = request(server.url)
        policy = headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
        assert headers["x-frame-options"] == "DENY"
        assert "<script>" not in page and 'sandbox="allow-same-origin' in page  # no inline script; a sandbox
        _, headers, _ = request(server.url + "letter.html")
        assert "default-src 'none'" in headers["content-security-policy"]
        assert "script" not in headers["content-security-policy"]  # default-src 'none': no script at all
        assert headers["x-frame-options"] == "SAMEORIGIN"


def test_a_change_without_the_session_token_or_from_another_origin_is_refused(tmp_path: Path) -> None:
    issue = with_issue(tmp_path)
    with running(make_site(tmp_path)) as (_session, server):
        before = issue.read_bytes()
        version = json.loads(request(server.url + "state")[2])["issue_version"]
        change = {"version": version, "op": "exclude", "name": SENEGAL}
        assert request(server.url + "action", change)[0] == 403
        assert request(server.url + "action", {**change, "token": "guessed"})[0] == 403
        status, _, body = request(server.url + "action", {**change, "token": server.desk.token},
                                  headers={"Origin": "http://evil.example"})
        assert status == 403 and "autre page" in body
        assert issue.read_bytes() == before


def test_each_change_is_written_to_the_issue_file_keeping_its_comments(tmp_path: Path) -> None:
    issue = with_issue(tmp_path)
    with running(make_site(tmp_path)) as (session, server):
        assert post(server, op="exclude", name=SENEGAL)[0] == 200
        text = issue.read_text(encoding="utf-8")
        assert "# Items left out of this letter." in text and "# Reference: docs/issue-file-and-desk.md" in text
        assert issuefile_value(issue, "exclude") == [SENEGAL]
        assert "Atelier du groupe-pays Sénégal" not in (session.snapshot.html or "")
        assert post(server, op="include", name=SENEGAL)[0] == 200
        assert issuefile_value(issue, "exclude") == []
        assert post(server, op="pin", name=SENEGAL)[0] == 200
        assert issuefile_value(issue, "pin") == [VIETNAM, SENEGAL]
        assert post(server, op="move-up", key="pin", name=SENEGAL)[0] == 200
        assert issuefile_value(issue, "pin") == [SENEGAL, VIETNAM]
        assert post(server, op="feature", name=VIETNAM)[0] == 200
        assert issuefile_value(issue, "featured") == [VIETNAM]
        assert post(server, op="words", subject="Objet  choisi", preheader="", editorial="Bonjour **à tous**")[0] == 200
        assert issuefile_value(issue, "subject") == "Objet choisi"
        assert session.snapshot.subject == "Objet choisi"
        assert "<strong>à tous</strong>" in (session.snapshot.html or "")
        assert post(server, op="section", name="breves", direction="up")[0] == 200
        assert issuefile_value(issue, "sections") == ["cuf", "agenda", "breves", "collectivites"]
        assert "Markdown: paragraphs" in issue.read_text(encoding="utf-8")  # the [editorial] comment survived


def test_a_change_made_on_an_older_version_of_the_file_is_refused_and_the_hand_edit_kept(tmp_path: Path) -> None:
    issue = with_issue(tmp_path)
    with running(make_site(tmp_path)) as (_session, server):
        old = json.loads(request(server.url + "state")[2])["issue_version"]
        edit(issue, "pin = [", "# a note written by hand\npin = [")
        status, _, body = request(server.url + "action", {"token": server.desk.token, "version": old,
                                                          "op": "exclude", "name": SENEGAL})
        assert status == 409 and "modifié à la main" in json.loads(body)["message"]
        assert "# a note written by hand" in issue.read_text(encoding="utf-8")
        assert "\nexclude = [" not in issue.read_text(encoding="utf-8")
        wait_for(lambda: json.loads(request(server.url + "state")[2])["issue_version"] != old)


def test_a_change_the_issue_file_would_refuse_is_not_written(tmp_path: Path) -> None:
    issue = with_issue(tmp_path)
    with running(make_site(tmp_path)) as (_session, server):
        before = issue.read_bytes()
        status, answer = post(server, op="override", name=SENEGAL, title="Titre", image="javascript:alert(1)")
        assert status == 422 and "refusée" in answer["message"] and "image" in answer["message"]
        status, answer = post(server, op="add", section="nulle-part", title="Un article")
        assert status == 422 and "nulle-part" in answer["message"]
        assert post(server, op="unknown")[0] == 400
        assert issue.read_bytes() == before


def test_a_hand_edit_of_the_issue_file_rebuilds_through_file_events(tmp_path: Path) -> None:
    issue = with_issue(tmp_path)
    with running(make_site(tmp_path)) as (session, _server):
        version = session.snapshot.version
        edit(issue, "# subject = ", 'subject = "Écrit à la main"\n# ')
        wait_for(lambda: session.snapshot.version > version and session.snapshot.subject == "Écrit à la main")


def issuefile_value(path: Path, key: str) -> Any:
    import tomllib

    return tomllib.loads(path.read_text(encoding="utf-8")).get(key, [])


def test_each_report_finding_about_an_item_links_to_its_card(tmp_path: Path) -> None:
    import re

    with running(make_site(tmp_path)) as (_session, server):
        page = request(server.url)[2]
        rows = re.findall(r'<tr class="warning"><td>Attention</td><td>sans date</td>\s*<td><a href="#(item-\d+)">',
                          page)
        assert len(rows) == 3  # the three undated "En bref" items
        for anchor in rows:  # each link leads to an undated card of the "En bref" section
            card = page[page.index(f'id="{anchor}"'):]
            assert "sans date" in card[:card.index("</li>")]
            assert page.rindex('id="section-', 0, page.index(f'id="{anchor}"')) == page.index('id="section-breves"')


def test_the_first_change_makes_the_issue_file_when_there_is_none(tmp_path: Path) -> None:
    with running(make_site(tmp_path)) as (session, server):
        issue = tmp_path / "issues" / "2025-11.toml"
        assert not issue.exists()
        assert post(server, op="exclude", name=SENEGAL)[0] == 200
        text = issue.read_text(encoding="utf-8")
        assert text.startswith("# Le numéro du mois") and issuefile_value(issue, "exclude") == [SENEGAL]
        assert "Atelier du groupe-pays Sénégal" not in (session.snapshot.html or "")


def test_a_control_character_typed_in_the_edito_is_removed_and_the_letter_still_builds(tmp_path: Path) -> None:
    issue = with_issue(tmp_path)
    with running(make_site(tmp_path)) as (session, server):
        assert post(server, op="words", subject="Objet", preheader="", editorial="Bonjour\x01 à tous\ufffe")[0] == 200
        state = report(server.url)
        assert state["error"] is None, state["error"]
        assert "Bonjour à tous" in (session.snapshot.html or "")
        assert "2 caractères qu’un e-mail ne peut pas porter ont été retirés" in json.dumps(state, ensure_ascii=False)
    assert "Bonjour" in issue.read_text(encoding="utf-8")


# --- the desk opens for the one who started it ---------------------------------------------------------------

CLIENT = """
import json, sys, urllib.error, urllib.request
base, answers = sys.argv[1], []
for path, data in (("", None), ("state", None), ("letter.html", None), ("report.json", None),
                   ("action", b"op=exclude&name=x"), ("test-send", b"to=someone%40example.org")):
    try:
        with urllib.request.urlopen(urllib.request.Request(base + path, data=data), timeout=10) as answer:
            answers.append([answer.status, answer.read().decode()])
    except urllib.error.HTTPError as refused:
        answers.append([refused.code, refused.read().decode()])
print(json.dumps(answers))
"""


def test_without_the_login_cookie_every_page_and_action_is_a_french_403(tmp_path: Path) -> None:
    issue = with_issue(tmp_path)
    with running(make_site(tmp_path)) as (_session, server):
        before = issue.read_bytes()
        # Another local user: another process, no cookie, the plain URL (as `ss -tlnp` or a guess shows it).
        other = subprocess.run([sys.executable, "-c", CLIENT, server.url], capture_output=True, text=True,
                               timeout=60, check=True).stdout
        answers = json.loads(other)
        assert [status for status, _ in answers] == [403] * 6, other
        assert all("Ouvrez l’adresse donnée au lancement" in body for _, body in answers)
        assert "digest preview" in other and "Lettre de CUF" not in other and server.desk.token not in other
        assert issue.read_bytes() == before
        # The page its user gets carries no login key: the key is spent, and the page's token is not a key.
        status, _, page = request(server.url)
        assert status == 200 and "cle=" not in page
        key_url = server.login_url()
        assert "set-cookie" in httpx.get(key_url, follow_redirects=False).headers
        again = httpx.get(key_url, follow_redirects=False)  # one time: a second visit of the same URL is refused
        assert again.status_code == 403 and "set-cookie" not in again.headers
        assert httpx.get(server.url + "?cle=guessed").status_code == 403
        # The printed URL opened again in the browser that has the cookie: back to the desk, not refused.
        reopened = httpx.get(key_url, headers=cookie_for(server.url), follow_redirects=False)
        assert reopened.status_code == 303 and reopened.headers["location"] == server.desk.prefix
        assert httpx.get(server.url, cookies={"digest-desk": "guessed"}).status_code == 403
        # The page's script of a desk since restarted (its cookie is of the old session) gets the words as JSON.
        stale = httpx.post(server.url + "action", data={"op": "exclude"}, cookies={"digest-desk": "old"},
                           headers={"Accept": "application/json"})
        assert stale.status_code == 403 and "digest preview" in stale.json()["message"]


def test_a_form_over_the_limit_is_refused_unread_with_words_the_page_shows(tmp_path: Path) -> None:
    issue = with_issue(tmp_path)
    with running(make_site(tmp_path)) as (_session, server):
        before = issue.read_bytes()
        status, _, body = request(server.url + "action", {"token": server.desk.token, "op": "words",
                                                           "editorial": "a" * desk.MAX_FORM_BYTES})
        assert status == 413 and json.loads(body) == {"ok": False, "message": "Ce site n’accepte pas de tels envois."}
        assert issue.read_bytes() == before


def test_a_test_send_takes_at_most_five_typed_addresses_and_five_sends_a_minute(tmp_path: Path) -> None:
    with running(make_site(tmp_path)) as (_session, server):
        def send(to: str) -> str:
            _status, _, body = request(server.url + "test-send", {"token": server.desk.token, "to": to})
            return str(json.loads(body)["message"])

        six = ", ".join(f"r{n}@example.org" for n in range(6))
        assert plain(send(six)) == "Test non envoyé : 5 adresses au plus par envoi de test (6 indiquées)."
        # No SMTP server listens for this configuration: each try fails, and each counts toward the limit.
        answers = [send("r@example.org") for _ in range(6)]
        assert all("par minute" not in a for a in answers[:5]), answers
        assert plain(answers[5]).startswith("Test non envoyé : 5 envois de test par minute au plus"), answers


# --- the letter's look, from the desk ------------------------------------------------------------------------


def test_a_colour_changed_in_the_desk_is_written_into_sources_toml_and_its_contrast_shown(tmp_path: Path) -> None:
    path = make_site(tmp_path)
    path.write_text(path.read_text(encoding="utf-8") + "\n# Notre charte graphique.\n[look]\n"
                    "header = \"#2d1e5f\"  # le bleu de la charte\n", encoding="utf-8")
    with running(path) as (session, server):
        page = request(server.url)[2]
        assert "L’identité de la lettre" in page
        assert "#2d1e5f · contraste 14.4:1 (4.5:1 demandé) : suffisant" in plain(page)
        status, answer = post(server, op="look", key="accent", value="#FF9900")
        assert status == 200 and answer["message"] == "Couleur enregistrée dans sources.toml.", answer
        text = path.read_text(encoding="utf-8")
        assert 'accent = "#ff9900"' in text and "# le bleu de la charte" in text and "# Notre charte" in text
        assert "#ff9900" in (session.snapshot.html or "")  # the letter on show has the new colour
        panel = json.loads(request(server.url + "state")[2])["parts"]["look-panel"]
        assert "#ff9900 · contraste 2.1:1 (3:1 demandé) : insuffisant, essayez #" in plain(panel)
        assert any(f.check == "contrast" for f in session.snapshot.findings)  # and the report says so
        refused, said = post(server, op="look", key="accent", value="orange")
        assert refused == 422 and "Couleur refusée" in said["message"] and "#rrggbb" in said["message"]
        unknown, said = post(server, op="look", key="font", value="#000000")
        assert unknown == 422 and "Couleur inconnue" in said["message"]
    assert 'accent = "#ff9900"' in path.read_text(encoding="utf-8")  # the refusals wrote nothing


def test_a_click_reuses_the_sources_as_read_and_a_changed_source_file_is_read_again(tmp_path: Path) -> None:
    """A click changes the issue file only: the desk does not read every source again (nor fetch web ones)
    for it; a source file that changed is read again at the next rebuild."""
    path = make_site(tmp_path)
    data = tmp_path / "samples" / "collectivites.csv"
    with running(path) as (session, server):
        before = data.stat()
        lines = data.read_text(encoding="utf-8-sig").splitlines()
        shown = next(n for n, line in enumerate(lines[1:], 1) if line.split(";")[0] in (session.snapshot.text or ""))
        cells = lines[shown].split(";")
        cells[0] = "Une nouvelle de la dernière minute"
        lines[shown] = ";".join(cells)  # an item the letter shows, renamed
        data.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.utime(data, ns=(before.st_atime_ns, before.st_mtime_ns))  # the same file, as far as its date says
        assert post(server, op="words", subject="Objet du mois", preheader="", editorial="")[0] == 200
        assert "Une nouvelle de la dernière minute" not in (session.snapshot.html or "")  # sources kept as read
        assert "Objet du mois" in (session.snapshot.html or "")  # the click itself is in the letter
        os.utime(data)  # now the file says it changed: read again
        session.rebuild()
        assert "Une nouvelle de la dernière minute" in (session.snapshot.html or "")
