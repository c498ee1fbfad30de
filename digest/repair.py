"""Repair of damaged text from sources: mojibake ("coopÃ©ration", "lâ€™été") fixed by ftfy, controls removed.

ftfy is slow (about 1 ms per kilobyte) and almost every text is sound, so it runs only on text holding a pattern
that mojibake leaves: a Latin-1 letter that starts a UTF-8 sequence followed by one that continues it, C1
controls, the replacement character, ligatures or full-width forms. HTML entities are left alone here: they are
decoded once, by the HTML reader, never a second time.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ftfy

# UTF-8 read as Latin-1/cp1252: a lead byte (Â..ô) then a continuation byte (U+0080..U+00BF, or what cp1252 puts
# at 0x80..0x9F: € ‚ ƒ „ … † ‡ ˆ ‰ Š ‹ Œ Ž ‘ ’ “ ” • – — ˜ ™ š › œ ž Ÿ).
_CONTINUATION = (
    "[\u0080-\u00bf\u20ac\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152"
    "\u017d\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u017e\u0178]"
)
# A lead byte needs as many continuation bytes as its sequence is long: "é" + no-break space, so common in
# French typography ("coopéré\u00a0!"), is sound text, while "Ã©" (é) and "â€™" (’) are mojibake.
SUSPECT = re.compile(
    f"[\u00c2-\u00df]{_CONTINUATION}|[\u00e0-\u00ef]{_CONTINUATION}{{2}}|[\u00f0-\u00f4]{_CONTINUATION}{{3}}"
    "|[\u0080-\u009f\ufffd\ufb00-\ufb06\uff01-\uff5e]"
)


@cache
def _config() -> ftfy.TextFixerConfig:
    """ftfy's settings; ftfy is imported on the first suspect text only (~45 ms a build otherwise)."""
    import ftfy

    return ftfy.TextFixerConfig(
        unescape_html=False,  # entities are decoded once by the HTML reader; decoding here would do it twice
        uncurl_quotes=False,  # French typography wants its ’ and « » as they are
        explain=False,
    )


def repair(text: str) -> str:
    """The text with mojibake undone and NFC-normalised; sound text comes back unchanged, quickly."""
    if text.isascii():
        return text
    if SUSPECT.search(text):
        import ftfy

        return ftfy.fix_text(text, _config())
    return unicodedata.normalize("NFC", text)
