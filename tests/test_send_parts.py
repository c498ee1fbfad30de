"""The parts of a send that need no server: subscribers CSV, [smtp] settings, tokens, copies, journal, pace."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest import config, letterfolder, message
from digest.audience import recipients
from digest.audience.recipients import Recipient
from digest.delivery import journal, personalize
from digest.delivery.journal import Journal
from digest.delivery.smtp import Pace
from digest.errors import ConfigError, DigestError
from digest.mail import links, signing
from tests.conftest import LETTER_TABLE, SECTIONS
from tests.send_support import DAY, LONG_UNSUBSCRIBE, SECRET, build_letter

NOW = datetime(2025, 11, 20, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> letterfolder.BuiltLetter:
    outbox = build_letter(tmp_path_factory.mktemp("built"))
    return letterfolder.read_built(outbox, datetime.fromisoformat(DAY).date())


def parse(raw: bytes) -> email.message.EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


# --- the subscribers CSV


def test_subscribers_csv_excel_style_with_unsubscribed_invalid_and_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "abonnes.csv"
    path.write_bytes("\ufeffEmail;Nom;Unsubscribed\n"
                     "anne@example.org;Anne Dupont;\n"
                     "ANNE@Example.org;Anne bis;\n"
                     "\n"
                     "parti@example.org;Parti;2025-10-01\n"
                     "reste@exämple.org;;non\n"
                     "pas une adresse;Marc;\n"
                     "b@ex ample.org;;\n"
                     "zoé@example.org;Zoé;\n".encode())
    found = recipients.read(path)
    # An international domain is sent to in its ASCII form; a non-ASCII mailbox would need SMTPUTF8.
    assert [r.email for r in found.recipients] == ["anne@example.org", "reste@xn--exmple-cua.org"]
    assert found.recipients[0].name == "Anne Dupont"
    assert (found.unsubscribed, found.duplicates) == (1, 1)
    assert [(r.line, r.email) for r in found.invalid] == [
        (7, "pas une adresse"), (8, "b@ex ample.org"), (9, "zoé@example.org")]
    assert "@-sign" in found.invalid[0].reason and "Internationalized" in found.invalid[2].reason


def test_a_subscribers_file_without_an_email_column_is_a_users_error(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("nom,adresse_postale\nAnne,Paris\n", encoding="utf-8")
    with pytest.raises(recipients.RecipientsError, match=r"s.csv: no 'email' column .*nom,adresse_postale") as info:
        recipients.read(path)
    assert info.value.exit_code == 2
    with pytest.raises(recipients.RecipientsError, match="file not found"):
        recipients.read(tmp_path / "missing.csv")


def test_names_lose_control_characters_so_they_cannot_add_headers() -> None:
    assert recipients._name("Anne\r\nBcc: everyone@example.org ") == "AnneBcc: everyone@example.org"


# --- [smtp] in sources.toml


def write(tmp_path: Path, smtp: str) -> Path:
    path = tmp_path / "sources.toml"
    source = '[[source]]\nname = "s"\nsection = "cuf"\nurl = "a.csv"\n'
    path.write_text(LETTER_TABLE + "\n" + SECTIONS + "\n" + source + "\n" + smtp, encoding="utf-8")
    return path


def test_smtp_table_defaults_and_ports(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, '[smtp]\nhost = "smtp.example.org"\nsecurity = "ssl"\n'))
    assert cfg.smtp == config.SmtpConfig(host="smtp.example.org", port=465, security="ssl")
    cfg = config.load(write(tmp_path, '[smtp]\nhost = "smtp.example.org"\nusername = "u"\n'
                                      'password_env = "SMTP_PASS"\nrate = 12.5\nlist_id = "lettre.example.org"\n'))
    assert cfg.smtp is not None and (cfg.smtp.port, cfg.smtp.rate, cfg.smtp.password_env) == (587, 12.5, "SMTP_PASS")


def test_smtp_problems_are_all_reported_and_a_password_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[smtp]\nhost = "smtp.example.org"\nsecurity = "tls"\nport = 99999\npassword = "x"\n'
                           'username = "u"\nrate = 0\nlist_id = "not a list id"\nsecret_env = "MY-SECRET"\n')
    with pytest.raises(ConfigError) as info:
        config.load(path)
    problems = "\n".join(info.value.problems)
    assert "[smtp] password: never write a password" in problems
    assert "[smtp] security: expected one of starttls, ssl, none, got 'tls'" in problems
    assert "[smtp] port: expected a port number" in problems
    assert "[smtp] rate: expected messages per second (such as 10 or 0.5) above 0" in problems
    assert "[smtp] list_id: expected a dotted name" in problems
    assert "[smtp] secret_env: expected the NAME of an environment variable" in problems
    assert "[smtp] password_env: username is set but password_env is not" in problems
    assert all(p.startswith(str(path)) for p in info.value.problems)


# --- tokens and copies


def test_unsubscribe_tokens_name_their_recipient_and_cannot_be_forged() -> None:
    token = signing.unsubscribe_token(b"k" * 32, "Anne@example.org")
    assert signing.unsubscribe_address(b"k" * 32, token) == "Anne@example.org"
    assert signing.unsubscribe_address(b"other-secret-xxxxxxxx", token) is None
    # it names nobody: neither the address nor its base64 is in it, and a byte changed makes it nothing
    assert "." not in token and "Anne" not in token and "QW5uZU" not in token
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    assert signing.unsubscribe_address(b"k" * 32, flipped) is None
    forged = signing.legacy_unsubscribe_token(b"guess", "bob@example.org").split(".")[0] + "." + "A" * 22
    assert signing.unsubscribe_address(b"k" * 32, forged) is None
    assert signing.unsubscribe_address(b"k" * 32, "garbage") is None
    link = links.unsubscribe_link("https://e.org/u", b"k" * 32, "a@example.org")
    assert link.startswith("https://e.org/u?t=")
    assert links.unsubscribe_link("https://e.org/u?l=1", b"k", "a@example.org").startswith("https://e.org/u?l=1&t=")


def test_each_copy_differs_only_where_it_should(built: letterfolder.BuiltLetter) -> None:
    maker = personalize.Personalizer(built, SECRET.encode(), "lettre.example.org")
    first = parse(maker.copy(Recipient("a@example.org", "Anne"), NOW).raw)
    second = parse(maker.copy(Recipient("b@example.org"), NOW).raw)
    html_a, html_b = (m.get_body(("html",)).get_content().replace("\r\n", "\n") for m in (first, second))
    link_a = links.unsubscribe_link(LONG_UNSUBSCRIBE, SECRET.encode(), "a@example.org", "lettre.example.org",
                                          built.date)
    link_b = links.unsubscribe_link(LONG_UNSUBSCRIBE, SECRET.encode(), "b@example.org", "lettre.example.org",
                                          built.date)
    escaped = LONG_UNSUBSCRIBE.replace("&", "&amp;")
    named = '<span class="digest-name"> Anne</span>'  # the stock template greets: "Bonjour Anne,"
    assert html_a == built.html.replace(f'href="{escaped}"', f'href="{link_a.replace("&", "&amp;")}"').replace(
        personalize.NAME_MARK, named)
    assert html_b == built.html.replace(f'href="{escaped}"', f'href="{link_b.replace("&", "&amp;")}"')
    text_a = first.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text_a == built.text.replace(LONG_UNSUBSCRIBE, link_a).replace("\nBonjour,\n", "\nBonjour Anne,\n")
    assert first["Message-ID"] != second["Message-ID"]
    assert first["Date"] == "Thu, 20 Nov 2025 09:30:00 +0000"
    # The same recipient keeps the same Message-ID on a later run: a resent copy is the same message.
    assert parse(maker.copy(Recipient("a@example.org", "Anne"), NOW).raw)["Message-ID"] == first["Message-ID"]


def test_the_greeting_gets_the_name_when_the_template_marks_it(built: letterfolder.BuiltLetter) -> None:
    greeting = r'\1<p>Bonjour<span class="digest-name"></span>,</p>'
    marked = letterfolder.BuiltLetter(**{**built.__dict__, "text": "Bonjour,\n\n" + built.text,
                                        "html": re.sub(r"(<body[^>]*>)", greeting, built.html, count=1)})
    maker = personalize.Personalizer(marked, SECRET.encode(), "lettre.example.org")
    named = parse(maker.copy(Recipient("a@example.org", "Zoé <b>"), NOW).raw)
    html = named.get_body(("html",)).get_content()
    assert '<p>Bonjour<span class="digest-name"> Zoé &lt;b&gt;</span>,</p>' in html
    assert named.get_body(("plain",)).get_content().startswith("Bonjour Zoé <b>,")
    anonymous = parse(maker.copy(Recipient("b@example.org"), NOW).raw)
    assert anonymous.get_body(("plain",)).get_content().startswith("Bonjour,")


def test_quoted_printable_pieces_keep_to_76_columns_and_decode_back() -> None:
    for text in ["x" * 75, "x" * 76, "x" * 151, "é" * 40, "a=b" * 40, "fin " * 30, "", "ligne\nsuivante"]:
        encoded = message.qp_piece(text)
        assert all(len(line) <= 76 for line in encoded.split(b"\r\n")), text
        assert encoded == b"" or encoded.endswith(b"\r\n")
        import quopri

        assert quopri.decodestring(encoded).replace(b"\r\n", b"\n").decode() == text


def test_the_wire_form_doubles_leading_dots() -> None:
    template = message.MessageTemplate(b"From: a@example.org\r\n", [
        ("plain", ["ligne\n.cachee\n", message.Slot("v")]),
    ], boundary="==b==")
    plain = template.render(b"", {"v": ".point"})
    wire = template.render(b"", {"v": ".point"}, wire=True)
    assert b"\r\n.cachee" in plain and b"\r\n..cachee" in wire
    assert b"\r\n..point" in wire and b"\r\n.point" in plain
    assert wire.replace(b"\r\n..", b"\r\n.") == plain


def test_a_letter_without_an_unsubscribe_link_is_not_sent(built: letterfolder.BuiltLetter) -> None:
    bare = letterfolder.BuiltLetter(**{**built.__dict__, "html": built.html.replace("href=", "data-x=")})
    with pytest.raises(DigestError, match="has no link to the unsubscribe page"):
        personalize.Personalizer(bare, SECRET.encode(), "lettre.example.org")


def test_reading_a_letter_that_was_not_built_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(letterfolder.LetterNotBuilt, match=r"run `digest build --date 2025-11-20` first"):
        letterfolder.read_built(tmp_path, datetime(2025, 11, 20).date())


# --- the journal


def test_the_journal_survives_and_reports_a_run_that_died(tmp_path: Path) -> None:
    people = [Recipient(f"p{i}@example.org") for i in range(4)]
    with Journal(tmp_path) as first:
        assert first.add(people) == 4
        first.before(people[0], "<m0>")
        first.after(people[0], "sent", 250, "ok")
        first.before(people[1], "<m1>")  # and the process dies here
    with Journal(tmp_path) as second:
        assert second.recover() == 1
        assert second.add([*people, Recipient("new@example.org")]) == 1
        assert [r.email for r in second.todo(people)] == ["p2@example.org", "p3@example.org"]
        assert [r.email for r in second.todo(people, resend_unknown=True)] == [
            "p1@example.org", "p2@example.org", "p3@example.org"]
        assert second.counts() == {"pending": 3, "sending": 0, "sent": 1, "failed": 0, "deferred": 0, "unknown": 1}
    counts, rows = journal.status(tmp_path) or ({}, [])
    assert counts["unknown"] == 1 and [r.email for r in rows] == ["p1@example.org"]
    assert journal.status(tmp_path / "none") is None


def test_the_journal_is_held_by_one_send_at_a_time(tmp_path: Path) -> None:
    with Journal(tmp_path), pytest.raises(journal.JournalBusy):
        Journal(tmp_path)
    Journal(tmp_path).close()  # released


# --- pace


def test_pace_spreads_transactions_evenly() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    pace = Pace(4, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        pace.wait()
    assert slept == [0.25, 0.25, 0.25, 0.25]
    Pace(None, clock=lambda: 0.0, sleep=sleep).wait()
    assert len(slept) == 4


def test_samples_subscribers_are_as_documented() -> None:
    from tests.conftest import SAMPLES

    found = recipients.read(SAMPLES / "subscribers.csv")
    assert len(found.recipients) == 4 and found.unsubscribed == 1 and len(found.invalid) == 1
    assert all(re.search(r"@example\.org$", r.email) for r in found.recipients)
