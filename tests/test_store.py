"""The private store: one file of per-feature parts, each with numbered migrations, a backup before any migration,
a newer store refused untouched, and a store written by digest 0.1.0 opened with nothing lost."""

from __future__ import annotations

import base64
import hashlib
import hmac
import shutil
import sqlite3
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from digest import __version__, store
from digest.audience.joining import Signups
from digest.audience.states import Means, Status
from digest.audience.subscribers import Subscribers
from digest.contribute.states import State
from digest.contribute.store import Contributions
from digest.mail import signing
from digest.store import Migration, Store, StoreError
from digest.store.caps import Limits
from digest.store.queue import MailKind, MailQueue

FIXTURE = Path(__file__).parent / "data" / "store" / "store-0.1.0.sqlite"
SECRET = b"fixture-secret-0123456789abcdef"
LIST = "lettre.cites-unies-france.org"


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    """A copy of the store digest 0.1.0 wrote (every table filled), as a team has it before upgrading."""
    path = tmp_path / "subscribers.sqlite"
    shutil.copyfile(FIXTURE, path)
    path.chmod(0o600)
    return path


def _tables(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        names = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE "
                                          "'sqlite_%'")]
        return {n: db.execute(f"SELECT COUNT(*) FROM {n}").fetchone()[0] for n in names}


def test_a_store_of_digest_0_1_0_opens_with_nothing_lost(old_store: Path) -> None:
    before = _tables(old_store)
    with Signups(old_store) as signups:
        people = {s.email: s for s in signups.subscribers.rows()}
        assert sorted(people) == ["alice@example.org", "bruno@example.org", "chloe@example.org",
                                  "dora@example.org"]
        assert people["bruno@example.org"].status == Status.UNSUBSCRIBED
        # how each change came, once read from its words, is now a column: the page's undo reads it
        assert people["bruno@example.org"].means == Means.ONE_CLICK
        assert people["chloe@example.org"].means == Means.PAGE
        assert people["dora@example.org"].means == Means.FORM
        assert people["alice@example.org"].fields == {"organisation": "Ville de Lyon"}
        assert signups.subscribers.erased("erased@example.org")  # the erased stays erased
        assert signups.subscribers.seen("<bounce-1@mx.example.org>")  # a processed bounce stays processed
        assert [r.means for r in signups.history("alice@example.org") if r.what == "bounced"] == ["bounce"]
        assert signups.pending_count() == 1 and len(signups.wordings()) == 1
    after = _tables(old_store)
    for table in ("subscriber", "event", "erased", "processed", "pending", "wording", "consent", "client",
                  "contribution", "contribpicture"):
        assert after[table] == before[table], table
    # the two queues became one: every waiting mail is still there, named by its kind
    assert "outmail" not in after and "contribmail" not in after
    assert after["mail"] == before["outmail"] + before["contribmail"]
    with sqlite3.connect(old_store) as db:
        kinds = sorted(k for (k,) in db.execute("SELECT kind FROM mail"))
    assert kinds == ["contribution-accepted", "contribution-confirm", "signup-confirm"]


def test_the_version_is_recorded_and_a_backup_made_first(old_store: Path) -> None:
    with Store(old_store) as opened:
        assert opened.versions() == store.known_versions()
        assert opened.written_by() == __version__
        backups = list(opened.backups_folder().iterdir())
    with sqlite3.connect(old_store) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == store.store_version(store.known_versions())
    assert len(backups) == 1 and backups[0].name.startswith("subscribers-v0-")
    assert stat.S_IMODE(backups[0].stat().st_mode) == 0o600  # it holds every address
    assert stat.S_IMODE(backups[0].parent.stat().st_mode) == 0o700
    assert _tables(backups[0]) == _tables(FIXTURE)  # the store as it was, whole


def test_a_new_store_has_every_part_and_no_backup(tmp_path: Path) -> None:
    with Store(tmp_path / "subscribers.sqlite") as opened:
        assert opened.versions() == store.known_versions()
        assert not opened.backups_folder().exists()  # nothing to lose


def test_a_store_of_a_newer_digest_is_refused_untouched(old_store: Path) -> None:
    Store(old_store).close()
    with sqlite3.connect(old_store) as db:
        db.execute("UPDATE store_part SET version = version + 1 WHERE part = 'queue'")
    untouched = hashlib.sha256(old_store.read_bytes()).hexdigest()
    with pytest.raises(StoreError) as refused:
        Subscribers(old_store)
    message = str(refused.value)
    known = store.store_version(store.known_versions())
    assert f"store version {known + 1}" in message and f"up to version {known}" in message
    assert "upgrade digest" in message
    assert hashlib.sha256(old_store.read_bytes()).hexdigest() == untouched


def test_a_migration_that_fails_changes_nothing(old_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = (*store.migrations(), Migration("queue", 99, "broken",
                                             "CREATE TABLE later (x);\nINSERT INTO no_such_table VALUES (1);"))
    monkeypatch.setattr(store, "migrations", lambda: broken)
    before = _tables(old_store)
    with pytest.raises(StoreError) as refused:
        Store(old_store)
    assert "nothing was changed" in str(refused.value) and "no_such_table" in str(refused.value)
    assert _tables(old_store) == before  # not even the steps before the broken one: one transaction
    monkeypatch.undo()
    with Store(old_store) as opened:  # the program that works still opens it
        assert opened.versions() == store.known_versions()


def test_only_the_five_newest_backups_are_kept(tmp_path: Path) -> None:
    with Store(tmp_path / "subscribers.sqlite") as opened:
        made = [opened.backup() for _ in range(7)]
        kept = sorted(opened.backups_folder().iterdir())
    assert kept == sorted(made[-5:])


def test_confirmation_links_mailed_by_0_1_0_still_work(old_store: Path) -> None:
    with sqlite3.connect(old_store) as db:
        number, nonce, key = db.execute("SELECT id, nonce, key FROM pending").fetchone()
        contribution, c_nonce, c_key = db.execute(
            "SELECT id, nonce, key FROM contribution WHERE status='unconfirmed'").fetchone()
    mac = hmac.new(SECRET, f"digest-confirm-v1\n{LIST}\n{number}\n{nonce}\n{key}".encode(), hashlib.sha256)
    old_link = f"{number}.{base64.urlsafe_b64encode(mac.digest()[:16]).decode().rstrip('=')}"
    with Signups(old_store) as signups:
        assert signups.confirm(SECRET, LIST, old_link, ip="", pending_days=3650) == "emile@example.org"
        assert signups.subscribers.get("emile@example.org").status == Status.SUBSCRIBED  # type: ignore[union-attr]
        assert signups.confirm(SECRET, LIST, old_link, ip="", pending_days=3650) is None  # once
    mac = hmac.new(SECRET, f"digest-contribution-v1\n{LIST}\n{contribution}\n{c_nonce}\n{c_key}".encode(),
                   hashlib.sha256)
    old_link = f"{contribution}.{base64.urlsafe_b64encode(mac.digest()[:16]).decode().rstrip('=')}"
    with Contributions(old_store) as contributions:
        confirmed = contributions.confirm(SECRET, LIST, old_link)
        assert confirmed is not None and confirmed.status == State.PROPOSED


def test_a_pending_token_is_opaque_spent_once_and_stored_only_as_its_hash(tmp_path: Path) -> None:
    with Signups(tmp_path / "subscribers.sqlite") as signups:
        assert signups.ask("lea@example.org", "Léa", "J'accepte", origin="", client="192.0.2.1", ip="",
                           limits=Limits(5)) == (True, None)
        mail = signups.queue.claim()
        assert mail is not None and mail.kind == MailKind.SIGNUP_CONFIRM
        token = signups.pendings.add("signup", mail.ref, timedelta(days=1))
        assert not token.startswith(f"{mail.ref}.") and len(token) >= 32  # names no row: random, 192 bits
        waiting = signups.look(SECRET, LIST, token, 30)
        assert waiting is not None and waiting.email == "lea@example.org" and waiting.wording == "J'accepte"
        assert signups.look(SECRET, LIST, token[:-1] + ("A" if token[-1] != "A" else "B"), 30) is None
        assert signups.confirm(SECRET, LIST, token, ip="", pending_days=30) == "lea@example.org"
        assert signups.confirm(SECRET, LIST, token, ip="", pending_days=30) is None
    with sqlite3.connect(tmp_path / "subscribers.sqlite") as db:
        dump = "\n".join(db.iterdump())
    assert token not in dump  # a copy of the store gives no link that works


def test_an_erasure_reaches_every_part(old_store: Path) -> None:
    with Signups(old_store) as signups:
        assert signups.subscribers.erase("mairie@nancy.fr") is False  # a contributor, never a subscriber
        assert signups.subscribers.erase("emile@example.org") is False  # a sign-up waiting, its mail queued
    with sqlite3.connect(old_store) as db:
        dump = "\n".join(db.iterdump()).casefold()
        assert db.execute("SELECT COUNT(*) FROM mail WHERE kind='signup-confirm'").fetchone()[0] == 0
    assert "emile" not in dump and "mairie@nancy.fr" not in dump
    with Subscribers(old_store) as subscribers:
        assert subscribers.erased("emile@example.org") and subscribers.erased("mairie@nancy.fr")


def test_the_one_queue_claims_each_mail_once(tmp_path: Path) -> None:
    with Store(tmp_path / "subscribers.sqlite") as shared:
        first, second = MailQueue(shared), MailQueue(shared)
        with shared.transaction() as db:
            first.put(db, MailKind.CONTRIBUTION_ACCEPTED, 7)
        taken = first.claim()
        assert taken is not None and (taken.kind, taken.ref, taken.tries) == (MailKind.CONTRIBUTION_ACCEPTED, 7, 1)
        assert second.claim() is None
        assert first.retry(taken, permanent=False) and first.next_due() is not None
        assert first.retry(taken, permanent=True) is False and first.next_due() is None


def test_every_signing_purpose_signs_what_digest_always_signed() -> None:
    """Links in letters already sent keep working: each purpose's bytes are the same as before the service."""
    secret, email = b"k" * 32, "Anne@Example.org"

    def old(data: bytes, size: int = 16) -> bytes:
        return hmac.new(secret, data, hashlib.sha256).digest()[:size]

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    address = b64(email.encode())
    v2 = old(b"digest-unsubscribe-v2\n" + LIST.encode() + b"\n" + email.lower().encode())
    v1 = old(b"digest-unsubscribe-v1\n" + email.lower().encode())
    assert signing.legacy_unsubscribe_token(secret, email, LIST) == f"{address}.{b64(v2)}"
    assert signing.legacy_unsubscribe_token(secret, email) == f"{address}.{b64(v1)}"
    assert signing.unsubscribe_address(secret, f"{address}.{b64(v2)}", LIST) == email  # still accepted
    assert signing.unsubscribe_address(secret, f"{address}.{b64(v1)}", LIST) == email
    verp = old(b"digest-verp-v1\n" + LIST.encode() + b"\n" + email.casefold().encode(), 12)
    assert signing.verp_id(secret, LIST, email) == base64.b32encode(verp).decode().lower().rstrip("=")
    mid = hmac.new(secret, f"mid\n2026-12-18\n{email.lower()}\n".encode(), hashlib.sha256).hexdigest()[:24]
    assert signing.message_id_mac(secret, "2026-12-18", email) == mid
    undo = old(f"digest-undo-v1\n{LIST}\nanne@example.org\n2026-12-18T09:00:00+00:00".encode())
    assert signing.signed(secret, signing.UNDO, "2026-12-18T09:00:00+00:00", LIST, "anne@example.org") == \
        f"2026-12-18T09:00:00+00:00.{b64(undo)}"


def test_the_store_says_which_digest_opened_it_last(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.sqlite"
    Store(path).close()
    with sqlite3.connect(path) as db:  # as if an earlier release without a new step had opened it last
        db.execute("UPDATE meta SET value='0.1.9' WHERE key='digest_version'")
    with Store(path) as opened:
        assert opened.written_by() == __version__
