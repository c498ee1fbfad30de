"""Joining the list (issue 21): a real `digest serve --workers 2` on 127.0.0.1 with its subscribe form, a real
aiosmtpd receiving the confirmation mails (the link taken from the received message), curl as a mail scanner,
Chromium filling the form and pressing the button, and the CLI reading the consent record."""

from __future__ import annotations

import itertools
import os
import re
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from digest.audience.joining import Signups, wording_hash
from digest.audience.states import Means, Status
from digest.audience.subscribers import mask
from digest.config import DEFAULT_CONSENT
from digest.store.caps import Limits
from tests import installed
from tests.conftest import LETTER_DATE
from tests.preview_support import cookie_for, running
from tests.send_support import DAY, SECRET, config_text, digest
from tests.smtp_sink import Received, Sink, free_port
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, require_browser
from tests.test_serve import start

FORM_URL = "https://cites-unies-france.org/lettre/inscription"
PATH = urlparse(FORM_URL).path
ALLOWED = "https://www.cites-unies-france.org"
PER_IP = 5
_ips = (f"198.51.100.{n % 250 + 1}" if n < 250 else f"203.0.113.{n % 250 + 1}" for n in itertools.count())
_names = itertools.count()


def fresh(prefix: str = "new") -> str:
    """An address no test used yet."""
    return f"{prefix}{next(_names):04d}@example.org"


@dataclass
class Server:
    """A running `digest serve --workers 2` with its form, the SMTP sink it mails through, its folder."""

    url: str
    root: Path
    sink: Sink
    snippet_origin: str

    @property
    def store(self) -> Path:
        return self.root / "subscribers.sqlite"

    def post(self, email: str, *, ip: str | None = None, name: str = "", consent: bool = True,
             headers: dict[str, str] | None = None, **extra: str) -> httpx.Response:
        """The form posted by a browser of client `ip` (as the reverse proxy says it: X-Forwarded-For)."""
        data = {"email": email, "nom": name, **({"consentement": "oui"} if consent else {}), **extra}
        return httpx.post(self.url + PATH, data=data, headers={
            "X-Forwarded-For": ip or next(_ips), "Origin": "https://cites-unies-france.org", **(headers or {})})

    def mails_to(self, email: str) -> list[Received]:
        with self.sink.recorder.lock:
            return [r for r in self.sink.recorder.received if r.rcpt == email]

    def wait_mail(self, email: str, seconds: float = 10.0) -> Received:
        deadline = time.monotonic() + seconds
        while not self.mails_to(email):
            assert time.monotonic() < deadline, f"no confirmation mail to {email} within {seconds} s"
            time.sleep(0.05)
        return self.mails_to(email)[0]

    def wait_queue_empty(self, seconds: float = 20.0) -> None:
        """Until the store's mail queue is empty: every mail the posts queued was sent (or dropped), so no other
        mail can come; a mail put back for later stays in the queue (then use the sink's own record)."""
        deadline = time.monotonic() + seconds
        while True:
            with sqlite3.connect(self.store) as db:
                if db.execute("SELECT COUNT(*) FROM mail").fetchone()[0] == 0:
                    return
            assert time.monotonic() < deadline, "the queued mails were not sent"
            time.sleep(0.05)

    def link(self, email: str) -> str:
        """The confirmation link of the mail `email` received, on this server (its path and query)."""
        text = self.wait_mail(email).message.get_body(("plain",))
        assert text is not None
        found = re.search(r"https://\S+", text.get_content())
        assert found is not None and found.group().startswith(FORM_URL + "?c=")
        parsed = urlparse(found.group())
        return f"{self.url}{parsed.path}?{parsed.query}"

    def status(self, email: str) -> str | None:
        with Signups(self.store) as store:
            row = store.subscribers.get(email)
        return row.status if row else None

    def queued(self) -> tuple[int, int, int]:
        """Sign-ups waiting, mails queued, consent records: what a refused post must leave as it was."""
        with sqlite3.connect(self.store) as db:
            return tuple(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]  # type: ignore[return-value]
                         for t in ("pending", "mail", "consent"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("subscribe")
    snippet_origin = f"http://127.0.0.1:{free_port()}"
    with Sink() as sink:
        (root / "sources.toml").write_text(config_text(sink.port) + f"""
[subscribe]
url = "{FORM_URL}"
privacy_url = "https://cites-unies-france.org/confidentialite"
allowed_origins = ["{ALLOWED}", "{snippet_origin}"]
per_ip_hour = {PER_IP}
""", encoding="utf-8")
        with Signups(root / "subscribers.sqlite") as store:
            store.subscribers.add("anne@example.org", "Anne")
        process, url, _log = start(root, ["--workers", "2"])
        yield Server(url, root, sink, snippet_origin)
        process.terminate()
        process.wait(timeout=10)


def _scanner(url: str) -> subprocess.CompletedProcess[str]:
    """What Safe Links or Proofpoint do with every link of a message: GET it, follow redirects, read it all."""
    return subprocess.run(["curl", "-sS", "-L", "-A", "Mozilla/5.0 (scanner)", "-w", "\n%{http_code}", url],
                          capture_output=True, text=True, timeout=30, check=True)


def test_the_form_is_a_french_page_with_an_unticked_consent_box_a_privacy_link_and_a_trap(server: Server) -> None:
    answer = httpx.get(server.url + PATH)
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    page = answer.text
    assert '<html lang="fr">' in page and "S’inscrire à la lettre" in page and "#16365f" in page
    box = re.search(r'<input type="checkbox"[^>]*>', page)
    assert box is not None and "checked" not in box.group() and "required" in box.group()
    assert "J’accepte de recevoir la lettre d’information mensuelle" in page  # the default wording, in French
    assert 'href="https://cites-unies-france.org/confidentialite"' in page
    trap = re.search(r'<div class="piege" aria-hidden="true"[^>]*>.*?name="site_web" tabindex="-1"', page, re.S)
    assert trap is not None  # out of sight and out of the keyboard's way: only a robot fills it
    assert f'action="{PATH}"' in page and 'method="post"' in page


def test_a_new_address_gets_one_mail_and_only_the_post_of_its_button_subscribes(server: Server) -> None:
    email = fresh()
    answer = server.post(email, name="Zoé Durand <b>Offre : http://evil.example/x</b>")
    assert answer.status_code == 200 and "Vérifiez votre boîte de réception" in answer.text
    mail = server.wait_mail(email).message  # how fast: benchmarks/bench_subscribe.py
    assert mail["From"] == "Cités Unies France <lettre@cites-unies-france.org>" and mail["To"] == email
    assert "Confirmez votre inscription" in mail["Subject"]
    text, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert text is not None and html is not None
    # Nothing the poster typed rides in a mail to an address nobody has confirmed yet: the words are fixed.
    assert text.get_content().startswith("Bonjour,") and "Confirmer mon inscription" in html.get_content()
    assert "Zoé" not in mail.as_string() and "evil" not in mail.as_string()
    link = server.link(email)
    assert urlparse(link).query.split("=", 1)[1] in html.get_content()  # the same link in both parts
    for _ in range(2):  # a mail scanner opens the link (twice, as some do): nothing changes
        scanned = _scanner(link)
        assert scanned.stdout.endswith("\n200") and "Confirmer mon inscription" in scanned.stdout
        assert mask(email) in scanned.stdout and email not in scanned.stdout
    # what was typed shows on the page (escaped), with the wording the button agrees to
    assert "Zoé Durand &lt;b&gt;Offre : http://evil.example/x&lt;/b&gt;" in scanned.stdout.replace("\u00a0", " ")
    assert "J’accepte de recevoir la lettre" in scanned.stdout
    assert server.status(email) is None
    confirmed = httpx.post(link, data={"action": "confirm"}, headers={"Origin": "https://cites-unies-france.org"})
    assert confirmed.status_code == 200 and "Votre inscription est confirmée" in confirmed.text
    assert server.status(email) == "subscribed"
    again = httpx.post(link, data={"action": "confirm"})
    assert "Ce lien ne sert plus" in again.text and server.status(email) == "subscribed"
    assert len(server.mails_to(email)) == 1


def test_every_state_of_an_address_gets_the_same_page_and_the_same_status(server: Server) -> None:
    rounds = 6
    states = ("new", "pending", "subscribed", "unsubscribed", "bounced", "complained", "erased")
    addresses = {state: [fresh(state) for _ in range(rounds)] for state in states}
    with Signups(server.store) as store:
        for email in addresses["subscribed"] + addresses["unsubscribed"] + addresses["bounced"] \
                + addresses["complained"] + addresses["erased"]:
            store.subscribers.add(email)
        for email in addresses["unsubscribed"]:
            store.subscribers.unsubscribe(email, "digest subscribers remove", Means.REMOVE)
        for email in addresses["bounced"]:
            store.subscribers.set_status(email, Status.BOUNCED, "550 5.1.1 unknown user", Means.BOUNCE)
        for email in addresses["complained"]:
            store.subscribers.set_status(email, Status.COMPLAINED, "abuse report", Means.COMPLAINT)
        for email in addresses["erased"]:
            store.subscribers.erase(email)
    for email in addresses["pending"]:
        assert server.post(email).status_code == 200
    bodies: dict[str, set[str]] = {state: set() for state in states}
    headers: set[frozenset[tuple[str, str]]] = set()
    for number in range(rounds):  # (their timing alike: benchmarks/bench_subscribe.py measures it)
        for state in states:
            answer = server.post(addresses[state][number])
            assert answer.status_code == 200
            bodies[state].add(answer.text)
            headers.add(frozenset((k, v) for k, v in answer.headers.items() if k != "date"))
    assert len(set().union(*bodies.values())) == 1  # one page, word for word, whatever the state
    assert len(headers) == 1 and not any(k == "set-cookie" for k, _v in next(iter(headers)))  # no identifier
    for state in ("new", "unsubscribed", "bounced", "complained", "erased"):
        for email in addresses[state]:
            server.wait_mail(email)
    server.wait_queue_empty()  # nothing more is coming
    for email in addresses["subscribed"]:
        assert server.mails_to(email) == []  # already on the list: nothing to confirm
    for email in addresses["pending"]:
        assert len(server.mails_to(email)) == 1  # asked again within 24 hours: no second mail
    assert server.status(addresses["bounced"][0]) == "bounced"  # the form alone changes no status


def test_an_erased_complained_or_bounced_address_comes_back_only_through_the_confirmation(server: Server) -> None:
    erased, complained, bounced = fresh("erased"), fresh("complained"), fresh("bounced")
    with Signups(server.store) as store:
        for email in (erased, complained, bounced):
            store.subscribers.add(email)
        store.subscribers.erase(erased)
        store.subscribers.set_status(complained, Status.COMPLAINED, "abuse report", Means.COMPLAINT)
        store.subscribers.set_status(bounced, Status.BOUNCED, "550 5.1.1 unknown user", Means.BOUNCE)
    for email in (erased, complained, bounced):
        server.post(email)
        server.wait_mail(email)
    with Signups(server.store) as store:
        assert store.subscribers.erased(erased) and store.subscribers.get(erased) is None
        assert store.subscribers.get(complained).status == "complained"  # type: ignore[union-attr]
    for email in (erased, complained, bounced):
        assert httpx.post(server.link(email), data={"action": "confirm"}).status_code == 200
        assert server.status(email) == "subscribed"
    with Signups(server.store) as store:
        assert not store.subscribers.erased(erased)
        history = [r.what for r in store.history(complained)]
    assert history.index("complained") < history.index("asked") < history.index("confirmed")  # why it left, kept


def test_one_mail_per_address_a_day_and_a_cap_per_client_hold_across_two_workers(server: Server) -> None:
    email = fresh("bomb")
    threads = [threading.Thread(target=server.post, args=(email,)) for _ in range(8)]  # eight clients at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    server.wait_mail(email)
    client = "192.0.2.77"
    many = [fresh("many") for _ in range(PER_IP + 3)]
    answers = [server.post(address, ip=client) for address in many]
    assert {a.status_code for a in answers} == {200} and len({a.text for a in answers}) == 1
    for address in many[:PER_IP]:
        server.wait_mail(address)
    server.wait_queue_empty()  # nothing more is coming
    assert [len(server.mails_to(a)) for a in many] == [1] * PER_IP + [0] * 3
    assert len(server.mails_to(email)) == 1
    assert max(server.sink.recorder.counts().values()) == 1  # each queued mail sent once by the two workers


def test_a_trap_a_foreign_page_a_large_body_and_a_bad_address_change_nothing(server: Server) -> None:
    before = server.queued()
    trapped = server.post(fresh("robot"), site_web="https://spam.example")
    assert trapped.status_code == 200 and "Vérifiez votre boîte de réception" in trapped.text
    foreign = server.post(fresh("foreign"), headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403 and "Requête refusée" in foreign.text
    large = server.post(fresh("large"), nom="x" * 17_000)
    assert large.status_code == 413
    for bad in ("zoé@example.org", "pas-une-adresse", "a@b", "x" * 300 + "@example.org"):
        answer = server.post(bad)
        assert answer.status_code == 400 and "Vérifiez l’adresse e-mail" in answer.text
    unticked = server.post(fresh("unticked"), consent=False)
    assert unticked.status_code == 400 and "Cochez la case" in unticked.text
    assert server.queued() == before
    allowed = server.post(fresh("embedded"), headers={"Origin": ALLOWED})
    assert allowed.status_code == 200 and server.queued()[0] == before[0] + 1


def test_a_refused_mail_is_tried_again_later_and_a_rejected_one_is_dropped(server: Server) -> None:
    later, never = fresh("later"), fresh("never")
    server.sink.recorder.rcpt_replies[later] = ["451 4.2.1 mailbox busy, try later"]
    server.sink.recorder.rcpt_replies[never] = ["550 5.1.1 no such user"]
    server.post(later)
    server.post(never)
    deadline = time.monotonic() + 10
    while True:
        with sqlite3.connect(server.store) as db:
            rows = dict(db.execute("SELECT p.email, o.tries || ' ' || o.due || ' ' || o.claimed FROM mail o "
                                   "JOIN pending p ON p.id = o.ref AND o.kind = 'signup-confirm' "
                                   "WHERE p.email IN (?, ?)",
                                   (later, never)).fetchall())
        # tried once and put back (claimed again empty): the claim counts the try before the retry sets the time
        if later in rows and rows[later].startswith("1 ") and rows[later].endswith(" ") and never not in rows:
            break
        assert time.monotonic() < deadline, rows
        time.sleep(0.1)
    due = datetime.fromisoformat(rows[later].split()[1])
    assert timedelta(seconds=50) < due - datetime.now(UTC) <= timedelta(minutes=1)  # tried again in a minute
    assert server.mails_to(later) == [] and server.mails_to(never) == []


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_browser(CHROMIUM)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def test_chromium_fills_the_form_and_presses_the_confirmation_button(server: Server, browser: Any) -> None:
    email = fresh("chromium")
    page = browser.new_page()
    page.goto(server.url + PATH)
    page.fill("#lettre-email", email)
    page.fill("#lettre-nom", "Camille")
    page.click("button[type=submit]")  # the box is not ticked: the browser says so, nothing is sent
    assert page.url == server.url + PATH and server.queued()[0] >= 0
    page.check("input[name=consentement]")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Vérifiez votre boîte de réception")
    page.goto(server.link(email))
    assert server.status(email) is None
    page.click("text=Confirmer mon inscription")
    page.wait_for_selector("text=Votre inscription est confirmée")
    page.close()
    assert server.status(email) == "subscribed"
    with Signups(server.store) as store:
        kinds = [(r.what, r.means, r.wording, r.origin) for r in store.history(email)]
    origin = server.url  # the browser's Origin: the page it posted from
    assert kinds == [("asked", "form", wording_hash(DEFAULT_CONSENT), origin),
                     ("confirmed", "form", wording_hash(DEFAULT_CONSENT), origin)]


def test_the_snippet_pasted_into_another_site_posts_to_the_form(server: Server, browser: Any,
                                                                   tmp_path: Path) -> None:
    printed = digest("subscribe-form", "-c", str(server.root / "sources.toml"))
    assert printed.exit_code == 0, printed.output
    snippet = printed.stdout
    assert f'action="{FORM_URL}"' in snippet and "(politique de confidentialité)" in snippet
    assert 'name="consentement" value="oui" required>' in snippet  # unticked
    # The association's page (another origin, allowed), with the snippet as pasted, posting to this server.
    (tmp_path / "index.html").write_text("<!doctype html><meta charset=utf-8><h1>CUF</h1>"
                                         + snippet.replace(FORM_URL, server.url + PATH), encoding="utf-8")
    port = int(server.snippet_origin.rsplit(":", 1)[1])
    site = ThreadingHTTPServer(("127.0.0.1", port), partial(SimpleHTTPRequestHandler, directory=str(tmp_path)))
    threading.Thread(target=site.serve_forever, daemon=True).start()
    try:
        email = fresh("spip")
        page = browser.new_page()
        page.goto(server.snippet_origin + "/index.html")
        page.fill("#lettre-email", email)
        page.check("input[name=consentement]")
        page.click("button[type=submit]")
        page.wait_for_selector("text=Vérifiez votre boîte de réception")
        page.close()
        server.wait_mail(email)
    finally:
        site.shutdown()
        site.server_close()
    with Signups(server.store) as store:
        assert store.history(email)[0].origin == server.snippet_origin


def test_the_team_reads_the_consent_history_the_export_and_the_weekly_stats(server: Server) -> None:
    email = fresh("history")
    server.post(email)
    httpx.post(server.link(email), data={"action": "confirm"})
    config = str(server.root / "sources.toml")
    history = digest("subscribers", "consent", email, "-c", config)
    assert history.exit_code == 0, history.output
    lines = history.stdout.splitlines()
    assert " sign-up asked " in lines[0] and "via the form from https://cites-unies-france.org" in lines[0]
    assert f"wording {wording_hash(DEFAULT_CONSENT)}: « {DEFAULT_CONSENT} »" in lines[1]
    assert " sign-up confirmed " in lines[2] and "IP" not in history.stdout  # record_ip is off: no IP kept
    exported = digest("subscribers", "export", "-c", config)
    header, *rows = exported.stdout.splitlines()
    assert header.startswith("email;name;status;reason;letter;changed;created;updated;consent_at;consent_means;"
                             "consent_wording;consent_origin")
    row = next(r for r in rows if r.startswith(email))
    assert row.split(";")[8][:10] == datetime.now(UTC).date().isoformat()
    assert row.split(";")[9:12] == ["form", wording_hash(DEFAULT_CONSENT), "https://cites-unies-france.org"]
    stats = digest("subscribers", "stats", "-c", config)
    week = "{}-W{:02d}".format(*datetime.now(UTC).isocalendar()[:2])
    line = next(line for line in stats.stdout.splitlines() if line.startswith(week))
    asked, confirmed, _rate, left = line.split()[1:]
    assert int(asked) >= int(confirmed) >= 1 and int(left) >= 1  # the states' test unsubscribed some
    assert "pending" in stats.stdout.splitlines()[0]


def test_unconfirmed_sign_ups_are_deleted_after_pending_days(server: Server) -> None:
    email, kept = fresh("late"), fresh("recent")
    server.post(email)
    server.post(kept)
    link = server.link(email)
    with sqlite3.connect(server.store) as db:  # 31 days ago, as far as the store knows
        long_ago = (datetime.now(UTC) - timedelta(days=31)).isoformat(timespec="seconds")
        db.execute("UPDATE pending SET asked=? WHERE key=?", (long_ago, email))
    purged = digest("subscribers", "purge", "-c", str(server.root / "sources.toml"))
    assert purged.exit_code == 0 and "not confirmed within 30 days deleted" in purged.stdout
    assert "Ce lien ne sert plus" in httpx.post(link, data={"action": "confirm"}).text
    with sqlite3.connect(server.store) as db:
        assert db.execute("SELECT COUNT(*) FROM pending WHERE key=?", (email,)).fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM consent WHERE key=?", (email,)).fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM pending WHERE key=?", (kept,)).fetchone()[0] == 1
    assert server.status(email) is None


def test_an_import_and_an_addition_say_where_consent_came_from(tmp_path: Path) -> None:
    config = tmp_path / "sources.toml"
    config.write_text(config_text(25), encoding="utf-8")
    (tmp_path / "liste.csv").write_text("email;name\nmarie@example.org;Marie\n", encoding="utf-8")
    imported = digest("subscribers", "import", str(tmp_path / "liste.csv"), "-c", str(config),
                      "--consent", "formulaire papier AG 2025")
    assert imported.exit_code == 0, imported.output
    added = digest("subscribers", "add", "paul@example.org", "-c", str(config), "--consent", "courriel du 3 mars")
    assert added.exit_code == 0, added.output
    marie = digest("subscribers", "consent", "marie@example.org", "-c", str(config)).stdout
    assert " imported     via an import (liste.csv)" in marie and "« formulaire papier AG 2025 »" in marie
    paul = digest("subscribers", "consent", "paul@example.org", "-c", str(config)).stdout
    assert " added        via subscribers add" in paul and "« courriel du 3 mars »" in paul


def test_digest_check_shows_the_pending_sign_ups_and_the_net_growth(server: Server) -> None:
    config = str(server.root / "sources.toml")
    joining, leaving = fresh("joins"), fresh("leaves")
    server.post(joining)
    httpx.post(server.link(joining), data={"action": "confirm"})
    with Signups(server.store) as store:
        store.subscribers.add(leaving)
        store.subscribers.unsubscribe(leaving, "unsubscribe page", Means.PAGE)
    # In processes of their own: the browser tests' Playwright keeps an event loop in this one.
    built = subprocess.run([*installed.command(), "build", "-c", config, "--date", DAY],
                           capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    checked = subprocess.run([*installed.command(), "check", "-c", config, "--date", DAY],
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode in (0, 1), checked.stderr
    line = next(line for line in checked.stdout.splitlines() if line.startswith("List:"))
    with Signups(server.store) as store:
        pending = store.pending_count()
        joined, left = store.growth(LETTER_DATE)
    assert joined > 0 and left > 0
    assert line == (f"List: {pending} sign-up(s) waiting for confirmation; since the letter of 20 November 2025: "
                    f"{joined} joined, {left} left (net {joined - left:+d})")
    with running(server.root / "sources.toml") as (_session, desk_server):  # the desk's report says the same
        report = httpx.get(desk_server.url + "state", headers=cookie_for(desk_server.url), timeout=10).json()
    assert line in report["parts"]["report"]


@pytest.mark.parametrize(("table", "smtp", "expected"), [
    (f'url = "{FORM_URL}"', False, "[subscribe] url is set but there is no [smtp] table"),
    ('url = "https://cites-unies-france.org/lettre/desinscription"', True, "have the same path"),
    (f'url = "{FORM_URL}"\nallowed_origins = ["https://www.example.org/page"]', True,
     "[subscribe] allowed_origins: 'https://www.example.org/page': expected a site's address alone"),
    (f'url = "{FORM_URL}"\nper_ip_hour = 0', True, "[subscribe] per_ip_hour"),
])
def test_a_form_that_cannot_work_stops_digest_serve_with_one_clear_line(tmp_path: Path, table: str, smtp: bool,
                                                                         expected: str) -> None:
    text = config_text(25) if smtp else config_text(25).split("\n[smtp]")[0]
    text = text.replace("/lettre/desinscription/confirmer-votre-choix-de-ne-plus-recevoir-la-lettre-mensuelle",
                        "/lettre/desinscription")
    (tmp_path / "sources.toml").write_text(text + f"\n[subscribe]\n{table}\n", encoding="utf-8")
    served = subprocess.run([*installed.command(), "serve", "-c", str(tmp_path / "sources.toml"),
                             "--port", str(free_port())], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "DIGEST_SECRET": SECRET})
    assert served.returncode == 2 and expected in served.stderr and "Traceback" not in served.stderr, served.stderr


def _ask(store: Signups, email: str) -> None:
    assert store.ask(email, "", "J'accepte", origin="https://cites-unies-france.org", client="192.0.2.7", ip="",
                     limits=Limits(10)) == (True, None)


def test_a_mail_claimed_by_a_worker_that_died_is_sent_by_another(tmp_path: Path) -> None:
    with Signups(tmp_path / "subscribers.sqlite") as store:
        _ask(store, "lea@example.org")
        taken = store.queue.claim()  # a worker takes it, then dies before sending or putting it back
        assert taken is not None and taken.tries == 1
        assert store.queue.claim() is None  # no other worker takes a mail being sent
        with sqlite3.connect(tmp_path / "subscribers.sqlite") as db:  # eleven minutes later
            old = (datetime.now(UTC) - timedelta(minutes=11)).isoformat(timespec="seconds")
            db.execute("UPDATE mail SET claimed=?", (old,))
        again = store.queue.claim()
    assert again is not None and again.id == taken.id and again.tries == 2


def test_the_server_purges_unconfirmed_sign_ups_at_start_then_every_hour(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from digest import config
    from digest.web import courier as courier_module
    from digest.web import subscribe
    from digest.web.courier import Courier

    (tmp_path / "sources.toml").write_text(config_text(free_port()) + f'\n[subscribe]\nurl = "{FORM_URL}"\n',
                                           encoding="utf-8")
    cfg = config.load(tmp_path / "sources.toml")
    joining = subscribe.joining_from(cfg)
    assert joining is not None
    courier = Courier(joining.post, cfg.subscribers_path)
    subscribe.Subscribe(joining, cfg.subscribers_path, SECRET.encode(), "lettre.example.org", "La Lettre", courier)

    def ask_long_ago(email: str) -> None:
        with Signups(cfg.subscribers_path) as store:
            _ask(store, email)
            mail = store.queue.claim()  # its mail went; the person never confirmed
            assert mail is not None
            store.queue.done(mail)
        with sqlite3.connect(cfg.subscribers_path) as db:
            old = (datetime.now(UTC) - timedelta(days=31)).isoformat(timespec="seconds")
            db.execute("UPDATE pending SET asked=? WHERE key=?", (old, email))

    def pending() -> int:
        with Signups(cfg.subscribers_path) as store:
            return store.pending_count()

    ask_long_ago("first@example.org")
    courier.drain()  # the server's first round purges at once
    assert pending() == 0
    ask_long_ago("second@example.org")
    courier.drain()
    assert pending() == 1  # not again within the hour
    later = time.monotonic() + 3601
    monkeypatch.setattr(courier_module.time, "monotonic", lambda: later)
    courier.drain()
    assert pending() == 0
