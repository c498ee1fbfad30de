"""One look for every page digest serves: one stylesheet whose colours are the letter's [look] (made readable when
the team's colour is too light), a favicon made from the letter's initial, and refusals dressed like every page.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import httpx
from PIL import Image

from digest import look
from digest.config import LookConfig
from digest.web import layer, style
from tests.preview_support import make_site, running
from tests.test_preview import request


def test_the_stylesheet_carries_the_look_and_a_light_colour_is_made_readable() -> None:
    stock = style.sheet(None)
    assert "--c-header: #16365f;" in stock and "button.danger" in stock and ":focus-visible" in stock
    for kind in ("email", "url", "date", "file", "color"):
        assert f"input[type={kind}]" in stock  # every kind of field the forms use is styled
    bright = style.tokens(LookConfig(header="#7fb3e0", button="#f5c542"))
    header = re.search(r"--c-header: (#[0-9a-f]{6})", bright)
    button = re.search(r"--c-button: (#[0-9a-f]{6})", bright)
    assert header and button and header.group(1) != "#7fb3e0"
    for colour in (header.group(1), button.group(1)):
        assert look.contrast(colour, "#ffffff") >= 4.5 and look.contrast(colour, style.PAGE) >= 4.5


def test_a_shell_page_allows_its_own_style_by_hash_and_nothing_inline_else() -> None:
    layer.use_look(LookConfig(header="#8b1e3f"))
    try:
        answer = layer.page(404, "Page introuvable", ["Cette adresse ne mène nulle part."], "La Lettre de CUF")
    finally:
        layer.use_look(None)
    html = answer.body.decode()
    css = re.search(r"<style>(.*?)</style>", html, re.S)
    assert css and "--c-header: #8b1e3f;" in css.group(1)
    policy = answer.headers["content-security-policy"]
    assert style.source_hash(css.group(1)) in policy and "unsafe-inline" not in policy
    assert '<link rel="icon" href="/favicon.ico">' in html


def test_the_favicon_is_the_letters_initial_in_its_header_colour() -> None:
    icon = Image.open(io.BytesIO(style.favicon("La Lettre de CUF", "#16365f")))
    assert icon.format == "ICO" and (32, 32) in icon.info["sizes"]
    pixels = icon.convert("RGB")
    assert pixels.getpixel((16, 2)) == (0x16, 0x36, 0x5f)  # the band of the header colour
    assert (255, 255, 255) in {pixels.getpixel((x, y)) for x in range(8, 24) for y in range(8, 24)}  # the « L »


def test_the_desk_serves_its_favicon_to_anyone_and_dresses_its_refusals(tmp_path: Path) -> None:
    with running(make_site(tmp_path), logged_in=False) as (_session, server):
        root = server.url.split("/", 3)[:3]
        icon = httpx.get("/".join(root) + "/favicon.ico", timeout=10)
        assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"  # no 403 in the log
        html = {"Accept": "text/html"}  # as a browser asks
        status, headers, body = request(server.url, headers=html)  # without the login cookie
        assert status == 403 and "<style>" in body and "shell-header" in body
        assert style.source_hash(re.search(r"<style>(.*?)</style>", body, re.S).group(1)) in \
            headers["content-security-policy"]  # type: ignore[union-attr]
        status, headers, body = request(server.url, headers={**html, "Host": "evil.example"})
        assert status == 421 and "shell-header" in body and "sha256-" in headers["content-security-policy"]


def test_the_desk_stylesheet_is_digests_in_the_letters_look(tmp_path: Path) -> None:
    path = make_site(tmp_path)
    path.write_text(path.read_text(encoding="utf-8") + '\n[look]\nheader = "#8b1e3f"\n', encoding="utf-8")
    with running(path) as (_session, server):
        status, headers, body = request(server.url + "static/digest.css")
        page = request(server.url)[2]
    assert status == 200 and headers["content-type"].startswith("text/css") and "--c-header: #8b1e3f;" in body
    assert 'href="static/digest.css"' in page and 'href="favicon.ico"' in page
