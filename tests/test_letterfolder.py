"""The letter's folder (outbox/<date>/) has one owner: the build writes and reads it without the send's code, and
a letter whose record was damaged stays on the web archive and is still published."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from digest import config, letterfolder, pipeline
from digest.web import publish

from .conftest import LETTER_DATE, ROOT

CAPABILITIES = ("digest.delivery", "digest.review", "digest.edit", "digest.audience", "digest.web", "digest.store",
                "digest.mail", "digest.contribute", "digest.cli")


def test_a_build_and_the_letters_states_load_no_capability(tmp_path: Path) -> None:
    """A real process that builds a letter into an outbox (history read), reads it back and lists the letters'
    states loads no delivery, review, edit, audience or web module: the send's state comes in as a callable."""
    code = f"""if True:
        import sys
        from datetime import date
        from pathlib import Path
        from digest import config, letterfolder, pipeline
        cfg = config.load(Path({str(ROOT / "sources.toml")!r}))
        out = Path({str(tmp_path / "outbox")!r})
        pipeline.build(cfg, date(2025, 11, 20), out)
        pipeline.build(cfg, date(2025, 11, 27), out)
        states = letterfolder.every(cfg, out, letterfolder.no_sends)
        assert [s.stage for s in states] == [letterfolder.Stage.BUILT] * 2, states
        print("\\n".join(sorted(sys.modules)))
    """
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = result.stdout.split()
    assert "digest.renderer" in loaded and "digest.selector" in loaded  # the check looked at a real build
    assert [name for name in loaded if ".".join(name.split(".")[:2]) in CAPABILITIES] == []


def test_a_letter_whose_record_is_damaged_stays_in_the_archive_and_is_published(tmp_path: Path) -> None:
    cfg = config.load(ROOT / "sources.toml")
    out = tmp_path / "outbox"
    later = LETTER_DATE.replace(day=27)
    pipeline.build(cfg, LETTER_DATE, out, include_sent=True)
    (out / LETTER_DATE.isoformat() / "digest.json").write_text("{damaged", encoding="utf-8")
    pipeline.build(cfg, later, out, include_sent=True)
    assert [letter.date for letter in letterfolder.letters(out)] == [later]  # the damaged one does not read back
    index = (out / "index.html").read_text(encoding="utf-8")
    assert '<a href="2025-11-20/letter.html">2025-11-20</a> <span>20\u00a0novembre\u00a02025 · 0\u00a0article' in index
    names = publish.plan(out, {"2025-11-20", "2025-11-27"}).names()
    assert "2025-11-20/letter.html" in names and "2025-11-27/letter.txt" in names
    assert not any(name.endswith(("digest.json", "inputs.json")) for name in names)


def test_a_letter_reads_back_as_it_was_built(tmp_path: Path) -> None:
    built = pipeline.build(config.load(ROOT / "sources.toml"), LETTER_DATE, tmp_path)
    letter = letterfolder.read_built(tmp_path, LETTER_DATE)
    assert (letter.subject, letter.html, letter.text) == (built.rendered.subject, built.rendered.html,
                                                          built.rendered.text)
    assert letter.item_count == sum(len(s.items) for s in built.letter.sections) > 0
    assert letter.web_url.endswith("/2025-11-20/letter.html")
