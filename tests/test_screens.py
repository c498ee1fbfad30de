"""Screens kept honest: every page digest serves, at 1400, 1024 and 390 px, looks as its screenshot in
docs/screens/ (made by `make screens`). A layout that breaks (a column that drops, a button that wraps, a form
that loses its style) changes far more than the tolerance; text rendered a hair differently does not.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops

from tests.conftest import ROOT
from tests.test_browser import CHROMIUM, require_browser

BASELINES = ROOT / "docs" / "screens"
SHRINK = 4  # compared at a quarter of their size: anti-aliasing noise averages out, a moved block does not
LEVEL = 32  # a pixel differs when a channel moved by more than this
TOLERANCE = 0.015  # the share of (shrunk) pixels that may differ


def _screens() -> Any:
    spec = importlib.util.spec_from_file_location("screens", ROOT / "scripts" / "screens.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["screens"] = module
    spec.loader.exec_module(module)
    return module


def differing(one: Path, other: Path) -> float:
    """The share of pixels that differ between two screenshots (1.0 when their sizes differ)."""
    first, second = Image.open(one).convert("RGB"), Image.open(other).convert("RGB")
    if first.size != second.size:
        return 1.0
    size = (first.width // SHRINK, first.height // SHRINK)
    diff = ImageChops.difference(first.resize(size), second.resize(size)).convert("L")
    changed = sum(count for level, count in enumerate(diff.histogram()) if level > LEVEL)
    return changed / (size[0] * size[1])


def test_every_page_looks_as_its_screenshot(tmp_path: Path) -> None:
    require_browser(CHROMIUM)
    shots = list(_screens().photographs(tmp_path, str(CHROMIUM)))
    assert len(shots) == 24
    for name, width, path in shots:
        baseline = BASELINES / path.name
        assert baseline.is_file(), f"docs/screens/{path.name} is missing: run `make screens`"
        share = differing(path, baseline)
        assert share <= TOLERANCE, (f"{name} at {width} px differs from docs/screens/{path.name} by {share:.1%}: "
                                    "a layout changed; if it is meant, run `make screens` and look at the pictures")


def test_a_moved_block_is_seen(tmp_path: Path) -> None:
    """The comparison is not blind: a picture with a block moved differs past the tolerance."""
    base = Image.new("RGB", (400, 300), "white")
    moved = base.copy()
    base.paste((22, 54, 95), (0, 0, 400, 60))  # a header band...
    moved.paste((22, 54, 95), (0, 40, 400, 100))  # ...pushed down by 40 px
    base.save(tmp_path / "a.png")
    moved.save(tmp_path / "b.png")
    assert differing(tmp_path / "a.png", tmp_path / "b.png") > TOLERANCE
    assert differing(tmp_path / "a.png", tmp_path / "a.png") == 0.0
