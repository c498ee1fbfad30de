"""The look of every page digest serves: one stylesheet (digest/web/static/digest.css) whose colour tokens are the
letter's [look], and the favicon made from the letter's initial in its header colour.

A colour the team chose for the letter may be too light for a page's white button text: the token takes the
nearest shade that passes WCAG AA (4.5:1), so a branded look never makes a page fail its contrast.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from functools import cache, lru_cache
from importlib import resources

from digest import look
from digest.config import LookConfig

HEX = re.compile(r"#[0-9a-fA-F]{6}")
WHITE = "#ffffff"
PAGE = "#eef1f4"  # the darkest page background: a token readable on it is readable on white too
AA = 4.5


@cache
def _sheet() -> str:
    return (resources.files("digest.web") / "static" / "digest.css").read_text(encoding="utf-8")


def _readable(colour: str) -> str:
    """The colour, or the nearest shade that reads on the pages' backgrounds and carries white text."""
    if not HEX.fullmatch(colour):
        return "#1b4f8f"  # never write into CSS what is not a colour
    return colour if look.contrast(colour, PAGE) >= AA else look.nearest_passing(colour, PAGE, AA)


def tokens(config: LookConfig | None) -> str:
    """The colour tokens of a [look], as CSS custom properties."""
    chosen = config or LookConfig()
    values = {"header": _readable(chosen.header), "accent": _readable(chosen.accent), "link": _readable(chosen.link),
              "button": _readable(chosen.button)}
    return ":root { " + " ".join(f"--c-{name}: {value};" for name, value in values.items()) + " }\n"


@cache
def sheet(config: LookConfig | None) -> str:
    """The whole stylesheet: the components, then the tokens of this look over their defaults (made once per look:
    every page of `digest serve` carries it)."""
    return _sheet() + tokens(config)


@lru_cache(maxsize=8)
def source_hash(css: str) -> str:
    """The Content-Security-Policy source that allows exactly this inline style."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii") + "'"


@cache
def favicon(title: str, colour: str) -> bytes:
    """An icon (.ico: 16, 32 and 48 px) with the letter's initial, white on its header colour."""
    from PIL import Image, ImageDraw, ImageFont

    background = _readable(colour)
    initial = next((c for c in title if c.isalnum()), "D").upper()
    size = 96
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, size - 1, size - 1), radius=18, fill=background)
    font = ImageFont.load_default(size=66)
    draw.text((size / 2, size / 2), initial, fill=WHITE, font=font, anchor="mm")
    out = io.BytesIO()
    image.save(out, format="ICO", sizes=[(16, 16), (32, 32), (48, 48)])
    return out.getvalue()
