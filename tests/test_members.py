"""Two editions of one letter: what is for members reaches members only.

A source, a section or an item says `audience = "members"`; one build writes the public edition and the members'
edition (adherents/, never published); one list send gives each address its edition, once, kept on a resumed
send; a member is one because the team says so (the members file's domains, `subscribers set --member`, an import
column), never by their own claim. A real SMTP server receives the copies."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
import pytest

from digest.letterfolder import MEMBERS
from tests.send_support import DAY, config_text, digest, sink
from tests.smtp_sink import Sink
from tests.test_serve import start

__all__ = ["sink"]
pytestmark = pytest.mark.usefixtures("secret")
BREVES = "Fonds de solidarité pour Gaza"  # a title of the samples' breves.json: the source for members here
PUBLIC_TITLE = "Atelier du groupe-pays Sénégal"  # an item of the CUF feed, for every reader


def _site(tmp_path: Path, port: int, extra: str = "") -> Path:
    """The samples' letter with the breves source for members only, a members file, the letter built."""
    text = config_text(port, extra).replace('name = "breves"\nsection = "breves"\n',
                                            'name = "breves"\nsection = "breves"\naudience = "members"\n')
    (tmp_path / "adherents.csv").write_text("collectivite;domaines;site\nVille de Nancy;nancy.fr mairie-nancy.fr;"
                                            "https://www.nancy.fr\n", encoding="utf-8")
    path = tmp_path / "sources.toml"
    path.write_text(text + '\n[members]\nfile = "adherents.csv"\n', encoding="utf-8")
    built = digest("build", "-c", str(path), "--date", DAY)
    assert built.exit_code == 0, built.output
    return path


def _subscribe(path: Path, *addresses: str) -> None:
    for address in addresses:
        assert digest("subscribers", "add", address, "-c", str(path)).exit_code == 0


def test_a_source_for_members_makes_a_members_edition_the_public_one_never_shows(tmp_path: Path) -> None:
    path = _site(tmp_path, 25)
    folder = tmp_path / "outbox" / DAY
    public, members = (folder / "letter.html").read_text(), (folder / MEMBERS / "letter.html").read_text()
    assert BREVES not in public and BREVES in members and PUBLIC_TITLE in public and PUBLIC_TITLE in members
    assert "Édition adhérents" in members and "Édition adhérents" not in public  # the letter speaks French
    assert "Voir la lettre dans le navigateur" in public and "Voir la lettre dans le navigateur" not in members
    assert BREVES not in (folder / "letter.txt").read_text() and BREVES in (folder / MEMBERS / "letter.txt").read_text()
    assert BREVES not in (folder / "digest.json").read_text()  # the public record names nothing for members
    published = digest("publish", str(tmp_path / "site"), "-c", str(path), "--date", DAY)
    assert published.exit_code == 0, published.output
    site = tmp_path / "site"
    assert not (site / DAY / MEMBERS).exists() and not any(BREVES in p.read_text(errors="ignore")
                                                          for p in site.rglob("*") if p.is_file())
    checked = digest("check", "-c", str(path), "--date", DAY)
    assert "Members' edition:" in checked.output and "for members only" in checked.output


def test_a_letter_with_nothing_for_members_has_one_edition(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text(config_text(25), encoding="utf-8")
    assert digest("build", "-c", str(tmp_path / "sources.toml"), "--date", DAY).exit_code == 0
    assert not (tmp_path / "outbox" / DAY / MEMBERS).exists()


def test_one_send_gives_each_address_its_edition_once(tmp_path: Path, sink: Sink) -> None:
    path = _site(tmp_path, sink.port)
    _subscribe(path, "anne@nancy.fr", "paul@example.org", "lea@example.org")
    marked = digest("subscribers", "set", "lea@example.org", "--member", "Région Bretagne", "-c", str(path))
    assert marked.exit_code == 0, marked.output
    said = digest("send", "-c", str(path), "--list", "--yes")
    assert said.exit_code == 0, said.output
    assert "2 member(s) get the members' edition, 1 the public one" in said.output
    got = {r.rcpt: r.message.get_body(("html",)).get_content() for r in sink.recorder.received}  # type: ignore[union-attr]
    assert BREVES in got["anne@nancy.fr"] and BREVES in got["lea@example.org"]  # by domain, by the team's mark
    assert BREVES not in got["paul@example.org"] and PUBLIC_TITLE in got["paul@example.org"]
    status = digest("send", "-c", str(path), "--status").output
    assert "members' edition: sent 2" in status and "public edition: sent 1" in status
    again = digest("send", "-c", str(path), "--list", "--yes", "--date", DAY)
    assert again.exit_code == 0 and len(sink.recorder.received) == 3  # nobody twice


def test_a_resumed_send_keeps_each_addresss_edition(tmp_path: Path, sink: Sink) -> None:
    path = _site(tmp_path, sink.port)
    _subscribe(path, "anne@nancy.fr", "paul@example.org")
    sink.recorder.refuse_after = 0  # the server goes away before any message: everyone stays pending
    first = digest("send", "-c", str(path), "--list", "--yes")
    assert first.exit_code == 1 and not sink.recorder.received
    sink.recorder.refusing = False
    assert digest("subscribers", "set", "paul@example.org", "--member", "Ville de Metz", "-c", str(path)).exit_code == 0
    assert digest("send", "-c", str(path), "--list", "--yes").exit_code == 0
    got = {r.rcpt: r.message.get_body(("html",)).get_content() for r in sink.recorder.received}  # type: ignore[union-attr]
    assert BREVES in got["anne@nancy.fr"] and BREVES not in got["paul@example.org"]  # the edition first recorded


def test_a_test_send_of_the_members_edition(tmp_path: Path, sink: Sink) -> None:
    path = _site(tmp_path, sink.port)
    sent = digest("send", "-c", str(path), "--to", "moi@example.org", "--edition", "members")
    assert sent.exit_code == 0, sent.output
    message = sink.recorder.received[0].message
    assert message["Subject"].startswith("[TEST]") and BREVES in message.get_body(("html",)).get_content()  # type: ignore[union-attr]


def test_members_come_from_the_teams_word_never_the_readers(tmp_path: Path, sink: Sink) -> None:
    path = _site(tmp_path, sink.port)
    (tmp_path / "liste.csv").write_text("email;nom;adherent\nmarie@example.org;Marie;Ville de Lyon\n"
                                        "jean@example.org;Jean;\n", encoding="utf-8")
    assert digest("subscribers", "import", str(tmp_path / "liste.csv"), "-c", str(path)).exit_code == 0
    _subscribe(path, "anne@mairie-nancy.fr")
    listed = digest("subscribers", "list", "-c", str(path)).output
    assert "member: Ville de Lyon" in listed and "member: Ville de Nancy" in listed
    assert "Subscribed: 2 member(s), 1 other(s)" in listed
    assert "Subscribed: 2 member(s), 1 other(s)" in digest("subscribers", "stats", "-c", str(path)).output
    assert digest("subscribers", "set", "marie@example.org", "--not-member", "-c", str(path)).exit_code == 0
    assert "Subscribed: 1 member(s), 2 other(s)" in digest("subscribers", "stats", "-c", str(path)).output
    assert digest("subscribers", "set", "nobody@example.org", "--member", "X", "-c", str(path)).exit_code == 2


def test_the_issue_file_marks_an_item_for_members_and_the_check_proposes_one(tmp_path: Path) -> None:
    path = _site(tmp_path, 25)
    record = json.loads((tmp_path / "outbox" / DAY / "digest.json").read_text())
    item = next(i for s in record["sections"] for i in s["items"] if i["title"].startswith(PUBLIC_TITLE))
    event = next(i for s in record["sections"] if s["id"] == "agenda" for i in s["items"])
    calendars = {f.name for f in (tmp_path / "outbox" / DAY / "agenda").iterdir()}
    issue = tmp_path / "issues" / f"{DAY[:7]}.toml"
    issue.parent.mkdir(exist_ok=True)
    issue.write_text(f'[[override]]\nitem = "{item["url"]}"\naudience = "members"\n\n'
                     f'[[override]]\nitem = "{event["url"] or event["uid"]}"\naudience = "members"\n\n'
                     '[[item]]\nsection = "cuf"\ntitle = "Séminaire réservé aux adhérents de Cités Unies France"\n'
                     'url = "https://cites-unies-france.org/seminaire"\ndate = "2025-11-19"\n', encoding="utf-8")
    assert digest("build", "-c", str(path), "--date", DAY).exit_code == 0
    folder = tmp_path / "outbox" / DAY
    assert PUBLIC_TITLE not in (folder / "letter.html").read_text()
    assert PUBLIC_TITLE in (folder / MEMBERS / "letter.html").read_text()
    # the event for members: no public .ics file (it would show it to anyone), so no .ics link in either edition
    published = {f.name for f in (folder / "agenda").iterdir()}
    assert len(published) == len(calendars) - 1
    gone = (calendars - published).pop()
    assert all(gone not in (f / "letter.html").read_text() for f in (folder, folder / MEMBERS))
    checked = digest("check", "-c", str(path), "--date", DAY, "-v").output
    assert "“Séminaire réservé aux adhérents de Cités Unies France” says it is for members" in checked


def test_a_subscribers_own_page_shows_their_edition_and_changes_only_their_name(tmp_path: Path, sink: Sink) -> None:
    path = _site(tmp_path, sink.port)
    _subscribe(path, "anne@nancy.fr")
    assert digest("send", "-c", str(path), "--to", "anne@nancy.fr").exit_code == 0
    text = sink.recorder.received[0].message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = next(w for w in text.split() if "desinscription" in w and "t=" in w)
    process, url, _log = start(tmp_path, [])
    try:
        local = url + link[link.index("/lettre/"):]
        shown = httpx.get(local)
        assert shown.status_code == 200 and "Gérer mon abonnement" in shown.text  # the letter's language
        assert "l’édition adhérents (Ville de Nancy)" in shown.text
        assert "Me désinscrire" in shown.text and 'name="nom"' in shown.text
        renamed = httpx.post(local, data={"action": "name", "nom": "Anne <b>Martin</b>", "member": "Autre"})
        assert renamed.status_code == 200 and "Votre nom est enregistré." in renamed.text
        assert "Anne &lt;b&gt;Martin&lt;/b&gt;" in renamed.text  # escaped, and the edition unchanged
        with sqlite3.connect(tmp_path / "subscribers.sqlite") as db:
            name, member, status = db.execute("SELECT name, member, status FROM subscriber").fetchone()
        assert (name, member, status) == ("Anne <b>Martin</b>", "", "subscribed")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_desk_reserves_an_item_for_members_and_shows_the_members_edition(tmp_path: Path) -> None:
    from tests.preview_support import running
    from tests.test_preview import post, request

    path = _site(tmp_path, 25)
    record = json.loads((tmp_path / "outbox" / DAY / "digest.json").read_text())
    item = next(i for s in record["sections"] for i in s["items"] if i["title"].startswith(PUBLIC_TITLE))
    with running(path) as (_session, server):
        home = request(server.url)[2]
        assert "Reserved for members" in home and "Members only" in home  # the breves' cards carry the tag
        assert BREVES in request(server.url + "letter-members.html")[2]
        assert BREVES not in request(server.url + "letter.html")[2]
        status, answer = post(server, op="audience", name=item["url"], audience="members")
        assert status == 200 and answer["ok"], answer
        assert PUBLIC_TITLE not in request(server.url + "letter.html")[2]  # the desk's answer follows its rebuild
        assert PUBLIC_TITLE in request(server.url + "letter-members.html")[2]
        issue = (tmp_path / "issues" / f"{DAY[:7]}.toml").read_text(encoding="utf-8")
        assert f'item = "{item["url"]}"' in issue and 'audience = "members"' in issue


def test_the_teams_mark_goes_out_in_an_export_and_comes_back_with_an_import(tmp_path: Path) -> None:
    path = _site(tmp_path, 25)
    _subscribe(path, "lea@example.org", "paul@example.org")
    marked = digest("subscribers", "set", "lea@example.org", "--member", "Région Bretagne", "-c", str(path))
    assert marked.exit_code == 0
    assert digest("subscribers", "export", str(tmp_path / "export.csv"), "-c", str(path)).exit_code == 0
    header, *rows = (tmp_path / "export.csv").read_text(encoding="utf-8-sig").splitlines()
    column = header.split(";").index("adherent")
    assert {r.split(";")[0]: r.split(";")[column] for r in rows} == {"lea@example.org": "Région Bretagne",
                                                                      "paul@example.org": ""}
    (tmp_path / "subscribers.sqlite").unlink()
    assert digest("subscribers", "import", str(tmp_path / "export.csv"), "-c", str(path)).exit_code == 0
    assert "member: Région Bretagne" in digest("subscribers", "list", "-c", str(path)).output
