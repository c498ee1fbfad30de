"""Returns act only on what they prove: the copies of a real `digest send` (VERP, to aiosmtpd), their bounces
written as Postfix writes them, and forged reports, all through `digest bounces --maildir`."""

from __future__ import annotations

import mailbox
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from digest.audience.subscribers import Subscribers
from tests import installed
from tests.send_support import config_text, digest, setup
from tests.smtp_sink import Received, Recorder, Sink

RETURN = "lettre-retour@cites-unies-france.org"
SMTP = f'return_path = "{RETURN}"\nverp = true\n'
PEOPLE = ("anne@example.org", "claire@example.org", "eve@example.org", "zoe@example.org", "carla@example.org",
          "dora@example.org")

pytestmark = pytest.mark.usefixtures("secret")


@pytest.fixture(scope="module")
def copies(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Received]]:
    """Every subscriber's copy as a real list send with VERP delivered it, by address."""
    root = tmp_path_factory.mktemp("sent")
    monkey = pytest.MonkeyPatch()
    monkey.setenv("DIGEST_SECRET", "test-secret-0123456789-abcdefghij")
    with Sink(Recorder()) as sink:
        cfg = setup(root, built, sink.port, SMTP)
        with Subscribers(root / "subscribers.sqlite") as store:
            for address in PEOPLE:
                store.add(address)
        result = digest("send", "-c", str(cfg), "--yes", "--list")
        assert result.exit_code == 0, result.output
        received = {r.rcpt: r for r in sink.recorder.received}
    monkey.undo()
    assert set(received) == set(PEOPLE)
    assert all(r.mail_from.startswith("lettre-retour+") for r in received.values())  # VERP
    yield received


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with every person subscribed, and an empty returns Maildir; sources.toml's path."""
    cfg = tmp_path / "sources.toml"
    cfg.write_text(config_text(25, SMTP) + '\n[returns]\nauthserv_id = "mx.cites-unies-france.org"\n',
                   encoding="utf-8")
    with Subscribers(tmp_path / "subscribers.sqlite") as store:
        for address in PEOPLE:
            store.add(address)
    mailbox.Maildir(tmp_path / "Retours", create=True)
    return cfg


def run(cfg: Path, *messages: bytes) -> str:
    """Drop the messages in the returns Maildir and run `digest bounces` on it; its output."""
    box = mailbox.Maildir(cfg.parent / "Retours")
    for raw in messages:
        box.add(raw)
    result = installed.run("bounces", "-c", str(cfg), "--maildir", str(cfg.parent / "Retours"))
    assert result.exit_code == 0, result.output
    return result.output


def statuses(cfg: Path) -> dict[str, str]:
    with Subscribers(cfg.parent / "subscribers.sqlite") as store:
        return {row.email: row.status for row in store.rows()}


def unchanged(cfg: Path) -> bool:
    return set(statuses(cfg).values()) == {"subscribed"}


def aside(cfg: Path) -> int:
    return len(mailbox.Maildir(cfg.parent / "Retours" / ".digest-unproven"))


def headers(copy: Received) -> str:
    """The copy's header block, as Postfix returns it (text/rfc822-headers)."""
    return copy.raw.split(b"\r\n\r\n", 1)[0].decode("ascii").replace("\r\n", "\n")


def postfix_dsn(to: str, blocks: list[tuple[str, str]], returned: str = "") -> bytes:
    """A bounce as Postfix writes it: delivered to `to` (the envelope sender of the copy), one
    Final-Recipient block per (address, status), and the returned copy's headers."""
    report = "".join(f"\nFinal-Recipient: rfc822; {a}\nOriginal-Recipient: rfc822;{a}\nAction: failed\n"
                     f"Status: {s}\nRemote-MTA: dns; mx.example.org\nDiagnostic-Code: smtp; 550 {s} <{a}>: "
                     "Recipient address rejected: User unknown in virtual mailbox table\n" for a, s in blocks)
    text = f"""Return-Path: <>
Delivered-To: {to}
Received: by mx.cites-unies-france.org (Postfix) id 4C1F2A0; Thu, 20 Nov 2025 08:01:02 +0100 (CET)
Date: Thu, 20 Nov 2025 08:01:02 +0100 (CET)
From: MAILER-DAEMON@mx.cites-unies-france.org (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: {to}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="4C1F2A0.1763622062/mx"
Message-Id: <20251120070102.4C1F2A0@mx.cites-unies-france.org>

This is a MIME-encapsulated message.

--4C1F2A0.1763622062/mx
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.cites-unies-france.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

--4C1F2A0.1763622062/mx
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.cites-unies-france.org
X-Postfix-Queue-ID: 4C1F2A0
X-Postfix-Sender: rfc822; {to}
Arrival-Date: Thu, 20 Nov 2025 08:00:58 +0100 (CET)
{report}
--4C1F2A0.1763622062/mx
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

{returned}
--4C1F2A0.1763622062/mx--
"""
    return text.encode()


def arf(rcpt_to: str, returned: str) -> bytes:
    """A feedback-loop complaint (RFC 5965) naming `rcpt_to`, with the returned copy's headers."""
    return f"""From: <abuse@feedback.example.com>
To: <{RETURN}>
Subject: FW: La Lettre
Message-ID: <arf-{rcpt_to}@feedback.example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="part1"

--part1
Content-Type: text/plain

This is an email abuse report.

--part1
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <{RETURN}>
Original-Rcpt-To: <{rcpt_to}>

--part1
Content-Type: text/rfc822-headers

{returned}
--part1--
""".encode()


def mail(sender: str, subject: str, *extra: str) -> bytes:
    """A mail to the unsubscribe_mailto address."""
    lines = [*extra, f"From: {sender}", "To: desinscription@cites-unies-france.org", f"Subject: {subject}",
             f"Message-ID: <{abs(hash((sender, subject, extra)))}@example.org>", "", "stop"]
    return "\n".join(lines).encode()


# --- genuine returns ----------------------------------------------------------------------------------------------

def test_a_postfix_bounce_at_the_verp_address_bounces_its_recipient_and_no_one_it_names(
        project: Path, copies: dict[str, Received]) -> None:
    claire = copies["claire@example.org"]
    raw = postfix_dsn(claire.mail_from, [("claire@example.org", "5.1.1"), ("anne@example.org", "5.1.1")],
                      headers(claire))
    output = run(project, raw)
    assert statuses(project)["claire@example.org"] == "bounced"
    assert statuses(project)["anne@example.org"] == "subscribed"  # named by the report, not proven
    assert "1 address(es) processed" in output and "0 unproven" in output


def test_a_bounce_at_the_plain_return_path_is_proven_by_the_returned_message_id(
        project: Path, copies: dict[str, Received]) -> None:
    only_id = "\n".join(line for line in headers(copies["eve@example.org"]).split("\n")
                        if line.lower().startswith(("message-id:", "from:", "subject:")))
    assert "List-Unsubscribe" not in only_id  # no token: the signed Message-ID alone proves the copy
    run(project, postfix_dsn(RETURN, [("eve@example.org", "5.1.1")], only_id))
    assert statuses(project)["eve@example.org"] == "bounced"


def test_a_temporary_failure_counts_once_per_letter(project: Path, copies: dict[str, Received]) -> None:
    anne = copies["anne@example.org"]
    output = run(project, postfix_dsn(anne.mail_from, [("anne@example.org", "4.2.2")], headers(anne)))
    assert "temporary failure" in output and statuses(project)["anne@example.org"] == "subscribed"


def test_a_complaint_returning_the_copy_marks_that_recipient_not_the_one_it_names(
        project: Path, copies: dict[str, Received]) -> None:
    run(project, arf("eve@example.org", headers(copies["carla@example.org"])))
    assert statuses(project)["carla@example.org"] == "complained"
    assert statuses(project)["eve@example.org"] == "subscribed"


def test_the_mailto_of_a_copy_carries_its_token_and_its_mail_unsubscribes(
        project: Path, copies: dict[str, Received]) -> None:
    line = next(h for h in copies["dora@example.org"].raw.split(b"\r\n") if h.startswith(b"List-Unsubscribe:"))
    mailto = urlparse(line.decode().split("<mailto:", 1)[1].rstrip(">"))
    subject = unquote(mailto.query.partition("subject=")[2])
    assert subject.startswith("unsubscribe-")
    run(project, mail("Dora <dora.autre@example.net>", subject))  # sent from another address: the token proves
    assert statuses(project)["dora@example.org"] == "unsubscribed"


def test_a_from_the_receiving_servers_dmarc_vouches_for_unsubscribes(project: Path) -> None:
    vouched = "Authentication-Results: mx.cites-unies-france.org; dkim=pass header.d=example.org; " \
              "spf=pass smtp.mailfrom=example.org; dmarc=pass (p=reject) header.from=example.org"
    run(project, mail("Zoé <zoe@example.org>", "désabonnement", vouched))
    assert statuses(project)["zoe@example.org"] == "unsubscribed"


GMAIL = ("mx.cites-unies-france.org", "Authentication-Results: mx.cites-unies-france.org;\n       dkim=pass "
         "header.i=@example.org header.s=s1 header.b=Ab12;\n       spf=pass (google.com: domain of zoe@example.org "
         "designates 192.0.2.1 as permitted sender) smtp.mailfrom=zoe@example.org;\n       dmarc={result} "
         "(p=REJECT sp=REJECT dis=NONE) header.from=example.org")
OUTLOOK = ("microsoft", "Authentication-Results: spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=example.org; "
           "dkim=pass (signature was verified) header.d=example.org;dmarc={result} action=none "
           "header.from=example.org;compauth=pass reason=100")
POSTFIX = ("mx.cites-unies-france.org", "Authentication-Results: mx.cites-unies-france.org; dmarc={result} "
           "(p=none dis=none) header.from=example.org")


@pytest.mark.parametrize(("authserv_id", "shape"), [GMAIL, OUTLOOK, POSTFIX], ids=["gmail", "outlook", "opendmarc"])
def test_the_dmarc_verdict_is_read_in_the_header_shapes_servers_write(project: Path, authserv_id: str,
                                                                        shape: str) -> None:
    project.write_text(project.read_text(encoding="utf-8").replace("mx.cites-unies-france.org", authserv_id),
                       encoding="utf-8")
    run(project, mail("Claire <claire@example.org>", "stop", shape.format(result="fail")))
    assert unchanged(project) and aside(project) == 1
    run(project, mail("Zoé <zoe@example.org>", "désabonnement", shape.format(result="pass")))
    assert statuses(project)["zoe@example.org"] == "unsubscribed"
    assert list(statuses(project).values()).count("unsubscribed") == 1


def test_dmarc_pass_written_into_another_methods_property_is_no_verdict(project: Path) -> None:
    """Gmail writes SPF first: a sender who puts `dmarc=pass` in its SPF mail-from must not pass for DMARC."""
    spf_first = ('Authentication-Results: mx.cites-unies-france.org; spf=pass (domain of x@evil.example '
                 'dmarc=pass) smtp.mailfrom="dmarc=pass"@evil.example; dmarc=fail (p=NONE) header.from=example.org')
    none = 'Authentication-Results: mx.cites-unies-france.org; spf=pass smtp.mailfrom="dmarc=pass"@example.org'
    other_domain = "Authentication-Results: mx.cites-unies-france.org; dmarc=pass header.from=evil.example"
    run(project, mail("zoe@example.org", "stop", spf_first), mail("eve@example.org", "stop", none),
        mail("anne@example.org", "stop", other_domain))
    assert unchanged(project) and aside(project) == 3


# --- forged returns -----------------------------------------------------------------------------------------------

def test_a_forged_dsn_at_the_plain_return_path_is_set_aside_and_listed(project: Path) -> None:
    output = run(project, postfix_dsn(RETURN, [("claire@example.org", "5.1.1")],
                                      "Message-ID: <2025-11-20.0123456789abcdef01234567@cites-unies-france.org>"))
    assert unchanged(project) and aside(project) == 1
    assert "1 unproven message(s), nothing changed" in output and "proves no copy" in output
    assert "MAILER-DAEMON@mx.cites-unies-france.org" in output and "Undelivered Mail" in output
    assert len(mailbox.Maildir(project.parent / "Retours")) == 0


def test_a_guessed_verp_address_proves_nothing(project: Path) -> None:
    run(project, postfix_dsn("lettre-retour+aaaaaaaaaaaaaaaaaaaa@cites-unies-france.org",
                             [("claire@example.org", "5.1.1")]))
    assert unchanged(project) and aside(project) == 1


def test_a_forged_plain_text_user_unknown_is_set_aside(project: Path) -> None:
    forged = b"""From: MAILER-DAEMON@mx.example.net
To: lettre-retour@cites-unies-france.org
Subject: Mail delivery failed: returning message to sender
Message-ID: <forged-2@mx.example.net>

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  anne@example.org
    SMTP error from remote mail server after RCPT TO:<anne@example.org>:
    550 User unknown
"""
    run(project, forged)
    assert unchanged(project) and aside(project) == 1


def test_a_forged_complaint_is_set_aside(project: Path) -> None:
    run(project, arf("eve@example.org", "Message-ID: <x@example.net>\nTo: eve@example.org"))
    assert unchanged(project) and aside(project) == 1


def test_a_forged_unsubscribe_mail_is_set_aside(project: Path) -> None:
    other = "Authentication-Results: mx.attacker.example; dmarc=pass header.from=example.org"
    failed = "Authentication-Results: mx.cites-unies-france.org; dmarc=fail header.from=example.org"
    run(project, mail("zoe@example.org", "unsubscribe"), mail("zoe@example.org", "stop", other),
        mail("zoe@example.org", "stop!", failed))
    assert unchanged(project) and aside(project) == 3


def test_a_header_written_by_the_sender_with_our_id_below_the_servers_own_is_not_believed(project: Path) -> None:
    own = "Authentication-Results: mx.cites-unies-france.org; dmarc=none header.from=example.org"
    planted = "Authentication-Results: mx.cites-unies-france.org; dmarc=pass header.from=example.org"
    run(project, mail("zoe@example.org", "stop", own, planted))
    assert unchanged(project) and aside(project) == 1


def test_a_report_naming_twenty_thousand_recipients_is_set_aside_quickly(
        project: Path, copies: dict[str, Received]) -> None:
    claire = copies["claire@example.org"]
    blocks = [(f"user{i}@example.org", "5.1.1") for i in range(20_000)]
    raw = postfix_dsn(claire.mail_from, [("claire@example.org", "5.1.1"), *blocks], headers(claire))
    assert len(raw) > 1_000_000
    output = run(project, raw)  # set aside unread (its time: the closing note's 184 ms)
    assert unchanged(project) and aside(project) == 1 and "more than 50 recipients" in output


def test_unproven_reports_can_be_read_by_a_person_and_the_done_folders_are_private(
        project: Path, copies: dict[str, Received]) -> None:
    anne = copies["anne@example.org"]
    run(project, postfix_dsn(anne.mail_from, [("anne@example.org", "5.1.1")], headers(anne)),
        postfix_dsn(RETURN, [("claire@example.org", "5.1.1")]))
    for folder in (".digest-done", ".digest-unproven"):
        path = project.parent / "Retours" / folder
        files = [p for p in path.rglob("*") if p.is_file()]
        assert files and all(p.stat().st_mode & 0o077 == 0 for p in files), folder
        assert path.stat().st_mode & 0o077 == 0
    shutil.rmtree(project.parent / "Retours" / ".digest-unproven")


def test_a_mail_with_the_token_of_an_erased_address_brings_nothing_back(
        project: Path, copies: dict[str, Received]) -> None:
    line = next(h for h in copies["dora@example.org"].raw.split(b"\r\n") if h.startswith(b"List-Unsubscribe:"))
    subject = unquote(urlparse(line.decode().split("<mailto:", 1)[1].rstrip(">")).query.partition("subject=")[2])
    assert digest("subscribers", "erase", "dora@example.org", "-c", str(project)).exit_code == 0
    output = run(project, mail("dora@example.org", subject))
    assert "dora@example.org" not in statuses(project) and "not in the store, nothing changed" in output
