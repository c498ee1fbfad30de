"""The association's look without touching a template: [look] colours checked for contrast, a logo made fit for
e-mail, shown from the letter's folder under base_url and published with it."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from digest import config, look
from digest.cli import main
from digest.model import Look
from tests.conftest import ROOT, SAMPLES

BRANDED = """
[look]
logo = "logo.png"
logo_width = 200
header = "#2d1e5f"
accent = "#b3261e"
link = "#0b57d0"
button = "#0b57d0"
accent_dark = "#ffb4ab"
link_dark = "#a8c7fa"
"""


def project(folder: Path, look_table: str = BRANDED, logo: tuple[int, int] | None = (1200, 400)) -> Path:
    """The default letter's configuration in `folder`, with a [look] table and a logo made by Pillow."""
    text = (ROOT / "sources.toml").read_text(encoding="utf-8").replace('url = "samples/', f'url = "{SAMPLES}/')
    (folder / "sources.toml").write_text(text + look_table, encoding="utf-8")
    if logo:
        Image.new("RGB", logo, "#2d1e5f").save(folder / "logo.png")
    return folder / "sources.toml"


def digest(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_contrast_is_wcag_s_ratio_and_the_nearest_passing_shade_just_passes() -> None:
    assert look.contrast("#ffffff", "#000000") == pytest.approx(21)
    assert look.contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # the classic grey that fails
    shade = look.nearest_passing("#ff9900", "#ffffff", 3.0)
    assert look.contrast(shade, "#ffffff") >= 3.0 > look.contrast("#ff9900", "#ffffff")
    lighter = look.nearest_passing("#333333", "#121820", 4.5)  # on the dark page: lighter, not darker
    assert look.luminance(lighter) > look.luminance("#333333") and look.contrast(lighter, "#121820") >= 4.5
    assert all(v.passes for v in look.verdicts(Look()))  # the stock colours pass


def test_a_wrong_colour_or_width_is_a_clear_error_naming_the_key(tmp_path: Path) -> None:
    path = project(tmp_path, '\n[look]\naccent = "orange"\nlogo_width = 900\n', logo=None)
    with pytest.raises(config.ConfigError) as raised:
        config.load(path)
    said = str(raised.value)
    assert "[look]" in said and "accent" in said and "#rrggbb" in said and "logo_width" in said


def test_a_logo_is_written_at_twice_its_width_beside_the_letter_and_shown_under_base_url(tmp_path: Path) -> None:
    path = project(tmp_path)
    code, output = digest("build", "-c", str(path))
    assert code == 0, output
    folder = tmp_path / "outbox" / "2025-11-20"
    with Image.open(folder / "logo.png") as stored:
        assert stored.size == (400, 133)  # shown 200 px wide: twice that, for high-density screens
    html = (folder / "letter.html").read_text(encoding="utf-8")
    img = re.search(r'<img src="[^"]*logo.png"[^>]*>', html)
    assert img, html[:2000]
    assert 'src="https://cites-unies-france.org/lettre/2025-11-20/logo.png"' in img.group()
    assert 'alt="La Lettre de CUF"' in img.group() and 'width="200"' in img.group() and 'height="67"' in img.group()
    assert "color:#fff;" in img.group()  # pictures off: the title's words in white on the header colour
    assert 'bgcolor="#2d1e5f"' in html.lower() or "background:#2d1e5f" in html.lower()
    assert "#e0592a" not in html and "#b3261e" in html  # the accent the team chose, not the stock one
    code, output = digest("publish", "-c", str(path), str(tmp_path / "site"), "--date", "2025-11-20")
    assert code == 0 and (tmp_path / "site" / "2025-11-20" / "logo.png").is_file(), output


def test_a_small_logo_is_never_enlarged(tmp_path: Path) -> None:
    data, kind, width, height = look.logo_file(_png(tmp_path / "small.png", (120, 60)), 200)
    with Image.open(io.BytesIO(data)) as stored:
        assert kind == "png" and stored.size == (120, 60) and (width, height) == (120, 60)


def test_an_svg_or_a_file_that_is_no_picture_is_refused_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>", encoding="utf-8")
    path = project(tmp_path, '\n[look]\nlogo = "logo.svg"\n', logo=None)
    code, output = digest("build", "-c", str(path))
    assert code == 2 and "SVG" in output and "export it as PNG" in output and "Traceback" not in output
    (tmp_path / "logo.png").write_text("not a picture", encoding="utf-8")
    path = project(tmp_path, '\n[look]\nlogo = "logo.png"\n', logo=None)
    code, output = digest("build", "-c", str(path))
    assert code == 2 and "cannot be read as a picture" in output


def test_a_picture_too_large_to_decode_safely_is_refused_not_a_traceback(tmp_path: Path) -> None:
    Image.new("1", (20000, 20000)).save(tmp_path / "logo.png")  # 400 million pixels in a few kilobytes
    path = project(tmp_path, '\n[look]\nlogo = "logo.png"\n', logo=None)
    code, output = digest("build", "-c", str(path))
    assert code == 2 and "cannot be read as a picture" in output and "Traceback" not in output, output


def test_check_refuses_a_colour_that_fails_contrast_and_suggests_the_nearest_shade(tmp_path: Path) -> None:
    path = project(tmp_path, '\n[look]\naccent = "#ff9900"\nlink_dark = "#1b4f8f"\n', logo=None)
    code, output = digest("check", "-c", str(path))
    assert code == 1, output
    assert "[look] accent #ff9900 with #ffffff: 2.1:1, 3:1 needed (light mode); nearest passing: #" in output
    assert "[look] link_dark #1b4f8f with #121820: " in output and "(dark mode)" in output


def test_a_heavy_logo_is_a_warning(tmp_path: Path) -> None:
    noisy = Image.effect_noise((1200, 600), 100).convert("RGB")
    noisy.save(tmp_path / "logo.png")
    path = project(tmp_path, '\n[look]\nlogo = "logo.png"\nlogo_width = 300\n', logo=None)
    _code, output = digest("check", "-c", str(path))
    assert "the logo weighs" in output and "over 30 KB" in output, output


def _png(path: Path, size: tuple[int, int]) -> Path:
    Image.new("RGBA", size, (45, 30, 95, 255)).save(path)
    return path
