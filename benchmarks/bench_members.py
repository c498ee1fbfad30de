"""Two editions (issue 35): the members' edition of a full month under Gmail's clipping line with room to spare,
and a list send of 10 000 addresses, 30 % of them members, at the rate of a one-edition send.

The month is the renderer tests' heaviest (40 CUF news with pictures, 15 member news, 10 events, 5 briefs), its
member news and briefs for members only: the public edition leaves them out, the members' one carries everything.
The sends go to the chunked aiosmtpd sink of bench_send.py, in its own process, one after the other.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_send import DAY, build, free_port, people, send_through_sink  # noqa: E402

from digest import renderer  # noqa: E402
from tests.test_renderer import TEMPLATES, full_month  # noqa: E402

COUNT = 10_000
MEMBERS_SHARE = 0.3
ROOM = renderer.WARN_BYTES  # "room to spare": under the size where check starts warning (90 KB)
RATE_SHARE = 0.9  # the two-edition send's rate, at least this share of the one-edition send's


def sizes() -> tuple[int, int]:
    """The public and members' editions of the full month, in bytes of HTML."""
    month = full_month()
    sections = tuple(replace(s, items=tuple(replace(i, audience="members") for i in s.items))
                     if s.id in ("collectivites", "breves") else s for s in month.sections)
    month = replace(month, sections=sections)
    public = renderer.render(month.public(), TEMPLATES).html.encode("utf-8")
    members = renderer.render(month.members(), TEMPLATES).html.encode("utf-8")
    return len(public), len(members)


def main() -> int:
    """Print the figures; exit 1 when a target is missed."""
    os.environ.setdefault("DIGEST_SECRET", "benchmark-secret-0123456789abcdef")
    public, members = sizes()
    fits = members < ROOM
    print(f"full month: public edition {public / 1024:.1f} KB, members' edition {members / 1024:.1f} KB of HTML "
          f"(target < {ROOM / 1024:.0f} KB; Gmail clips at ~102 KB)")
    with tempfile.TemporaryDirectory() as tmp:
        one_port, two_port = free_port(), free_port()
        one_folder, two_folder = Path(tmp) / "one", Path(tmp) / "two"
        one_folder.mkdir()
        two_folder.mkdir()
        one, two = build(one_folder, one_port), build(two_folder, two_port)
        two.write_text(two.read_text().replace('name = "breves"\nsection = "breves"\n',
                                               'name = "breves"\nsection = "breves"\naudience = "members"\n'))
        from click.testing import CliRunner

        from digest.cli import main as cli

        assert CliRunner().invoke(cli, ["build", "-c", str(two), "--date", DAY.isoformat()]).exit_code == 0
        assert (two_folder / "outbox" / DAY.isoformat() / "adherents" / "letter.html").is_file()
        plain = people(COUNT, "one")
        mixed = [replace(r, member="Ville de Nancy") if i % 10 < MEMBERS_SHARE * 10 else r
                 for i, r in enumerate(people(COUNT, "two"))]
        one_rate, one_once = send_through_sink(one, one_port, plain)
        two_rate, two_once = send_through_sink(two, two_port, mixed)
    print(f"one edition:  {COUNT} in {COUNT / one_rate:.1f} s = {one_rate:,.0f} messages/s (once: {one_once})")
    print(f"two editions: {COUNT} ({MEMBERS_SHARE:.0%} members) in {COUNT / two_rate:.1f} s = {two_rate:,.0f} "
          f"messages/s, {two_rate / one_rate:.0%} of one edition's (target {RATE_SHARE:.0%}; once: {two_once})")
    ok = fits and one_once and two_once and two_rate >= RATE_SHARE * one_rate
    print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
