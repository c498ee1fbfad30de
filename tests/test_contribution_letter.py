"""An accepted contribution is in the letter (issue 22's path, second pass: issue 32): the next letter whose list
send has not begun, pinned whatever its section's dates, the desk knowing the letter's state, an empty month, the
withdrawal link. The month's commands run through the installed `digest`, the list send through a real aiosmtpd."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from digest.contribute.states import State
from digest.contribute.store import Contributions
from digest.store.caps import Limits
from tests import installed
from tests.preview_support import running
from tests.send_support import DAY, SECRET, config_text
from tests.smtp_sink import Sink
from tests.test_preview import request

NEXT = "2025-12-18"  # the letter after the one of DAY (2025-11-20)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Sink]]:
    """A project whose contributions go into the CUF news (a 31-day window), and the SMTP sink it sends through."""
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    with Sink() as sink:
        (tmp_path / "sources.toml").write_text(config_text(sink.port) + """
[contribute]
url = "https://cites-unies-france.org/lettre/contribuer"
section = "cuf"
""", encoding="utf-8")
        yield tmp_path / "sources.toml", sink


def proposed(cfg: Path, title: str, day: str = "01/06/2025") -> int:
    """A contribution confirmed by its contact, as the form and the mail's button leave it; its number."""
    fields = {"email": "anne.martin@nancy.fr", "contact": "Anne Martin", "authority": "Ville de Nancy",
              "title": title, "text": "Un atelier a réuni les deux villes.", "day": day}
    with Contributions(cfg.parent / "subscribers.sqlite") as store:
        number = store.receive(fields, None, Limits(100))
        assert number is not None
        assert store.confirm(SECRET.encode(), "", store.link_token(number, timedelta(days=1))) is not None
    return number


def digest(*args: str) -> installed.Ran:
    return installed.run(*args)


def sent_to_the_list(cfg: Path) -> None:
    """The letter of DAY built and sent to one subscriber: its list send began."""
    assert digest("build", "-c", str(cfg), "--date", DAY).exit_code == 0
    assert digest("subscribers", "add", "lecteur@example.org", "-c", str(cfg)).exit_code == 0
    sent = digest("send", "--list", "--yes", "--date", DAY, "-c", str(cfg))
    assert sent.exit_code == 0, sent.output


def test_a_contribution_accepted_after_the_letter_went_out_is_in_the_next_one_whatever_its_date(
        project: tuple[Path, Sink]) -> None:
    cfg, _sink = project
    sent_to_the_list(cfg)
    number = proposed(cfg, "Nancy et Kanazawa : un atelier de cuisine")
    refused = digest("contributions", "accept", str(number), "--date", DAY, "-c", str(cfg))
    assert refused.exit_code == 2 and NEXT[:8] in refused.output and "Traceback" not in refused.output
    accepted = digest("contributions", "accept", str(number), "-c", str(cfg), "--item-date", "01/06/2025")
    assert accepted.exit_code == 0 and "2025-12.toml" in accepted.output, accepted.output
    assert not (cfg.parent / "issues" / "2025-11.toml").exists()  # never into the letter that went out
    with Contributions(cfg.parent / "subscribers.sqlite") as store:
        found = store.get_contribution(number)
    assert found is not None and found.status == State.ACCEPTED and found.letter == "2025-12"
    # the promise is true: the December letter carries it, although June is far outside the section's 31 days
    assert digest("build", "-c", str(cfg), "--date", NEXT).exit_code == 0
    record = json.loads((cfg.parent / "outbox" / NEXT / "digest.json").read_text(encoding="utf-8"))
    titles = [item["title"] for section in record["sections"] for item in section["items"]]
    assert "Nancy et Kanazawa : un atelier de cuisine" in titles
    assert digest("check", "-c", str(cfg), "--date", NEXT).output.count("hors des dates") == 0


def test_the_desk_of_a_letter_that_went_out_is_read_only_and_sends_contributions_to_the_next(
        project: tuple[Path, Sink]) -> None:
    cfg, _sink = project
    sent_to_the_list(cfg)
    number = proposed(cfg, "Une délégation de Kanazawa")
    with running(cfg, letter_date=date.fromisoformat(DAY)) as (_session, server):
        status, _headers, page = request(server.url)
        assert status == 200 and "went out on" in page and f"--date {NEXT[:8]}01" in page
        state = json.loads(request(server.url + "state")[2])
        words = {"token": server.desk.token, "op": "words", "subject": "Changé après l’envoi",
                 "version": state["issue_version"]}
        status, _headers, body = request(server.url + "action", words, headers={"Accept": "application/json"})
        assert status == 409 and "went out on" in json.loads(body)["message"]
        accept = {"token": server.desk.token, "op": "contrib-accept", "name": str(number),
                  "version": state["issue_version"], "date": "2025-12-02"}
        status, _headers, body = request(server.url + "action", accept, headers={"Accept": "application/json"})
        assert status == 200 and "December 2025" in json.loads(body)["message"].replace("\u00a0", " ")
    issue = (cfg.parent / "issues" / "2025-12.toml").read_text(encoding="utf-8")
    assert "Une délégation de Kanazawa" in issue and 'date = "02/12/2025"' in issue
    assert not (cfg.parent / "issues" / "2025-11.toml").exists()


def test_an_empty_month_opens_in_the_desk_and_a_contribution_goes_to_its_own_file(
        project: tuple[Path, Sink]) -> None:
    cfg, _sink = project
    text = cfg.read_text(encoding="utf-8")  # without the undated briefs, which are always news
    cfg.write_text(re.sub(r'\[\[source\]\]\nname = "breves"\nsection = "breves"\nurl = "[^"]*"\n', "", text),
                   encoding="utf-8")
    assert "breves.json" not in cfg.read_text(encoding="utf-8")
    empty = date(2031, 3, 10)  # no source has anything for it
    number = proposed(cfg, "Un jumelage renouvelé", day="")
    with running(cfg, letter_date=empty) as (shown, server):
        assert shown.snapshot.html is not None and shown.snapshot.error is None  # the letter, with empty sections
        assert any(f.check == "empty" and f.level == "error" for f in shown.snapshot.findings)
        state = json.loads(request(server.url + "state")[2])
        accept = {"token": server.desk.token, "op": "contrib-accept", "name": str(number),
                  "version": state["issue_version"]}
        status, _headers, body = request(server.url + "action", accept, headers={"Accept": "application/json"})
        assert status == 200, body  # no 409: the desk's change goes to the file of the letter on show
        assert "Un jumelage renouvelé" in (shown.snapshot.html or "")
    assert (cfg.parent / "issues" / "2031-03.toml").is_file()
    assert not (cfg.parent / "issues" / f"{date.today():%Y-%m}.toml").exists()
    drafted = digest("draft", "-c", str(cfg), "--date", "2031-04-10")
    assert drafted.exit_code == 0 and (cfg.parent / "issues" / "2031-04.toml").is_file(), drafted.output


def test_the_next_letter_skips_every_month_that_went_out(project: tuple[Path, Sink]) -> None:
    from digest import config
    from digest.contribute import moderate

    cfg, _sink = project
    loaded = config.load(cfg)
    sent_to_the_list(cfg)
    from digest.delivery import journal

    assert moderate.letter_for(loaded, date(2025, 11, 20), journal.sends(loaded)) == date(2025, 12, 1)
    assert moderate.letter_for(loaded, date(2025, 10, 20), journal.sends(loaded)) == date(2025, 10, 20)
