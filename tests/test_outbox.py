"""The outbox: every file of a letter, written whole or not at all, the same bytes for the same inputs."""

from __future__ import annotations

import email
import email.policy
import json
import os
from pathlib import Path

import pytest

from digest import config, files, pipeline

from .conftest import LETTER_DATE, ROOT

FILES = {"letter.html", "letter.txt", "letter.mjml", "letter.eml", "digest.json"}


@pytest.fixture
def built(tmp_path: Path) -> Path:
    pipeline.build(config.load(ROOT / "sources.toml"), LETTER_DATE, tmp_path)
    return tmp_path / "2025-11-20"


def test_a_build_writes_every_file_and_no_temporary(built: Path) -> None:
    assert {p.name for p in built.iterdir()} >= FILES
    assert not [p for p in built.iterdir() if p.name.endswith(".tmp")]


def test_same_inputs_same_bytes(built: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    pipeline.build(config.load(ROOT / "sources.toml"), LETTER_DATE, again)
    for name in FILES:
        assert (again / "2025-11-20" / name).read_bytes() == (built / name).read_bytes(), name


def test_eml_is_multipart_alternative_text_first_with_one_click_unsubscribe(built: Path) -> None:
    raw = (built / "letter.eml").read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert message["Subject"] == "La Lettre de CUF – novembre 2025"
    assert message["From"] == "Cités Unies France <lettre@cites-unies-france.org>"
    assert message["Date"] and message["Message-ID"].endswith("@cites-unies-france.org>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # unfolded, so Gmail reads it: one physical line holding the https and the mailto targets
    line = next(row for row in raw.split(b"\r\n") if row.startswith(b"List-Unsubscribe:"))
    assert line == (b"List-Unsubscribe: <https://cites-unies-france.org/lettre/desinscription>, "
                    b"<mailto:desinscription@cites-unies-france.org?subject=unsubscribe>")
    assert max(len(row) for row in raw.split(b"\r\n") if not row.startswith(b"List-Unsubscribe")) <= 78
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert html.replace("\r\n", "\n").rstrip("\n") == (built / "letter.html").read_text(encoding="utf-8").rstrip()
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert text.replace("\r\n", "\n") == (built / "letter.txt").read_text(encoding="utf-8")


def test_digest_json_lists_every_selected_item_with_every_field(built: Path) -> None:
    data = json.loads((built / "digest.json").read_text(encoding="utf-8"))
    assert data["date"] == "2025-11-20" and data["subject"] == "La Lettre de CUF – novembre 2025"
    assert [s["id"] for s in data["sections"]] == ["cuf", "agenda", "collectivites", "breves"]
    fields = {"uid", "source", "title", "url", "date", "summary", "image", "place", "start", "end", "all_day",
              "pinned", "also_in"}
    for section in data["sections"]:
        for item in section["items"]:
            assert set(item) == fields


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "letter.html"
    files.write_atomic(target, b"old letter")

    def crash(src: str, dst: str) -> None:
        raise KeyboardInterrupt  # as if Ctrl-C came between writing and renaming

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        files.write_atomic(target, b"new letter, half written")
    assert target.read_bytes() == b"old letter"
    assert [p.name for p in tmp_path.iterdir()] == ["letter.html"]
