"""The letter's look without touching a template: its colours checked for contrast (WCAG 2.x) and its logo made fit
for e-mail (PNG or JPEG, twice its shown width for sharp screens, no larger than needed).

The colours come from `[look]` in sources.toml; the stock template reads them from the letter (`letter.look`).
Defaults give the stock letter byte for byte.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from digest.errors import ConfigError
from digest.i18n import _
from digest.model import Look

if TYPE_CHECKING:
    from datetime import date

    from digest.config import Config

TEXT, LARGE = 4.5, 3.0  # WCAG AA: body text; large text (19 px bold and up), buttons and other controls
WHITE, PAGE, DARK_PAGE = "#ffffff", "#ffffff", "#121820"  # what the stock template sets the colours on
MAX_LOGO_BYTES = 30 * 1024  # a logo heavier than this is a warning: a full month must stay under Gmail's clip
LOGO_FORMATS = {"PNG": "png", "JPEG": "jpg"}


def rgb(colour: str) -> tuple[int, int, int]:
    """#rgb or #rrggbb as three 0–255 values."""
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def luminance(colour: str) -> float:
    """WCAG 2.x relative luminance."""
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(v) for v in rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(one: str, other: str) -> float:
    """WCAG 2.x contrast ratio of two colours, 1 to 21."""
    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def nearest_passing(colour: str, background: str, ratio: float) -> str:
    """The shade of `colour` nearest to it (darker or lighter, toward black or white) that reaches `ratio` on
    `background`."""
    toward = (0, 0, 0) if luminance(background) > 0.18 else (255, 255, 255)
    start = rgb(colour)
    for step in range(1, 101):
        mixed = tuple(round(s + (t - s) * step / 100) for s, t in zip(start, toward, strict=True))
        shade = "#{:02x}{:02x}{:02x}".format(*mixed)
        if contrast(shade, background) >= ratio:
            return shade
    return "#000000" if toward == (0, 0, 0) else "#ffffff"


@dataclass(frozen=True)
class Verdict:
    """One colour of the look against the colour it is shown with (its text, or what it is written on)."""

    key: str  # the [look] key
    colour: str  # its value
    other: str  # the colour it meets: the page under a link, the white title on the header
    needed: float
    mode: str  # "light" or "dark"

    @property
    def ratio(self) -> float:
        """The WCAG contrast ratio of the pair."""
        return contrast(self.colour, self.other)

    @property
    def passes(self) -> bool:
        """Whether it reaches WCAG AA."""
        return self.ratio >= self.needed

    def words(self) -> str:
        """`[look] accent #ff9900 with #ffffff: 2.1:1, 3:1 needed (light mode); nearest passing: #c27400`."""
        said = _("[look] {key} {colour} with {other}: {ratio:.1f}:1, {needed:g}:1 needed ({mode})").format(
            key=self.key, colour=self.colour, other=self.other, ratio=self.ratio, needed=self.needed,
            mode=_("dark mode") if self.mode == "dark" else _("light mode"))
        if self.passes:
            return said
        return _("{said}; nearest passing: {nearest}").format(
                   said=said, nearest=nearest_passing(self.colour, self.other, self.needed))


def verdicts(look: Look) -> list[Verdict]:
    """Each colour of the look with the colour it meets, light mode then dark, and the ratio WCAG AA asks."""
    return [
        # The header band under the white title, and the items' titles (17 px) on the page: text, 4.5:1.
        Verdict("header", look.header, WHITE, TEXT, "light"),
        Verdict("accent", look.accent, PAGE, LARGE, "light"),  # section headings, 19 px bold, on the page
        Verdict("link", look.link, PAGE, TEXT, "light"),
        Verdict("button", look.button, WHITE, LARGE, "light"),  # a button's white words on its colour
        Verdict("accent_dark", look.accent_dark, DARK_PAGE, LARGE, "dark"),
        Verdict("link_dark", look.link_dark, DARK_PAGE, TEXT, "dark"),
    ]


def logo_file(path: Path, shown_width: int) -> tuple[bytes, str, int, int]:
    """The logo made fit for e-mail: (bytes, file extension, shown width, shown height). PNG or JPEG only (an
    e-mail client drops SVG), written at twice its shown width at most (sharp on high-density screens), never
    larger than the original; ConfigError naming the file and what to do otherwise."""
    if path.suffix.casefold() == ".svg":
        raise ConfigError([_("[look] logo: {path} is an SVG picture, which most e-mail clients (Gmail, Outlook) do "
                             "not show; export it as PNG (or JPEG) and name that file").format(path=path)])
    try:
        changed = path.stat().st_mtime_ns
    except OSError:
        changed = -1  # missing: _made says so
    return _made(path, changed, shown_width)


@functools.lru_cache(maxsize=8)  # the desk rebuilds on every click: the same logo is made once
def _made(path: Path, changed: int, shown_width: int) -> tuple[bytes, str, int, int]:
    """logo_file's work, once per file version (`changed`, its mtime) and width."""
    from PIL import Image, UnidentifiedImageError  # Pillow only for a letter with a logo

    if not path.is_file():
        raise ConfigError([_("[look] logo: {path} not found; give the path of a PNG or JPEG file, relative to "
                             "sources.toml, or an https:// address").format(path=path)])
    try:
        with Image.open(path) as image:
            kind = LOGO_FORMATS.get(image.format or "")
            if kind is None:
                raise ConfigError([_("[look] logo: {path} is a {kind} picture; give a PNG or JPEG file").format(
                                       path=path, kind=image.format)])
            image.load()
            width = min(shown_width, image.width)
            height = max(1, round(image.height * width / image.width))
            stored = min(image.width, width * 2)  # twice the shown width, never more than the original
            size = (stored, max(1, round(image.height * stored / image.width)))
            resized = image.resize(size, Image.Resampling.LANCZOS) if stored < image.width else image.copy()
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise ConfigError([_("[look] logo: {path} cannot be read as a picture ({exc}); give a PNG or JPEG file").format(
                               path=path, exc=exc)]) \
            from None
    out = io.BytesIO()
    if kind == "png":
        resized.save(out, "PNG", optimize=True)
    else:
        resized.convert("RGB").save(out, "JPEG", quality=85, optimize=True, progressive=True)
    return out.getvalue(), kind, width, height


def for_letter(cfg: Config, day: date) -> tuple[Look, dict[str, bytes]]:
    """The letter's look from [look], and the logo files to write beside the letter (name -> bytes): a local logo
    is made fit for e-mail and shown from the letter's folder under base_url; an https one is shown as it is."""
    table = cfg.look
    look = Look(header=table.header, accent=table.accent, link=table.link, button=table.button,
                accent_dark=table.accent_dark, link_dark=table.link_dark)
    if table.logo is None:
        return look, {}
    files: dict[str, bytes] = {}
    shown: dict[str, tuple[str, int, int]] = {}
    for key, value, stem in (("logo", table.logo, "logo"), ("logo_dark", table.logo_dark, "logo-dark")):
        if value is None:
            continue
        if value.startswith("https://"):
            shown[key] = (value, table.logo_width, 0)
            continue
        if "://" in value:
            raise ConfigError([_("{path}: [look] {key}: an address must start with https:// (a picture over http "
                                 "is blocked by mail clients), got {given!r}").format(
                                   path=cfg.path, key=key, given=value)])
        data, kind, width, height = logo_file(cfg.root / value, table.logo_width)
        files[f"{stem}.{kind}"] = data
        shown[key] = (f"{cfg.letter.base_url.rstrip('/')}/{day.isoformat()}/{stem}.{kind}", width, height)
    url, width, height = shown["logo"]
    return replace(look, logo=url, logo_dark=shown.get("logo_dark", ("", 0, 0))[0],
                   logo_alt=table.logo_alt or cfg.letter.title, logo_width=width, logo_height=height), files
