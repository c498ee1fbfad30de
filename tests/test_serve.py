"""`digest serve` started for real on 127.0.0.1 (a subprocess, as the README runs it) and driven over HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from click.testing import CliRunner

from digest.audience.states import Means, Status
from digest.audience.subscribers import Subscribers, mask
from digest.cli import main
from digest.mail import links, signing
from digest.web import layer
from tests import installed
from tests.conftest import LETTER_DATE, plain
from tests.send_support import DAY, LONG_UNSUBSCRIBE, SECRET, config_text
from tests.smtp_sink import free_port

LIST = "lettre.cites-unies-france.org"
ADDRESS = "Anne.Martin@example.org"
PATH = urlparse(LONG_UNSUBSCRIBE).path
ONE_CLICK = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class Server:
    """A running `digest serve`: its base URL, its folder, its log file."""

    url: str
    root: Path
    log: Path

    @property
    def site(self) -> str:
        """Where the published letters are served: at the path of base_url (/lettre/), as the letters link."""
        return self.url + "/lettre"

    def link(self, email: str = ADDRESS) -> str:
        """The path and query of a subscriber's unsubscribe link, as a letter carries it."""
        full = links.unsubscribe_link(LONG_UNSUBSCRIBE, SECRET.encode(), email, LIST, LETTER_DATE)
        parsed = urlparse(full)
        return f"{parsed.path}?{parsed.query}"

    def status(self, email: str = ADDRESS) -> str | None:
        with Subscribers(self.root / "subscribers.sqlite") as store:
            row = store.get(email)
        return row.status if row else None

    def events(self) -> int:
        with Subscribers(self.root / "subscribers.sqlite") as store:
            return store.letter(DAY).unsubscribed


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("serve")
    (root / "sources.toml").write_text(config_text(25), encoding="utf-8")
    site = root / "site"
    (site / DAY / "agenda").mkdir(parents=True)
    (site / DAY / "index.html").write_text("<h1>La lettre</h1>", encoding="utf-8")
    (site / DAY / "agenda" / "rencontre.ics").write_text("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", encoding="utf-8")
    (site / ".env").write_text("SECRET=1", encoding="utf-8")
    (site / DAY / "send-journal.sqlite").write_bytes(b"private")
    (site / "abonnes.csv").write_text("email\nanne@example.org\n", encoding="utf-8")
    (site / DAY / "dry-run").mkdir()
    (site / DAY / "dry-run" / "00001-anne@example.org.eml").write_text("To: anne@example.org", encoding="utf-8")
    with Subscribers(root / "subscribers.sqlite") as store:
        store.add(ADDRESS, "Anne")
        store.add("bob@example.org", "Bob")
    private = {"copy.SQLITE": b"SQLite format 3", "Abonnes.CSV": b"email", "x.sqlite-journal": b"journal",
               "subscribers.sqlite.bak": b"SQLite format 3", "secret.env": b"SECRET=1", "Sends/a.txt": b"sent",
               f"{DAY}/adherents/letter.html": b"members only"}
    for name, content in private.items():
        (site / name).parent.mkdir(exist_ok=True)
        (site / name).write_bytes(content)
    (site / "lettre.html").symlink_to(root / "subscribers.sqlite")  # a link out of the folder, to the store
    (site / "copie.html").symlink_to(site / "copy.SQLITE")  # a link inside it, named as a page
    for name in ("logo.PNG", "style.css", "feed.xml", "texte.txt", "x:y/index.html", "index.html"):
        (site / name).parent.mkdir(exist_ok=True)
        (site / name).write_bytes(b"published")
    process, url, log = start(root, ["--site", str(site)])
    yield Server(url, root, log)
    process.terminate()
    process.wait(timeout=10)


def start(root: Path, options: list[str]) -> tuple[subprocess.Popen[bytes], str, Path]:
    """`digest serve` on a free port of 127.0.0.1 for root/sources.toml, once it answers; its log file."""
    port = free_port()
    log = root / "serve.log"
    env = {**os.environ, "DIGEST_SECRET": SECRET}
    with log.open("wb") as out:
        process = subprocess.Popen([*installed.command(), "serve", "-c", str(root / "sources.toml"),
                                    "--port", str(port), *options], stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url + "/", timeout=1)
            return process, url, log
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise AssertionError(log.read_text()) from None
            time.sleep(0.1)


def test_a_get_shows_a_french_page_with_a_button_and_changes_nothing(server: Server) -> None:
    answer = httpx.get(server.url + server.link())
    assert answer.status_code == 200
    page = answer.text
    assert "Gérer mon abonnement" in page and "Me désinscrire" in page and 'method="post"' in page
    assert "La Lettre de Cités Unies France" in page and "A***n@e***e.org" in page
    assert "Anne.Martin" not in page and "#16365f" in page  # masked address, the letter's colours
    assert server.status() == "subscribed"


def test_the_rfc_8058_one_click_post_unsubscribes_once_and_answers_200(server: Server) -> None:
    link = server.link("bob@example.org")
    before = server.events()
    # Exactly what Gmail and Yahoo send: POST, the URI from List-Unsubscribe, this body, no cookie.
    answer = httpx.post(server.url + link, content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK,
                        follow_redirects=False)
    assert answer.status_code == 200
    assert "Votre désinscription est faite" in answer.text and "C’était une erreur : me réabonner" in plain(answer.text)
    assert server.status("bob@example.org") == "unsubscribed"
    again = httpx.post(server.url + link, content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK)
    assert again.status_code == 200 and "rien à changer" in again.text and "me réabonner" not in again.text
    assert server.events() == before + 1  # the same token twice: one change recorded


def test_a_multipart_one_click_post_works_too(server: Server) -> None:
    email = "carla@example.org"
    with Subscribers(server.root / "subscribers.sqlite") as store:
        store.add(email)
    answer = httpx.post(server.url + server.link(email), files={"List-Unsubscribe": (None, "One-Click")})
    assert answer.status_code == 200 and server.status(email) == "unsubscribed"


def test_the_pages_button_unsubscribes_and_the_way_back_subscribes_again(server: Server) -> None:
    email = "dora@example.org"
    with Subscribers(server.root / "subscribers.sqlite") as store:
        store.add(email)
    link = server.link(email)
    page = httpx.post(server.url + link, data={"action": "unsubscribe"})
    assert page.status_code == 200 and server.status(email) == "unsubscribed"
    assert "30 minutes" in page.text
    back = httpx.post(server.url + link, data={"action": undo_of(page)})
    assert back.status_code == 200 and "recevra de nouveau" in back.text and server.status(email) == "subscribed"
    replayed = httpx.post(server.url + link, data={"action": undo_of(page)})
    assert "Rien n’a changé" in replayed.text and "Votre abonnement est rétabli" not in replayed.text


def test_an_address_a_csv_send_reached_is_recorded_as_unsubscribed_so_the_next_send_leaves_it_out(
        server: Server) -> None:
    email = "from-a-csv@example.org"
    answer = httpx.post(server.url + server.link(email), content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK)
    assert answer.status_code == 200 and server.status(email) == "unsubscribed"
    again = httpx.post(server.url + server.link(email), content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK)
    assert again.status_code == 200 and server.status(email) == "unsubscribed"


def undo_of(page: httpx.Response) -> str:
    """The undo button's signed value, as the browser posts it."""
    found = re.search(r'name="action" value="(resubscribe:[^"]+)"', page.text)
    assert found, page.text
    return html.unescape(found.group(1))


def run_cli(server: Server, *args: str) -> None:
    result = CliRunner().invoke(main, [*args[:2], "-c", str(server.root / "sources.toml"), *args[2:]],
                                env={"DIGEST_SECRET": SECRET})
    assert result.exit_code == 0, result.output


def test_erasure_is_final_whatever_token_page_or_undo_comes_later(server: Server) -> None:
    email = "erin@example.org"
    run_cli(server, "subscribers", "add", email)
    link = server.link(email)  # a copy she received before asking to be erased
    page = httpx.post(server.url + link, data={"action": "unsubscribe"})
    run_cli(server, "subscribers", "erase", email)
    for answer in (httpx.post(server.url + link, content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK),
                   httpx.post(server.url + link, data={"action": "unsubscribe"}),
                   httpx.post(server.url + link, data={"action": undo_of(page)}),
                   httpx.get(server.url + link)):
        assert answer.status_code == 200 and "me réabonner" not in answer.text
        assert "recevra de nouveau" not in answer.text
        assert server.status(email) is None
    with Subscribers(server.root / "subscribers.sqlite") as store:
        assert store.erased(email)
    run_cli(server, "subscribers", "add", email)  # only naming her brings her back
    assert server.status(email) == "subscribed"


@pytest.mark.parametrize("status", ["bounced", "complained"])
def test_the_page_never_turns_a_bounce_or_complaint_into_a_subscription(server: Server, status: str) -> None:
    email = f"{status}@example.org"
    with Subscribers(server.root / "subscribers.sqlite") as store:
        store.add(email)
        store.set_status(email, Status(status), "test", Means.REMOVE)
    link = server.link(email)
    assert "me réabonner" not in httpx.get(server.url + link).text
    answer = httpx.post(server.url + link, data={"action": "unsubscribe"})
    assert "rien à changer" in answer.text and "me réabonner" not in answer.text
    assert server.status(email) == status


def test_an_undo_after_a_removal_by_the_team_changes_nothing(server: Server) -> None:
    email = "remi@example.org"
    run_cli(server, "subscribers", "add", email)
    link = server.link(email)
    page = httpx.post(server.url + link, data={"action": "unsubscribe"})
    assert httpx.post(server.url + link, data={"action": undo_of(page)}).status_code == 200
    run_cli(server, "subscribers", "remove", email)
    replayed = httpx.post(server.url + link, data={"action": undo_of(page)})
    assert "Rien n’a changé" in replayed.text and server.status(email) == "unsubscribed"


def test_the_undo_is_refused_after_thirty_minutes_and_when_forged(server: Server) -> None:
    email = "tardif@example.org"
    run_cli(server, "subscribers", "add", email)
    link = server.link(email)
    httpx.post(server.url + link, data={"action": "unsubscribe"})
    late = (datetime.now(UTC) - timedelta(minutes=31)).isoformat(timespec="seconds")
    with Subscribers(server.root / "subscribers.sqlite") as store:  # as if the click were 31 minutes ago
        store._db.execute("UPDATE subscriber SET changed=? WHERE email=?", (late, email))
    for value in (f"resubscribe:{undo_proof(email, late)}", f"resubscribe:{late}.AAAAAAAAAAAAAAAAAAAAAA",
                  "resubscribe"):
        answer = httpx.post(server.url + link, data={"action": value})
        assert answer.status_code in (200, 400) and "recevra de nouveau" not in answer.text
        assert server.status(email) == "unsubscribed"
    fresh = (datetime.now(UTC) - timedelta(minutes=29)).isoformat(timespec="seconds")
    with Subscribers(server.root / "subscribers.sqlite") as store:  # 29 minutes: still in time (and signed alike)
        store._db.execute("UPDATE subscriber SET changed=? WHERE email=?", (fresh, email))
    answer = httpx.post(server.url + link, data={"action": f"resubscribe:{undo_proof(email, fresh)}"})
    assert "recevra de nouveau" in answer.text and server.status(email) == "subscribed"


def undo_proof(email: str, changed: str) -> str:
    """The undo button's value as the server signs it: HMAC-SHA256 of list, address and time with the secret."""
    mac = hmac.new(SECRET.encode(), f"digest-undo-v1\n{LIST}\n{email}\n{changed}".encode(), hashlib.sha256)
    return f"{changed}.{base64.urlsafe_b64encode(mac.digest()[:16]).decode().rstrip('=')}"


@pytest.mark.parametrize("token", ["", "abc", "%C3%A9t%C3%A9.abc", "YW5uZUBleGFtcGxlLm9yZw.AAAAAAAAAAAAAAAAAAAAAA"])
def test_a_bad_token_is_a_plain_400_and_changes_nothing(server: Server, token: str) -> None:
    for answer in (httpx.get(f"{server.url}{PATH}?t={token}"),
                   httpx.post(f"{server.url}{PATH}?t={token}", content=b"List-Unsubscribe=One-Click",
                              headers=ONE_CLICK)):
        assert answer.status_code == 400
        assert "Lien non valable" in answer.text and "Traceback" not in answer.text
    assert server.status() == "subscribed"


def test_a_truncated_token_is_refused(server: Server) -> None:
    answer = httpx.post(server.url + server.link()[:-8], content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK)
    assert answer.status_code == 400 and server.status() == "subscribed"


def test_a_post_without_the_one_click_body_changes_nothing(server: Server) -> None:
    answer = httpx.post(server.url + server.link(), content=b"something=else", headers=ONE_CLICK)
    assert answer.status_code == 400 and server.status() == "subscribed"


def test_a_large_body_is_refused(server: Server) -> None:
    big = b"List-Unsubscribe=One-Click&x=" + b"a" * 100_000
    answer = httpx.post(server.url + server.link(), content=big, headers=ONE_CLICK)
    assert answer.status_code == 413 and server.status() == "subscribed"

    def chunks() -> Iterator[bytes]:  # no Content-Length: read until the limit, then refused
        for _ in range(50):
            yield b"a" * 1000

    chunked = httpx.post(server.url + server.link(), content=chunks(), headers=ONE_CLICK)
    assert chunked.status_code in (400, 413) and server.status() == "subscribed"  # the form's own limit first


def test_the_published_letters_are_served_and_nothing_private(server: Server) -> None:
    assert httpx.get(f"{server.site}/{DAY}/index.html").text == "<h1>La lettre</h1>"
    ics = httpx.get(f"{server.site}/{DAY}/agenda/rencontre.ics")
    assert ics.status_code == 200 and ics.text.startswith("BEGIN:VCALENDAR")
    for path in ("/.env", f"/{DAY}/send-journal.sqlite", "/abonnes.csv", f"/{DAY}/dry-run/00001-anne@example.org.eml",
                 "/subscribers.sqlite", "/sources.toml", "/../sources.toml",
                 "/%2e%2e/sources.toml", "/nothing-here", "/copy.SQLITE", "/Abonnes.CSV", "/x.sqlite-journal",
                 "/subscribers.sqlite.bak", "/secret.env", "/Sends/a.txt", "/lettre.html", "/copie.html",
                 f"/{DAY}/adherents/letter.html"):  # the members' edition, copied into the site by mistake
        answer = httpx.get(server.site + path)
        assert answer.status_code == 404, f"{path}: {answer.status_code}"
        assert "Page introuvable" in answer.text
    assert httpx.get(f"{server.site}/{DAY}/").text == "<h1>La lettre</h1>"  # a folder's index.html
    listing = httpx.get(f"{server.site}/{DAY}/agenda/")
    assert listing.status_code == 404  # no index.html in a folder: no listing either
    for name in ("logo.PNG", "style.css", "feed.xml", "texte.txt"):  # what a site holds, whatever the case
        assert httpx.get(f"{server.site}/{name}").status_code == 200, name


def test_other_methods_are_refused_with_a_plain_page_naming_the_allowed_ones(server: Server) -> None:
    answer = httpx.request("DELETE", server.url + server.link())
    assert answer.status_code == 405 and "Traceback" not in answer.text and server.status() == "subscribed"
    assert set(answer.headers["allow"].split(", ")) >= {"GET", "POST"}
    site = httpx.request("PUT", f"{server.site}/{DAY}/index.html", content=b"x")
    assert site.status_code == 405 and site.headers["allow"] == "GET, HEAD" and "Méthode non permise" in site.text


def raw_get(url: str, target: str) -> bytes:
    """The raw answer to `GET target` sent as is (a client library would tidy the path first)."""
    parsed = urlparse(url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=5) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {parsed.netloc}\r\nConnection: close\r\n\r\n".encode())
        return b"".join(iter(lambda: sock.recv(4096), b""))


def test_a_folders_slash_redirect_stays_on_the_site(server: Server) -> None:
    answer = raw_get(server.url, f"/lettre/{DAY}")
    assert answer.startswith(b"HTTP/1.1 307") and f"\r\nlocation: {DAY}/\r\n".encode() in answer  # relative
    for target in ("/lettre//evil.example/..", "/lettre//evil.example/%2e%2e", "/lettre/\\evil.example/..",
                   "/lettre/x:y"):
        answer = raw_get(server.url, target)
        location = next((line for line in answer.split(b"\r\n") if line.lower().startswith(b"location:")), b"")
        value = location.partition(b":")[2].strip()
        assert value and not value.startswith((b"/", b"\\")) and b"//" not in value and b":" not in value, answer
        assert b"evil.example" not in value


def test_every_answer_carries_the_security_headers(server: Server) -> None:
    for answer in (httpx.get(server.url + server.link()), httpx.get(f"{server.site}/{DAY}/index.html"),
                   httpx.get(server.url + "/nothing")):
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "server" not in answer.headers
    assert httpx.get(server.url + server.link()).headers["cache-control"] == "no-store"


def test_the_log_has_a_line_per_unsubscribe_and_refusal_and_never_an_address_or_a_token(server: Server) -> None:
    httpx.post(server.url + server.link("bob@example.org"), content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK)
    httpx.post(server.url + PATH + "?t=forged", content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK)
    log = _log_with(server, f"refused POST {PATH}: 400")  # the last line this test causes
    token = signing.unsubscribe_token(SECRET.encode(), ADDRESS, LIST)
    assert "listening on http://127.0.0.1:" in log and "(Ctrl-C stops it)" in log  # uvicorn's line, in our words
    assert "Uvicorn running" not in log and "INFO" not in log
    assert ADDRESS.lower() not in log.lower() and "bob@example.org" not in log and token[:20] not in log
    assert f" unsubscribed {mask('bob@example.org')} (one-click (RFC 8058))" in log
    assert f" warning: refused POST {PATH}: 400" in log and "forged" not in log
    assert log.startswith("On http://127.0.0.1:") and "1 process serves the unsubscribe page (" in log


def _log_with(server: Server, words: str, seconds: float = 10.0) -> str:
    """The server's log once it holds `words` (it writes each line as it happens, from another process)."""
    deadline = time.monotonic() + seconds
    while words not in (log := server.log.read_text(encoding="utf-8", errors="replace")):
        assert time.monotonic() < deadline, f"{words!r} never logged"
        time.sleep(0.05)
    return log


def test_headers_still_incomplete_after_16_kb_are_refused(server: Server) -> None:
    parsed = urlparse(server.url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * (layer.MAX_HEADER_BYTES + 1024))
        answer = sock.recv(4096)  # no blank line yet: the server would otherwise keep buffering
    assert answer.startswith(b"HTTP/1.1 400"), answer[:100]


def test_a_busy_port_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text(config_text(25), encoding="utf-8")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([*installed.command(), "serve", "-c", str(tmp_path / "sources.toml"),
                               "--port", str(port)], capture_output=True, text=True, timeout=60,
                              env={**os.environ, "DIGEST_SECRET": SECRET})
    assert done.returncode == 2, done
    assert done.stdout == "" and "Serving" not in done.stderr and "Errno" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"Error: cannot listen on 127.0.0.1:{port}: Address already in use; pass another --port (0 picks a free one)"]


def test_half_open_connections_do_not_hold_every_slot_and_slow_headers_are_cut(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text(config_text(25), encoding="utf-8")
    with Subscribers(tmp_path / "subscribers.sqlite") as store:
        store.add(ADDRESS)
    process, url, _log = start(tmp_path, [])
    parsed = urlparse(url)
    opened: list[socket.socket] = []
    try:
        for _ in range(layer.MAX_IN_FLIGHT + 44):  # more than every slot, each half a request (slowloris)
            sock = socket.create_connection((parsed.hostname, parsed.port), timeout=5)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            opened.append(sock)
        began = time.monotonic()
        answer = httpx.get(url + Server(url, tmp_path, _log).link(), timeout=5)
        assert answer.status_code == 200  # answered, not a 503
        idle = socket.create_connection((parsed.hostname, parsed.port), timeout=layer.IDLE_SECONDS + 3)
        idle.sendall(f"GET / HTTP/1.1\r\nHost: {parsed.netloc}\r\n\r\n".encode())
        answered = b"".join(iter(lambda: idle.recv(65536), b""))  # read until the server closes it
        assert answered.startswith(b"HTTP/1.1 404")  # answered, then kept alive and idle: closed in time
        assert time.monotonic() - began > layer.IDLE_SECONDS - 1  # kept while it may be reused, then closed
        idle.close()
        trickle = opened[-1]  # still open, sending a header byte a second: cut at the header deadline
        deadline = time.monotonic() + layer.HEADER_SECONDS + 5
        closed = False
        while not closed and time.monotonic() < deadline:
            try:
                trickle.sendall(b"X")
                trickle.settimeout(1)
                closed = trickle.recv(1024) == b""
            except TimeoutError:
                continue
            except OSError:
                closed = True
        assert closed and time.monotonic() - began > layer.HEADER_SECONDS - 2
    finally:
        for sock in opened:
            sock.close()
        process.terminate()
        process.wait(timeout=10)


def test_several_workers_answer_and_share_the_store(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text(config_text(25), encoding="utf-8")
    with Subscribers(tmp_path / "subscribers.sqlite") as store:
        store.add(ADDRESS)
    port = free_port()
    process = subprocess.Popen([*installed.command(), "serve", "-c", str(tmp_path / "sources.toml"),
                                "--port", str(port), "--workers", "2"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env={**os.environ, "DIGEST_SECRET": SECRET})
    server = Server(f"http://127.0.0.1:{port}", tmp_path, tmp_path / "none.log")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answers = [httpx.post(server.url + server.link(), content=b"List-Unsubscribe=One-Click",
                                      headers=ONE_CLICK) for _ in range(4)]
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.2)
        assert {a.status_code for a in answers} == {200}
        assert server.status() == "unsubscribed" and server.events() == 1
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_the_undo_never_subscribes_an_address_the_store_never_had(server: Server) -> None:
    """A letter sent from a CSV file reached it: its unsubscribe is recorded, and no button puts it on the list."""
    email = "jamais.inscrite@example.org"
    assert server.status(email) is None
    page = httpx.post(server.url + server.link(email), data={"action": "unsubscribe"})
    assert "ne recevra plus" in page.text.replace("\u00a0", " ") and "resubscribe" not in page.text
    assert server.status(email) == "unsubscribed"
    with Subscribers(server.root / "subscribers.sqlite") as store:  # a proof made by hand for its very change
        changed = store.get(email).changed  # type: ignore[union-attr]
    replayed = httpx.post(server.url + server.link(email),
                          data={"action": f"resubscribe:{undo_proof(email, changed)}"})
    assert "recevra de nouveau" not in replayed.text and server.status(email) == "unsubscribed"


def test_serves_terminal_lines_come_from_the_catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In the pseudo-language every sentence of the start (digest's and uvicorn's, through digest's logging) is
    marked ⟦ ⟧: what is left is the clock, addresses and paths."""
    monkeypatch.setenv("DIGEST_LANG", "qps")
    (tmp_path / "sources.toml").write_text(config_text(25), encoding="utf-8")
    process, url, log = start(tmp_path, ["--workers", "2"])
    try:
        said = _log_with(Server(url, tmp_path, log), "⟦ready⟧")  # a worker's last line of its start
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert "⟦" in said and "INFO" not in said and "Uvicorn" not in said
    left = []
    for line in said.splitlines():
        while re.search(r"⟦[^⟦⟧]*⟧", line):
            line = re.sub(r"⟦[^⟦⟧]*⟧", " ", line)
        line = re.sub(r"\S*[/:.()\[\]]\S*|\d\S*", " ", line)  # the clock, addresses, paths
        left += re.findall(r"[A-Za-zÀ-ÿ]{2,}", line)
    assert left == [], said
