"""Deliverability: the default letter, as built and as each subscriber gets it, through SpamAssassin's local rules."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import main
from tests import programs
from tests.conftest import ROOT, SAMPLES
from tests.send_support import DAY, SECRET

LIMIT = 1.0


def score(program: str, eml: Path) -> tuple[float, str]:
    """SpamAssassin's score of a message with local rules only (-L: no network tests), and its report."""
    run = subprocess.run([program, "-L", "-t"], input=eml.read_bytes(), capture_output=True, check=True,
                         timeout=60)
    report = run.stdout.decode("utf-8", "replace")
    match = re.search(r"Content analysis details:\s+\((-?[\d.]+) points", report)
    assert match, report[-2000:]
    return float(match.group(1)), report[match.start():]


def test_the_default_letter_scores_under_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    program = programs.need("spamassassin")
    config = tmp_path / "sources.toml"
    config.write_text((ROOT / "sources.toml").read_text(encoding="utf-8")
                      .replace('url = "samples/', f'url = "{SAMPLES}/'), encoding="utf-8")
    runner = CliRunner()
    built = runner.invoke(main, ["build", "-c", str(config)])
    assert built.exit_code == 0, built.output
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    dry = runner.invoke(main, ["send", "-c", str(config), "--list", str(SAMPLES / "subscribers.csv"), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    copies = sorted((tmp_path / "sends" / DAY / "dry-run").glob("*.eml"))
    assert copies
    for eml in (tmp_path / "outbox" / DAY / "letter.eml", copies[0]):
        points, report = score(program, eml)
        assert points < LIMIT, f"{eml.name} scores {points}:\n{report}"
