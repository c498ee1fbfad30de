"""Golden test of the default letter: digest.json and letter.txt as they were reviewed.

After an intended change, regenerate with `DIGEST_REGEN_GOLDEN=1 pytest tests/test_golden.py`
and review the diff of tests/golden/ before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from digest import __version__, config, pipeline

from .conftest import LETTER_DATE, ROOT

GOLDEN = Path(__file__).parent / "golden" / "default"


@pytest.mark.parametrize("name", ["digest.json", "letter.txt"])
def test_default_letter_matches_golden(tmp_path: Path, name: str) -> None:
    pipeline.build(config.load(ROOT / "sources.toml"), LETTER_DATE, tmp_path)
    # The version that built it is recorded (and changes with every release); the rest must not change.
    produced = (tmp_path / "2025-11-20" / name).read_text(encoding="utf-8").replace(
        f'"digest_version": "{__version__}"', '"digest_version": "<this version>"')
    golden = GOLDEN / name
    if os.environ.get("DIGEST_REGEN_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(produced, encoding="utf-8")
    assert golden.is_file(), f"no golden file {golden}: run with DIGEST_REGEN_GOLDEN=1 once and review it"
    assert produced == golden.read_text(encoding="utf-8"), f"{name} differs from {golden}"
