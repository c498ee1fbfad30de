"""Never the same item twice: a later letter leaves out what an earlier one in the outbox carried, unless pinned."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

from click.testing import CliRunner

from digest import config, letterfolder, pipeline
from digest.audience.recipients import Recipient
from digest.cli import main
from digest.delivery import journal

from .conftest import NEWS_AND_EVENTS

NOVEMBER = date(2025, 11, 20)
DECEMBER = date(2025, 12, 15)
NEWS = """title;url;date
Atelier Sénégal;https://e.org/senegal;14/11/2025
Fonds Vietnam;https://e.org/vietnam;18/11/2025
Assises frontalières;https://e.org/assises?utm_source=rss;19/11/2025
Conseil mondial CGLU;https://e.org/cglu;02/12/2025
Décryptages thématiques;https://e.org/decryptages;10/12/2025
"""
EVENTS = """title;url;start
Webinaire #3;https://e.org/webinaire-3;26/03/2026 10:00
"""


def write(write_config: Callable[..., Path], december_issue: str | None = None) -> Path:
    files: dict[str, str | bytes] = {"news.csv": NEWS, "events.csv": EVENTS}
    if december_issue is not None:
        files["issues/2025-12.toml"] = december_issue
    return write_config(NEWS_AND_EVENTS, files=files)


def list_send_began(cfg: config.Config, day: date, state: str = "sent") -> None:
    """The journal of a list send of `day` in which one subscriber's message is in `state`."""
    reader = Recipient("lecteur@example.org", "Lecteur")
    with journal.Journal(journal.folder_for(cfg, day)) as opened:
        opened.add([reader])
        opened.before(reader, "<id@example.org>")
        opened.after(reader, state, 250 if state == "sent" else 450, "test")


def titles(outbox: Path, day: date) -> list[str]:
    data = json.loads((outbox / day.isoformat() / "digest.json").read_text(encoding="utf-8"))
    return [i["title"] for s in data["sections"] for i in s["items"]]


def test_november_then_december_repeats_nothing_but_the_pinned_item(write_config: Callable[..., Path],
                                                                     tmp_path: Path) -> None:
    pin = 'pin = ["https://e.org/vietnam"]\n'
    cfg = config.load(write(write_config, december_issue=pin))
    outbox = tmp_path / "outbox"
    pipeline.build(cfg, NOVEMBER, outbox)
    assert titles(outbox, NOVEMBER) == ["Assises frontalières", "Fonds Vietnam", "Atelier Sénégal", "Webinaire #3"]
    list_send_began(cfg, NOVEMBER)
    report = pipeline.build(cfg, DECEMBER, outbox, sends=journal.sends(cfg))
    # Assises (the same page, without its tracking) was sent in November: left out. Vietnam was too, but
    # December pins it. (Atelier, of 14 November, is outside December's 31 days.) The webinar is still to
    # come: an agenda announces it again (its section repeats by default).
    assert titles(outbox, DECEMBER) == ["Fonds Vietnam", "Décryptages thématiques", "Conseil mondial CGLU",
                                        "Webinaire #3"]
    assert report.prepared.already_sent == 1
    assert ("1 item(s) already sent in an earlier letter left out (sent on 2025-11-20; --include-sent keeps them)"
            in report.prepared.notes)
    pinned = json.loads((outbox / "2025-12-15" / "digest.json").read_text(encoding="utf-8"))
    assert pinned["sections"][0]["items"][0]["pinned"] is True


def test_a_section_with_repeat_false_sends_an_event_once(write_config: Callable[..., Path],
                                                         tmp_path: Path) -> None:
    from .conftest import SECTIONS

    sections = SECTIONS.replace('horizon_days = 180', 'horizon_days = 180\nrepeat = false')
    cfg = config.load(write_config(NEWS_AND_EVENTS, sections=sections, files={"news.csv": NEWS, "events.csv": EVENTS}))
    assert [s.repeat for s in cfg.sections] == [False, False]
    outbox = tmp_path / "outbox"
    pipeline.build(cfg, NOVEMBER, outbox)
    list_send_began(cfg, NOVEMBER)
    pipeline.build(cfg, DECEMBER, outbox, sends=journal.sends(cfg))
    assert "Webinaire #3" not in titles(outbox, DECEMBER)


def test_rebuilding_a_letter_does_not_leave_out_its_own_items(write_config: Callable[..., Path],
                                                              tmp_path: Path) -> None:
    cfg = config.load(write(write_config))
    outbox = tmp_path / "outbox"
    pipeline.build(cfg, DECEMBER, outbox)  # a later letter already built (out of order) does not count either
    first = pipeline.build(cfg, NOVEMBER, outbox)
    again = pipeline.build(cfg, NOVEMBER, outbox)
    assert first.prepared.already_sent == again.prepared.already_sent == 0
    assert len(titles(outbox, NOVEMBER)) == 4


def test_include_sent_keeps_them_and_the_build_says_how_many_it_left_out(write_config: Callable[..., Path],
                                                                         tmp_path: Path) -> None:
    path = write(write_config)
    runner = CliRunner()
    assert runner.invoke(main, ["build", "-c", str(path), "--date", "2025-11-20"]).exit_code == 0
    list_send_began(config.load(path), NOVEMBER)
    normal = runner.invoke(main, ["build", "-c", str(path), "--date", "2025-12-15"])
    assert normal.exit_code == 0, normal.output
    assert "2 item(s) already sent in an earlier letter left out (sent on 2025-11-20;" in normal.stdout
    assert len(titles(tmp_path / "outbox", DECEMBER)) == 3  # two December news and the webinar, still to come
    everything = runner.invoke(main, ["build", "-c", str(path), "--date", "2025-12-15", "--include-sent"])
    assert everything.exit_code == 0 and "already sent" not in everything.stdout
    assert len(titles(tmp_path / "outbox", DECEMBER)) == 5


def test_a_merged_copy_counts_as_sent(tmp_path: Path) -> None:
    folder = tmp_path / "2025-11-20"
    folder.mkdir()
    record = {"featured": [{"uid": "f1", "url": "https://e.org/featured"}],
              "sections": [{"items": [{"uid": "a", "url": "https://e.org/a",
                                       "also_in": [{"source": "members", "uid": "b", "url": "https://m.org/b"}]}]}]}
    (folder / "digest.json").write_text(json.dumps(record), encoding="utf-8")
    sent = letterfolder.load_history(tmp_path, NOVEMBER.replace(day=21), lambda day: True)
    assert sent.uids == {"f1", "a", "b"}
    assert sent.urls == {"https://e.org/featured", "https://e.org/a", "https://m.org/b"}
    assert sent.letters == (NOVEMBER,)


def test_an_unreadable_record_is_a_warning_naming_it(tmp_path: Path) -> None:
    (tmp_path / "2025-10-20").mkdir()
    (tmp_path / "2025-10-20" / "digest.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "archives").mkdir()  # not a letter's folder: ignored
    sent = letterfolder.load_history(tmp_path, NOVEMBER, lambda day: True)
    assert not sent.uids and not sent.letters
    assert len(sent.problems) == 1 and "2025-10-20/digest.json" in str(sent.problems[0])
    assert "may repeat" in str(sent.problems[0])


def test_only_a_letter_whose_list_send_began_counts_as_sent(write_config: Callable[..., Path],
                                                            tmp_path: Path) -> None:
    path = write(write_config)
    cfg = config.load(path)
    runner = CliRunner()
    # A trial build of November, then a list send where no server accepted it yet (deferred): nothing was sent.
    assert runner.invoke(main, ["build", "-c", str(path), "--date", "2025-11-20"]).exit_code == 0
    list_send_began(cfg, NOVEMBER, state="deferred")
    december = runner.invoke(main, ["build", "-c", str(path), "--date", "2025-12-15"])
    assert december.exit_code == 0 and "already sent" not in december.stdout
    assert len(titles(tmp_path / "outbox", DECEMBER)) == 5
    # The draft says what it leaves out, and from which letter, once November was accepted by a server.
    list_send_began(cfg, NOVEMBER)
    drafted = runner.invoke(main, ["draft", "-c", str(path), "--date", "2025-12-15"])
    assert drafted.exit_code == 0, drafted.output
    assert "2 item(s) already sent in an earlier letter left out (sent on 2025-11-20;" in drafted.stdout
