"""`digest bounces`: real bounce messages from real mail servers (flufl.bounce's corpus, Apache-2.0, in
tests/data/bounces/), read from a Maildir, an mbox and a real Dovecot IMAP server on 127.0.0.1."""

from __future__ import annotations

import mailbox
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.audience import bounces
from digest.audience.subscribers import Subscribers
from digest.mail.signing import unsubscribe_token, verp_id
from tests import installed, programs
from tests.send_support import SECRET, config_text, digest
from tests.smtp_sink import free_port

DATA = Path(__file__).parent / "data" / "bounces"
LIST = "lettre.cites-unies-france.org"
RETURN = "lettre-retour@cites-unies-france.org"
# What each corpus file reports, as its detector in flufl.bounce's own tests expects.
CORPUS = {
    "postfix_01.txt": ["xxxxx@local.ie"],
    "exim_01.txt": ["userx@its.example.nl"],
    "sendmail_01.txt": ["zzzzz@nfg.nl", "zzzzz@shaft.coal.nl"],
    "qmail_01.txt": ["userx@example.de"],
    "microsoft_01.txt": ["userx@example.COM"],
    "yahoo_01.txt": ["userx@example.com"],
    "simple_17.txt": ["userx@example.com"],  # written by Gmail (googlemail.com)
    "dsn_01.txt": ["userx@example.com"],
}
NOT_BOUNCES = ["dsn_05.txt", "simple_28.txt"]  # "delayed" notices (a DSN; Gmail's warning): not failures


def rules(verp: dict[str, str] | None = None) -> bounces.Rules:
    return bounces.Rules(verp or {}, RETURN, "desinscription@cites-unies-france.org", SECRET.encode(), LIST)


def with_verp(address: str, raw: bytes) -> bytes:
    """The bounce as it arrives at the copy's VERP address: the mail server adds Delivered-To on top (below the
    mbox 'From ' line the corpus files start with)."""
    line = f"Delivered-To: lettre-retour+{verp_id(SECRET.encode(), LIST, address)}@cites-unies-france.org\n"
    first, _, rest = raw.partition(b"\n")
    return first + b"\n" + line.encode() + rest if first.startswith(b"From ") else line.encode() + raw


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_real_servers_permanent_failures_are_bounces_of_the_verp_recipient(name: str) -> None:
    found = bounces.classify(with_verp("anne@example.org", (DATA / name).read_bytes()),
                             rules({verp_id(SECRET.encode(), LIST, "anne@example.org"): "anne@example.org"}))
    assert isinstance(found, list)
    assert [(f.email, f.kind) for f in found] == [("anne@example.org", "bounced")]


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_a_real_servers_report_that_proves_no_copy_changes_no_one(name: str) -> None:
    found = bounces.classify((DATA / name).read_bytes(), rules())
    assert isinstance(found, bounces.Unproven) and "proves no copy" in found.reason


@pytest.mark.parametrize("name", NOT_BOUNCES)
def test_delayed_notices_are_not_bounces(name: str) -> None:
    assert bounces.classify((DATA / name).read_bytes(), rules()) == []


def test_verp_names_the_recipient_whatever_the_report_says() -> None:
    raw = (DATA / "postfix_01.txt").read_bytes()
    own = f"lettre-retour+{verp_id(SECRET.encode(), LIST, 'anne@example.org')}@cites-unies-france.org"
    found = bounces.classify(f"Delivered-To: {own}\n".encode() + raw,
                             rules({verp_id(SECRET.encode(), LIST, "anne@example.org"): "anne@example.org"}))
    assert isinstance(found, list) and [(f.email, f.kind) for f in found] == [("anne@example.org", "bounced")]


def dsn(recipient: str, status: str, letter: str, action: str = "failed") -> bytes:
    """A standard DSN (RFC 3464) for one of our copies (its Message-ID names the letter)."""
    return f"""From: Mail Delivery System <MAILER-DAEMON@mx.example.net>
To: {RETURN}
Subject: Undelivered Mail Returned to Sender
Message-ID: <{letter}-{recipient}-{status}@mx.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

The mail system could not deliver your message.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; {recipient}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {status} mailbox problem

--B
Content-Type: text/rfc822-headers

Message-ID: <{letter}.0123456789abcdef01234567@cites-unies-france.org>
From: lettre@cites-unies-france.org
List-Unsubscribe: <https://cites-unies-france.org/lettre/desinscription?l={letter}&t={unsubscribe_token(
    SECRET.encode(), recipient, LIST)}>

--B--
""".encode()


ARF = b"""From: <abuse@feedback.example.com>
To: <fbl@cites-unies-france.org>
Subject: FW: La Lettre
Message-ID: <arf-1@feedback.example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="part1"

--part1
Content-Type: text/plain

This is an email abuse report for an email message received from IP 192.0.2.1.

--part1
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <lettre-retour@cites-unies-france.org>
Original-Rcpt-To: <carla@example.org>
Arrival-Date: Thu, 20 Nov 2025 10:00:00 +0100

--part1
Content-Type: text/rfc822-headers

Message-ID: <2025-11-20.0123456789abcdef01234567@cites-unies-france.org>
From: lettre@cites-unies-france.org
To: carla@example.org
List-Unsubscribe: <https://cites-unies-france.org/lettre/desinscription?l=2025-11-20&t=""" + \
    unsubscribe_token(SECRET.encode(), "carla@example.org", LIST).encode() + b""">

--part1--
"""

UNSUBSCRIBE_MAIL = b"""From: Dora <dora@example.org>
To: desinscription@cites-unies-france.org
Subject: unsubscribe-""" + unsubscribe_token(SECRET.encode(), "dora@example.org", LIST).encode() + b"""
Message-ID: <u-1@example.org>

"""

OUT_OF_OFFICE = b"""From: eve@example.org
To: lettre-retour@cites-unies-france.org
Subject: Absent
Auto-Submitted: auto-replied
Message-ID: <ooo-1@example.org>

Je suis absente.
"""

SOMETHING_ELSE = b"""From: someone@example.org
To: lettre-retour@cites-unies-france.org
Subject: Bonjour
Message-ID: <hello-1@example.org>

Une question sur la lettre.
"""


def mailbox_messages() -> list[bytes]:
    """A bounce mailbox as it fills: real bounces, a complaint, an unsubscribe, notices and a stray mail."""
    files = [with_verp(address, (DATA / name).read_bytes()) for name, address in (
        ("postfix_01.txt", "xxxxx@local.ie"), ("exim_01.txt", "userx@its.example.nl"),
        ("qmail_01.txt", "userx@example.de"), ("dsn_05.txt", "userx@example.cz"))]
    genuine = dsn("userx@example.cz", "5.1.1", "2025-11-20")
    forged = genuine[:genuine.index(b"List-Unsubscribe:")] + b"\n--B--\n"  # the same report without the copy's token
    return [*files, ARF, UNSUBSCRIBE_MAIL, OUT_OF_OFFICE, SOMETHING_ELSE, forged]


def project(tmp_path: Path) -> Path:
    """A sources.toml with a return_path, and a store holding the addresses the mailbox names."""
    cfg = tmp_path / "sources.toml"
    cfg.write_text(config_text(25, f'return_path = "{RETURN}"\nverp = true\n'), encoding="utf-8")
    with Subscribers(tmp_path / "subscribers.sqlite") as store:
        for address in ("xxxxx@local.ie", "userx@its.example.nl", "userx@example.de", "userx@example.cz",
                        "carla@example.org", "dora@example.org", "eve@example.org"):
            store.add(address)
    return cfg


def statuses(tmp_path: Path) -> dict[str, str]:
    with Subscribers(tmp_path / "subscribers.sqlite") as store:
        return {row.email: row.status for row in store.rows()}


EXPECTED = {"xxxxx@local.ie": "bounced", "userx@its.example.nl": "bounced", "userx@example.de": "bounced",
            "userx@example.cz": "subscribed", "carla@example.org": "complained", "dora@example.org": "unsubscribed",
            "eve@example.org": "subscribed"}


pytestmark = pytest.mark.usefixtures("secret")  # the send tests' unsubscribe secret (tests/send_support.py)


def test_a_maildir_is_read_moved_to_done_and_a_rerun_changes_nothing(tmp_path: Path) -> None:
    cfg = project(tmp_path)
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    for raw in mailbox_messages():
        box.add(raw)
    result = installed.run("bounces", "-c", str(cfg), "--maildir", str(tmp_path / "Maildir"))
    assert result.exit_code == 0, result.output
    assert statuses(tmp_path) == EXPECTED
    assert "carla@example.org" in result.output and "complained" in result.output
    assert "1 not understood (left in place)" in result.output and "2 notice(s) that are not bounces" in result.output
    assert len(mailbox.Maildir(tmp_path / "Maildir")) == 1  # the stray mail, left for a person to read
    assert len(mailbox.Maildir(tmp_path / "Maildir" / ".digest-done")) == 7  # moved, never deleted
    assert len(mailbox.Maildir(tmp_path / "Maildir" / ".digest-unproven")) == 1  # the forged report, set aside
    assert "1 unproven message(s), nothing changed" in result.output
    again = installed.run("bounces", "-c", str(cfg), "--maildir", str(tmp_path / "Maildir"))
    assert "0 address(es) processed" in again.output and statuses(tmp_path) == EXPECTED
    stats = digest("subscribers", "stats", "-c", str(cfg)).output
    assert "subscribed 2 · unsubscribed 1 · bounced 3 · complained 1" in stats
    assert re.search(r"(?m)^2025-11-20 +0 +0 +0 +1$", stats)  # the complaint names its letter


def test_an_mbox_is_read_the_same_way(tmp_path: Path) -> None:
    cfg = project(tmp_path)
    box = mailbox.mbox(tmp_path / "bounces.mbox", create=True)
    for raw in mailbox_messages():
        box.add(raw)
    box.close()
    result = installed.run("bounces", "-c", str(cfg), "--mbox", str(tmp_path / "bounces.mbox"))
    assert result.exit_code == 0, result.output
    assert statuses(tmp_path) == EXPECTED
    assert len(mailbox.mbox(tmp_path / "bounces.mbox")) == 1
    assert len(mailbox.mbox(tmp_path / "bounces.mbox.digest-done")) == 7
    assert len(mailbox.mbox(tmp_path / "bounces.mbox.digest-unproven")) == 1


def test_a_message_seen_before_changes_nothing_even_as_a_copy(tmp_path: Path) -> None:
    project(tmp_path)
    with Subscribers(tmp_path / "subscribers.sqlite") as store:
        store.add("soft@example.org")
        box = mailbox.Maildir(tmp_path / "M", create=True)
        box.add(dsn("soft@example.org", "4.2.2", "2025-09-20"))
        box.add(dsn("soft@example.org", "4.2.2", "2025-09-20"))
        first = bounces.process(bounces.FileMailbox(tmp_path / "M", "maildir"), store, rules())
    assert first.already == 1 and len(first.done) == 1


def test_three_temporary_failures_on_three_letters_mark_an_address_bounced(tmp_path: Path) -> None:
    with Subscribers(tmp_path / "subscribers.sqlite") as store:
        store.add("full@example.org")
        for letter in ("2025-09-20", "2025-09-20", "2025-10-20"):
            found = bounces.classify(dsn("full@example.org", "4.2.2", letter), rules())
            assert isinstance(found, list) and found[0].kind == "soft" and found[0].letter == letter
            store.soft_bounce("full@example.org", found[0].letter, found[0].detail)
        assert store.get("full@example.org").status == "subscribed"  # type: ignore[union-attr]
        found = bounces.classify(dsn("full@example.org", "4.2.2", "2025-11-20"), rules())
        assert isinstance(found, list)
        assert store.soft_bounce("full@example.org", found[0].letter, found[0].detail)
        assert store.get("full@example.org").status == "bounced"  # type: ignore[union-attr]
        assert store.letter("2025-11-20").bounced == 1


def test_a_permanent_dsn_bounces_at_once_and_a_delayed_one_does_not(tmp_path: Path) -> None:
    gone = bounces.classify(dsn("x@example.org", "5.1.1", "2025-11-20"), rules())
    assert isinstance(gone, list) and [(f.email, f.kind) for f in gone] == [("x@example.org", "bounced")]
    assert bounces.classify(dsn("x@example.org", "4.4.7", "2025-11-20", action="delayed"), rules()) == []


def test_a_mailbox_that_is_not_one_is_a_users_error(tmp_path: Path) -> None:
    cfg = project(tmp_path)
    result = installed.run("bounces", "-c", str(cfg), "--maildir", str(tmp_path / "nowhere"))
    assert result.exit_code == 2 and "not a Maildir" in result.output


# --- a real IMAP server -----------------------------------------------------------------------------------------

DOVECOT_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {user}
default_login_user = {user}
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


@pytest.fixture
def dovecot() -> Iterator[tuple[int, str]]:
    """Debian's Dovecot on 127.0.0.1 with its own configuration in a temporary folder: (port, user)."""
    binary = programs.need("dovecot")
    root = Path(tempfile.mkdtemp(prefix="digest-imap-"))
    os.chmod(root, 0o755)  # Dovecot's unprivileged processes walk through it
    account = pwd.getpwnam("nobody") if os.getuid() == 0 else pwd.getpwuid(os.getuid())
    (root / "home" / "bounces").mkdir(parents=True)
    shutil.chown(root / "home", account.pw_uid, account.pw_gid)
    shutil.chown(root / "home" / "bounces", account.pw_uid, account.pw_gid)
    (root / "passwd").write_text("bounces:{PLAIN}imap-secret-1\n", encoding="utf-8")
    port = free_port()
    (root / "dovecot.conf").write_text(DOVECOT_CONF.format(root=root, port=port, uid=account.pw_uid,
                                                           gid=account.pw_gid, user=account.pw_name))
    process = subprocess.Popen([binary, "-F", "-c", str(root / "dovecot.conf")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                raise AssertionError(f"dovecot did not start: {process.stderr.read() if process.stderr else ''}"
                                     f"{log}") from None
            time.sleep(0.1)
    try:
        yield port, "bounces"
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def test_an_imap_folder_on_a_real_dovecot(tmp_path: Path, dovecot: tuple[int, str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from imapclient import IMAPClient

    port, user = dovecot
    with IMAPClient("127.0.0.1", port=port, ssl=False) as client:
        client.login(user, "imap-secret-1")
        for raw in mailbox_messages():
            client.append("INBOX", raw)
    cfg = project(tmp_path)
    monkeypatch.setenv("DIGEST_IMAP_PASSWORD", "imap-secret-1")
    url = f"imap://{user}@127.0.0.1:{port}/INBOX"
    result = installed.run("bounces", "-c", str(cfg), "--imap", url)
    assert result.exit_code == 0, result.output
    assert statuses(tmp_path) == EXPECTED
    with IMAPClient("127.0.0.1", port=port, ssl=False) as client:
        client.login(user, "imap-secret-1")
        assert client.select_folder("INBOX")[b"EXISTS"] == 1
        assert client.select_folder(bounces.DONE)[b"EXISTS"] == 7
        assert client.select_folder(bounces.UNPROVEN)[b"EXISTS"] == 1
    again = installed.run("bounces", "-c", str(cfg), "--imap", url)
    assert "0 address(es) processed" in again.output and statuses(tmp_path) == EXPECTED
    monkeypatch.setenv("DIGEST_IMAP_PASSWORD", "wrong")
    refused = installed.run("bounces", "-c", str(cfg), "--imap", url)
    assert refused.exit_code == 2 and "IMAP" in refused.output and "imap-secret" not in refused.output


def test_imap_in_clear_is_refused_beyond_this_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_IMAP_PASSWORD", "x")
    result = installed.run("bounces", "-c", str(project(tmp_path)), "--imap", "imap://u@mail.example.org/INBOX")
    assert result.exit_code == 2 and "use imaps://" in result.output


def test_a_verp_bounce_marks_the_recipient_the_envelope_names(tmp_path: Path) -> None:
    cfg = project(tmp_path)
    with Subscribers(tmp_path / "subscribers.sqlite") as store:
        store.add("vera@example.org")
    own = f"lettre-retour+{verp_id(SECRET.encode(), LIST, 'vera@example.org')}@cites-unies-france.org"
    box = mailbox.Maildir(tmp_path / "M", create=True)
    box.add(f"Delivered-To: {own}\n".encode() + (DATA / "postfix_01.txt").read_bytes())
    result = installed.run("bounces", "-c", str(cfg), "--maildir", str(tmp_path / "M"))
    assert result.exit_code == 0, result.output
    found = statuses(tmp_path)
    assert found["vera@example.org"] == "bounced" and found["xxxxx@local.ie"] == "subscribed"
