"""The subscriber store and its commands; tokens bound to the list; a list send from the store, with VERP,
honouring unsubscribes made while it runs (against a real aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from digest import config
from digest.audience.states import Means, Status
from digest.audience.subscribers import Subscribers, mask
from digest.mail import links, signing
from tests.send_support import DAY, SECRET, digest, setup
from tests.smtp_sink import Recorder, Sink

LIST = "lettre.cites-unies-france.org"


pytestmark = pytest.mark.usefixtures("secret")  # the send tests' unsubscribe secret (tests/send_support.py)


def write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def config_file(tmp_path: Path) -> Path:
    """A sources.toml (the project's, with an [smtp] table) in tmp_path: the store goes beside it."""
    from tests.send_support import config_text

    path = tmp_path / "sources.toml"
    path.write_text(config_text(25), encoding="utf-8")
    return path


# --- tokens ---------------------------------------------------------------------------------------------------


def test_tokens_are_bound_to_their_list_and_old_tokens_still_work() -> None:
    key = b"k" * 32
    token = signing.unsubscribe_token(key, "Anne@example.org", LIST)
    assert signing.unsubscribe_address(key, token, LIST) == "Anne@example.org"
    assert signing.unsubscribe_address(key, token, "autre.example.org") is None  # another list, same secret
    old = signing.legacy_unsubscribe_token(key, "anne@example.org")  # a letter sent before tokens named their list
    assert signing.unsubscribe_address(key, old, LIST) == "anne@example.org"
    v2 = signing.legacy_unsubscribe_token(key, "anne@example.org", LIST)  # a letter sent by digest 0.2
    assert signing.unsubscribe_address(key, v2, LIST) == "anne@example.org"
    assert signing.unsubscribe_address(key, v2, "autre.example.org") is None


@pytest.mark.parametrize("bad", ["é" * 10, "YW5uZUBleGFtcGxlLm9yZw.", "YW5uZUBleGFtcGxlLm9yZw", "", ".", "%00",
                                 "YW5uZUBleGFtcGxlLm9yZw.AAAAAAAAAAAAAAAAAAAAAA", "x" * 5000, "\x00.\x00"])
def test_a_forged_truncated_or_non_ascii_token_is_none_never_an_exception(bad: str) -> None:
    assert signing.unsubscribe_address(b"k" * 32, bad, LIST) is None


def test_a_truncated_real_token_is_refused() -> None:
    token = signing.unsubscribe_token(b"k" * 32, "anne@example.org", LIST)
    assert signing.unsubscribe_address(b"k" * 32, token[:-3], LIST) is None


# --- the store and its commands -------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [("list",), ("stats",), ("export",), ("remove", "anne@example.org")])
def test_reading_commands_never_make_a_store(tmp_path: Path, command: tuple[str, ...]) -> None:
    cfg = config_file(tmp_path)
    result = digest("subscribers", command[0], "-c", str(cfg), *command[1:])
    assert result.exit_code == 2 and "no subscriber store at" in result.output and "subscribers import" in result.output
    assert not (tmp_path / "subscribers.sqlite").exists()


def test_import_reports_added_updated_invalid_by_line_and_keeps_extra_columns(tmp_path: Path) -> None:
    cfg = config_file(tmp_path)
    first = write_csv(tmp_path / "a.csv", ["email;nom;organisation;ville", "anne@example.org;Anne;Mairie;Lyon",
                                           "pas-une-adresse;X;;", "bob@example.org;Bob;;"])
    result = digest("subscribers", "import", "-c", str(cfg), str(first))
    assert result.exit_code == 0, result.output
    assert "2 added, 0 updated, 0 unchanged, 1 invalid" in result.output
    assert "line 3: 'pas-une-adresse' invalid" in result.output
    second = write_csv(tmp_path / "b.csv", ["email;nom;organisation;ville", "anne@example.org;Anne;Mairie;Paris",
                                            "bob@example.org;Bob;;"])
    result = digest("subscribers", "import", "-c", str(cfg), str(second))
    assert "0 added, 1 updated, 1 unchanged, 0 invalid" in result.output
    with Subscribers(tmp_path / "subscribers.sqlite") as store:
        anne = store.get("ANNE@example.org")
    assert anne is not None and anne.fields == {"organisation": "Mairie", "ville": "Paris"}
    assert anne.status == "subscribed" and anne.created and anne.updated


def test_an_import_says_which_rows_gave_the_same_address_and_which_one_it_kept(tmp_path: Path) -> None:
    cfg = config_file(tmp_path)
    csv = write_csv(tmp_path / "a.csv", ["email;nom", "anne@example.org;Anne", "bob@example.org;Bob",
                                         "Anne@Example.ORG;Anne-Marie", "anne@example.org;A."])
    result = digest("subscribers", "import", "-c", str(cfg), str(csv))
    assert result.exit_code == 0, result.output
    assert "2 added, 0 updated, 0 unchanged, 0 invalid, 0 not subscribed again, 2 merged" in result.output
    assert "line 4: Anne@example.org is the address of line 2 (case aside): line 2 kept" in result.output
    assert "line 5: anne@example.org is the address of line 2 (case aside): line 2 kept" in result.output
    with Subscribers(tmp_path / "subscribers.sqlite") as store:
        anne = store.get("anne@example.org")
    assert anne is not None and anne.name == "Anne"  # the first row's name, as the report says


def test_an_import_never_subscribes_again_who_left_unless_asked(tmp_path: Path) -> None:
    cfg = config_file(tmp_path)
    csv = write_csv(tmp_path / "a.csv", ["email;name", "anne@example.org;Anne", "bob@example.org;Bob"])
    digest("subscribers", "import", "-c", str(cfg), str(csv))
    removed = digest("subscribers", "remove", "-c", str(cfg), "anne@example.org")
    assert "anne@example.org: unsubscribed" in removed.output
    with Subscribers(tmp_path / "subscribers.sqlite") as store:
        store.set_status("bob@example.org", Status.COMPLAINED, "feedback-loop complaint", Means.COMPLAINT, letter=DAY)
    again = digest("subscribers", "import", "-c", str(cfg), str(csv))
    assert "2 not subscribed again" in again.output and "--resubscribe subscribes it again" in again.output
    asked = digest("subscribers", "import", "-c", str(cfg), str(csv), "--resubscribe")
    assert asked.exit_code == 0, asked.output
    with Subscribers(tmp_path / "subscribers.sqlite") as store:
        assert store.get("anne@example.org").status == "subscribed"  # type: ignore[union-attr]
        assert store.get("bob@example.org").status == "complained"  # type: ignore[union-attr]


def test_an_import_row_marked_unsubscribed_unsubscribes_that_address(tmp_path: Path) -> None:
    cfg = config_file(tmp_path)
    digest("subscribers", "add", "-c", str(cfg), "anne@example.org")
    csv = write_csv(tmp_path / "a.csv", ["email;unsubscribed", "anne@example.org;oui", "new@example.org;2025-10-01"])
    assert digest("subscribers", "import", "-c", str(cfg), str(csv)).exit_code == 0
    with Subscribers(tmp_path / "subscribers.sqlite") as store:
        assert [(r.email, r.status) for r in store.rows()] == [("anne@example.org", "unsubscribed"),
                                                              ("new@example.org", "unsubscribed")]


def test_add_list_stats_and_export(tmp_path: Path) -> None:
    cfg = config_file(tmp_path)
    assert digest("subscribers", "add", "-c", str(cfg), "zoe@example.org", "--name", "Zoé").exit_code == 0
    digest("subscribers", "add", "-c", str(cfg), "=cmd@example.org")
    digest("subscribers", "remove", "-c", str(cfg), "zoe@example.org")
    listed = digest("subscribers", "list", "-c", str(cfg), "--status", "unsubscribed")
    assert "zoe@example.org" in listed.output and "=cmd@example.org" not in listed.output
    stats = digest("subscribers", "stats", "-c", str(cfg))
    assert "subscribed 1 · unsubscribed 1 · bounced 0 · complained 0" in stats.output
    out = tmp_path / "export.csv"
    assert digest("subscribers", "export", "-c", str(cfg), str(out)).exit_code == 0
    text = out.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("email;name;status;reason")
    assert "zoe@example.org;Zoé;unsubscribed;digest subscribers remove" in text
    assert "'=cmd@example.org" in text  # a spreadsheet does not run it as a formula


def test_a_bad_address_is_a_users_error(tmp_path: Path) -> None:
    result = digest("subscribers", "add", "-c", str(config_file(tmp_path)), "nope")
    assert result.exit_code == 2 and "'nope' is not a usable address" in result.output


@pytest.mark.parametrize("private", ["sends", "prive"])
def test_erase_deletes_the_person_everywhere_and_an_import_cannot_add_them_back(tmp_path: Path,
                                                                               private: str) -> None:
    cfg = config_file(tmp_path)
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("[letter]\n", f'[letter]\nprivate_dir = "{private}"\n', 1),
                   encoding="utf-8")
    assert config.load(cfg).private_dir == tmp_path / private
    csv = write_csv(tmp_path / "a.csv", ["email;name", "anne@example.org;Anne", "bob@example.org;Bob"])
    digest("subscribers", "import", "-c", str(cfg), str(csv))
    with Subscribers(tmp_path / "subscribers.sqlite") as store:
        store.unsubscribe("anne@example.org", "one-click (RFC 8058)", Means.ONE_CLICK, letter=DAY)
    journal = tmp_path / private / DAY / "send-journal.sqlite"
    journal.parent.mkdir(parents=True)
    db = sqlite3.connect(journal)
    db.execute("CREATE TABLE recipient (key TEXT PRIMARY KEY, email TEXT)")
    db.executemany("INSERT INTO recipient VALUES (?, ?)", [("anne@example.org", "Anne@example.org"),
                                                          ("bob@example.org", "bob@example.org")])
    db.commit()
    db.close()
    dry = tmp_path / private / DAY / "dry-run" / "00001-Anne@example.org.eml"
    old = tmp_path / "outbox" / DAY / "dry-run" / "00002-Anne@example.org.eml"  # left by an older digest
    for copy in (dry, old):
        copy.parent.mkdir(parents=True)
        copy.write_bytes(b"To: Anne@example.org\r\n\r\n")
    result = digest("subscribers", "erase", "-c", str(cfg), "Anne@Example.org")
    assert result.exit_code == 0, result.output
    assert not dry.exists() and not old.exists()
    db = sqlite3.connect(journal)
    assert [r[0] for r in db.execute("SELECT key FROM recipient")] == ["bob@example.org"]
    db.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("subscribers.sqlite*"))
    assert b"anne@example.org" not in raw.lower()
    stats = digest("subscribers", "stats", "-c", str(cfg)).output
    assert "unsubscribed 0" in stats and re.search(rf"(?m)^{DAY} +1 ", stats)  # the letter's count stays, anonymous
    again = digest("subscribers", "import", "-c", str(cfg), str(csv))
    assert "0 added" in again.output and "erased on request" in again.output
    assert "subscribed 1 ·" in digest("subscribers", "stats", "-c", str(cfg)).output


def test_mask_hides_most_of_the_address() -> None:
    assert mask("anne.martin@example.org") == "a***n@e***e.org"
    assert "anne" not in mask("anne@example.org")


# --- sending from the store ------------------------------------------------------------------------------------


@dataclass
class Envelopes(Recorder):
    """Records each message's envelope sender; `during` runs at the Nth message (to unsubscribe someone)."""

    senders: dict[str, str] = field(default_factory=dict)
    during: dict[int, object] = field(default_factory=dict)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.senders[envelope.rcpt_tos[0]] = str(envelope.mail_from)
        action = self.during.get(len(self.received) + 1)
        if callable(action):
            action()
        return await super().handle_DATA(server, session, envelope)


def fill_store(tmp_path: Path, count: int) -> None:
    with Subscribers(tmp_path / "subscribers.sqlite") as store:
        for number in range(count):
            store.add(f"user{number:03d}@example.org", f"Abonné {number}")


def test_send_list_without_a_file_sends_to_the_stores_subscribed_with_verp(tmp_path: Path, built: Path) -> None:
    recorder = Envelopes()
    with Sink(recorder) as sink:
        cfg = setup(tmp_path, built, sink.port, 'return_path = "lettre-retour@cites-unies-france.org"\nverp = true\n')
        fill_store(tmp_path, 5)
        with Subscribers(tmp_path / "subscribers.sqlite") as store:
            store.unsubscribe("user002@example.org", "test", Means.REMOVE)
        dry = digest("send", "-c", str(cfg), "--list", "--dry-run")
        assert dry.exit_code == 0 and "Dry run: 4 copies written" in dry.output, dry.output
        result = digest("send", "-c", str(cfg), "--yes", "--list")
        assert result.exit_code == 0, result.output
    assert sorted(recorder.counts()) == ["user000@example.org", "user001@example.org", "user003@example.org",
                                         "user004@example.org"]
    sender = recorder.senders["user001@example.org"]
    expected = links.verp_sender("lettre-retour@cites-unies-france.org", SECRET.encode(), LIST,
                                       "user001@example.org")
    assert sender == expected and sender.startswith("lettre-retour+") and len(sender.split("@")[0]) <= 64
    assert "user001" not in sender  # the envelope does not show the address
    assert len(set(recorder.senders.values())) == 4


def test_a_csv_send_leaves_out_who_the_store_has_as_gone(tmp_path: Path, built: Path) -> None:
    with Sink() as sink:
        cfg = setup(tmp_path, built, sink.port)
        fill_store(tmp_path, 3)
        with Subscribers(tmp_path / "subscribers.sqlite") as store:
            store.set_status("user001@example.org", Status.BOUNCED, "5.1.1", Means.BOUNCE)
        csv = write_csv(tmp_path / "s.csv", ["email"] + [f"user{i:03d}@example.org" for i in range(3)])
        result = digest("send", "-c", str(cfg), "--yes", "--list", str(csv))
        assert result.exit_code == 0, result.output
        assert "1 left out: unsubscribed, bounced or complained" in result.output
    assert sorted(sink.recorder.counts()) == ["user000@example.org", "user002@example.org"]


def test_an_unsubscribe_during_a_send_is_honoured_within_a_hundred_messages(tmp_path: Path, built: Path) -> None:
    store_path = tmp_path / "subscribers.sqlite"

    def leave() -> None:
        with Subscribers(store_path) as store:
            store.leave("user150@example.org", "one-click (RFC 8058)", Means.ONE_CLICK, letter=DAY)

    recorder = Envelopes(during={20: leave})
    with Sink(recorder) as sink:
        cfg = setup(tmp_path, built, sink.port)
        fill_store(tmp_path, 250)
        result = digest("send", "-c", str(cfg), "--yes", "--list")
        assert result.exit_code == 0, result.output
        assert "1 left the list while the send ran" in result.output
    counts = recorder.counts()
    assert "user150@example.org" not in counts and len(counts) == 249


def test_send_status_shows_what_happened_to_the_letter_afterwards(tmp_path: Path, built: Path) -> None:
    cfg = setup(tmp_path, built, 25)
    fill_store(tmp_path, 3)
    with Subscribers(tmp_path / "subscribers.sqlite") as store:
        store.leave("user000@example.org", "one-click (RFC 8058)", Means.ONE_CLICK, letter=DAY)
        store.set_status("user001@example.org", Status.BOUNCED, "5.1.1", Means.BOUNCE, letter=DAY)
    result = digest("send", "-c", str(cfg), "--status")
    assert "Since: unsubscribed 1 · bounced 1 · temporary failures 0 · complained 0" in result.output
    stats = digest("subscribers", "stats", "-c", str(cfg))
    assert re.search(rf"(?m)^{DAY} +1 +1 +0 +0$", stats.output)


def test_the_store_is_readable_by_its_owner_only_and_a_name_cannot_break_a_header(tmp_path: Path) -> None:
    cfg = config_file(tmp_path)
    assert digest("subscribers", "add", "-c", str(cfg), "eve@example.org", "--name", "Eve\r\nBcc: x@example.net"
                  ).exit_code == 0
    assert (tmp_path / "subscribers.sqlite").stat().st_mode & 0o777 == 0o600
    with Subscribers(tmp_path / "subscribers.sqlite") as store:
        name = store.get("eve@example.org").name  # type: ignore[union-attr]
    assert "\r" not in name and "\n" not in name


def test_send_list_without_a_file_and_without_a_store_says_what_to_do(tmp_path: Path, built: Path) -> None:
    cfg = setup(tmp_path, built, 25)
    result = digest("send", "-c", str(cfg), "--yes", "--list")
    assert result.exit_code == 2 and "digest subscribers import" in result.output


def test_an_imported_header_cell_is_defused_in_the_export_too(tmp_path: Path) -> None:
    cfg = config_file(tmp_path)
    csv = write_csv(tmp_path / "a.csv", ['email;=HYPERLINK("https://evil.example/");+ville',
                                         "anne@example.org;x;Lyon"])
    assert digest("subscribers", "import", "-c", str(cfg), str(csv)).exit_code == 0
    out = tmp_path / "export.csv"
    assert digest("subscribers", "export", "-c", str(cfg), str(out)).exit_code == 0
    header = out.read_text(encoding="utf-8-sig").splitlines()[0].split(";")
    assert header[-2:] == ["'+ville", "\"'=HYPERLINK(\"\"https://evil.example/\"\")\""], header  # quoted, defused
