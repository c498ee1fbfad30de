"""Member cities write in (issue 22): a real `digest serve` with the contribution form, multipart posts of
pictures made by Pillow here, the confirmation mail through a real aiosmtpd, Chromium accepting the proposal in
the desk, then `build` and `publish` showing the item with its picture at base_url."""

from __future__ import annotations

import io
import itertools
import os
import re
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from PIL import Image

from digest.contribute import pictures
from digest.contribute.store import Contributions
from tests import installed, test_browser
from tests.preview_support import running
from tests.send_support import SECRET, config_text, digest
from tests.smtp_sink import Received, Sink
from tests.test_browser import open_desk
from tests.test_serve import start

FORM_URL = "https://cites-unies-france.org/lettre/contribuer"
PATH = urlparse(FORM_URL).path
ORIGIN = "https://cites-unies-france.org"
GPS = {1: "N", 2: (48.0, 41.0, 30.0), 3: "E", 4: (6.0, 11.0, 2.0)}  # Nancy, as a phone writes it
_ips = (f"192.0.2.{n}" for n in itertools.count(1))
browser, page = test_browser.browser, test_browser.page  # Chromium, and a page that reaches 127.0.0.1 only


def photo(width: int = 400, height: int = 300, *, orientation: int = 1, kind: str = "JPEG") -> bytes:
    """A photo as a phone makes it: left half red, right half blue, GPS position and orientation in its EXIF."""
    image = Image.new("RGB", (width, height), (220, 20, 20))
    image.paste((20, 20, 220), (width // 2, 0, width, height))
    exif = image.getexif()
    exif[0x0112] = orientation
    exif[0x8825] = GPS
    out = io.BytesIO()
    image.save(out, kind, exif=exif.tobytes())
    return out.getvalue()


def in_process_of_its_own(*args: str) -> subprocess.CompletedProcess[str]:
    """`digest ARGS` in a process of its own: the browser tests' Playwright keeps an event loop in this one."""
    return subprocess.run([*installed.command(), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DIGEST_SECRET": SECRET})


# --- the pictures ---------------------------------------------------------------------------------------------


def test_a_phones_photo_comes_out_upright_cropped_and_without_any_metadata() -> None:
    made = pictures.process(photo(400, 300, orientation=6))  # held upright: the sensor's image is turned
    for data, size in ((made.thumb, pictures.THUMB), (made.web, pictures.WEB)):
        out = Image.open(io.BytesIO(data))
        assert out.format == "JPEG" and out.size == size and out.info.get("progressive")
        assert dict(out.getexif()) == {} and "exif" not in out.info and "icc_profile" not in out.info
        # orientation 6: the picture turns a quarter clockwise, so red (left) goes to the top, blue to the bottom
        top, bottom = out.getpixel((size[0] // 2, 2)), out.getpixel((size[0] // 2, size[1] - 3))
        assert top[0] > 150 and top[2] < 100 and bottom[2] > 150 and bottom[0] < 100, (top, bottom)
    assert b"GPS" not in made.web and re.fullmatch(r"[0-9a-f]{16}", made.name)


@pytest.mark.parametrize(("data", "why"), [
    (b"#!/bin/sh\nrm -rf /\n" * 10, "not a JPEG, PNG or WebP"),  # a script named photo.jpg
    (b"GIF89a" + b"\0" * 100, "not a JPEG, PNG or WebP"),
    (b"\0" * (pictures.MAX_BYTES + 1), "send one under"),
])
def test_a_file_that_is_not_a_photo_or_too_heavy_is_refused(data: bytes, why: str) -> None:
    with pytest.raises(pictures.PictureRefused, match=why):
        pictures.process(data)


def test_a_png_bomb_is_refused_before_it_is_decoded() -> None:
    bomb = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(bomb, "PNG")  # 144 million pixels in a few kilobytes
    assert len(bomb.getvalue()) < 100_000
    with pytest.raises(pictures.PictureRefused, match="far too large once decoded"):
        pictures.process(bomb.getvalue())


def _segments(jpeg: bytes) -> list[int]:
    """The markers of a JPEG's segments before its picture data (APPn, COM, the tables)."""
    found, at = [], 2
    while at < len(jpeg) and jpeg[at] == 0xFF and jpeg[at + 1] != 0xDA:
        found.append(jpeg[at + 1])
        at += 2 + int.from_bytes(jpeg[at + 2:at + 4], "big")
    return found


def _with_everything(kind: str) -> bytes:
    """A photo carrying every kind of metadata its format can: EXIF with GPS, XMP, a comment or text chunks, a
    colour profile; each says SECRET."""
    from PIL import ImageCms, PngImagePlugin

    image = Image.new("RGB", (640, 480), (220, 20, 20))
    exif = image.getexif()
    exif[0x8825] = GPS
    exif[0x010E] = "SECRET description"
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">SECRET xmp</x:xmpmeta>'
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    if kind == "PNG":
        text = PngImagePlugin.PngInfo()
        text.add_text("Comment", "SECRET text")
        text.add_text("Author", "SECRET ztxt", zip=True)
        text.add_itxt("Description", "SECRET itxt", lang="fr")
        image.save(out, "PNG", pnginfo=text, exif=exif.tobytes(), icc_profile=icc)
    else:
        image.save(out, kind, exif=exif.tobytes(), icc_profile=icc, xmp=xmp,
                   **({"comment": "SECRET comment"} if kind == "JPEG" else {}))
    data = out.getvalue()
    assert data.count(b"SECRET") >= 2, kind  # EXIF and XMP (and the comment, the text chunks)
    return data


@pytest.mark.parametrize("kind", ["JPEG", "PNG", "WEBP"])
def test_the_pictures_written_hold_pixels_only_whatever_the_format_carried(kind: str) -> None:
    made = pictures.process(_with_everything(kind))
    for data in (made.thumb, made.web):
        assert b"SECRET" not in data and b"GPS" not in data
        # 0xE0 (JFIF) and the tables only: no APP1 (EXIF, XMP), APP2 (colour profile), COM (comment)
        assert set(_segments(data)) <= {0xE0, 0xDB, 0xC4, 0xC2, 0xDD}, [hex(m) for m in _segments(data)]
        out = Image.open(io.BytesIO(data))
        assert out.getpixel((10, 10))[0] > 200  # the red survived the profile's conversion


def png16(width: int, height: int) -> bytes:
    """A 16-bit RGBA PNG of zeros, written chunk by chunk (Pillow writes no 16-bit RGBA): 8000 x 6000 weighs
    about 370 KB and decodes to 192 MB."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer, row, parts = zlib.compressobj(9), b"\0" * (1 + width * 8), []
    for _ in range(height):
        parts.append(packer.compress(row))
    parts.append(packer.flush())
    header = struct.pack(">IIBBBBB", width, height, 16, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


@pytest.mark.parametrize(("size", "mode", "kind"), [
    ((16383, 3000), "RGBA", "WEBP"),  # 2 KB that decode to 196 MB
    ((8000, 6000), "RGBA;16", "PNG"),  # 370 KB, 16 bits a channel
    ((6000, 6000), "RGBA", "PNG"),
])
def test_a_small_file_that_decodes_large_is_refused_from_its_header(size: tuple[int, int], mode: str,
                                                                      kind: str) -> None:
    out = io.BytesIO()
    if mode == "RGBA;16":
        out.write(png16(*size))
    else:
        Image.new(mode, size).save(out, kind, **({"lossless": True} if kind == "WEBP" else {}))
    assert len(out.getvalue()) < 400_000
    assert pictures.decoded_size(*size, "RGBA") > pictures.MAX_DECODED
    opened: list[Any] = []
    real_load = Image.Image.load

    def load(self: Any) -> Any:
        opened.append(self.size)
        return real_load(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Image.Image, "load", load)
        with pytest.raises(pictures.PictureRefused, match="far too large once decoded"):
            pictures.process(out.getvalue())
    assert opened == []  # refused before a single pixel was decoded


def test_an_animation_counts_every_frame() -> None:
    frames = [Image.new("RGB", (1600, 1200), (n * 10, 255 - n * 10, n * 5)) for n in range(16)]
    out = io.BytesIO()
    frames[0].save(out, "PNG", save_all=True, append_images=frames[1:], duration=100)  # an APNG
    assert pictures.decoded_size(1600, 1200, "RGB", 1) < pictures.MAX_DECODED
    with pytest.raises(pictures.PictureRefused, match="far too large once decoded"):
        pictures.process(out.getvalue())


# --- the form on a real server ------------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    root: Path
    sink: Sink

    @property
    def store(self) -> Path:
        return self.root / "subscribers.sqlite"

    def post(self, email: str = "anne.martin@nancy.fr", *, picture: bytes | None = None, ip: str | None = None,
             headers: dict[str, str] | None = None, **fields: str) -> httpx.Response:
        data = {"collectivite": "Ville de Nancy", "contact": "Anne Martin", "email": email,
                "titre": "Nancy et Kanazawa : un atelier de cuisine", "texte": "Un atelier a réuni les deux villes.",
                "lien": "https://www.nancy.fr/kanazawa", "alt": "Deux cuisiniers devant un plan de travail",
                "droits": "oui", **fields}
        files = {"photo": ("IMG_2024.jpg", picture, "image/jpeg")} if picture else None
        return httpx.post(self.url + PATH, data=data, files=files, timeout=30, headers={
            "X-Forwarded-For": ip or next(_ips), "Origin": ORIGIN, **(headers or {})})

    def mails_to(self, email: str) -> list[Received]:
        with self.sink.recorder.lock:
            return [r for r in self.sink.recorder.received if r.rcpt == email]

    def wait_mail(self, email: str, count: int = 1, seconds: float = 15.0) -> Received:
        deadline = time.monotonic() + seconds
        while len(self.mails_to(email)) < count:
            assert time.monotonic() < deadline, f"no mail {count} to {email} within {seconds} s"
            time.sleep(0.05)
        return self.mails_to(email)[count - 1]

    def link(self, email: str) -> str:
        text = self.wait_mail(email).message.get_body(("plain",))
        assert text is not None
        found = re.search(r"https://\S+", text.get_content())
        assert found is not None and found.group().startswith(FORM_URL + "?c=")
        parsed = urlparse(found.group())
        return f"{self.url}{parsed.path}?{parsed.query}"

    def contributions(self) -> list[Any]:
        with Contributions(self.store) as store:
            return store.listed()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("contribute")
    (root / "adherents.csv").write_text("collectivite;domaines\nVille de Nancy;nancy.fr mairie-nancy.fr\n",
                                        encoding="utf-8")
    with Sink() as sink:
        (root / "sources.toml").write_text(config_text(sink.port) + f"""
[contribute]
url = "{FORM_URL}"
section = "collectivites"
members = "adherents.csv"
per_ip_hour = 50
""", encoding="utf-8")
        process, url, _log = start(root, [])
        yield Server(url, root, sink)
        process.terminate()
        process.wait(timeout=10)


def test_the_form_is_a_page_in_the_letters_language_with_every_field(server: Server) -> None:
    form = httpx.get(server.url + PATH).text
    assert '<html lang="fr">' in form and 'enctype="multipart/form-data"' in form
    for name in ("collectivite", "contact", "email", "titre", "texte", "lien", "date", "lieu", "debut", "photo",
                 "alt", "droits", "site_web"):
        assert f'name="{name}"' in form, name
    assert "droit de publier cette photo" in form


def test_a_contribution_is_proposed_only_once_its_contact_presses_the_button(server: Server) -> None:
    email = "anne.martin@nancy.fr"
    answer = server.post(email, picture=photo(1200, 900, orientation=6))
    assert answer.status_code == 200 and "Vérifiez votre boîte de réception" in answer.text
    link = server.link(email)  # the confirmation mail, received by the SMTP server
    scanned = subprocess.run(["curl", "-sS", "-A", "Mozilla/5.0 (scanner)", link], capture_output=True, text=True,
                             timeout=30, check=True)
    assert "Confirmer ma contribution" in scanned.stdout
    [found] = [c for c in server.contributions() if c.email == email]
    assert found.status == "unconfirmed" and found.member == "Ville de Nancy" and found.picture
    pressed = httpx.post(link, data={"action": "confirm"}, headers={"Origin": server.url})
    assert pressed.status_code == 200 and "est entre les mains de l’équipe" in pressed.text.replace("\u00a0", " ")
    [found] = [c for c in server.contributions() if c.email == email]
    assert found.status == "proposed"
    with Contributions(server.store) as store:
        kept = store.picture(found.picture)
    assert kept is not None and b"GPS" not in kept[1] and Image.open(io.BytesIO(kept[1])).size == pictures.WEB
    again = httpx.post(link, data={"action": "confirm"}, headers={"Origin": server.url})
    assert "Ce lien ne sert plus" in again.text


def test_a_trap_a_foreign_page_a_large_body_a_script_photo_and_the_caps_change_nothing(server: Server) -> None:
    before = len(server.contributions())
    assert "Vérifiez" in server.post("robot@example.org", site_web="https://spam.example").text
    assert server.post("x@example.org", headers={"Origin": "https://evil.example"}).status_code == 403
    host, port = urlparse(server.url).hostname, urlparse(server.url).port
    with socket.create_connection((host, port), timeout=10) as raw:  # a body announced over the cap: not read
        raw.sendall(f"POST {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: multipart/form-data; "
                    f"boundary=x\r\nContent-Length: {pictures.MAX_BYTES + 200_000}\r\n\r\nxx".encode())
        assert raw.recv(200).startswith(b"HTTP/1.1 413")
    script = server.post("paul@example.org", picture=b"#!/bin/sh\necho owned\n")
    assert script.status_code == 400 and "JPEG, PNG ou WebP" in script.text
    no_alt = server.post("paul@example.org", picture=photo(), alt="")
    assert no_alt.status_code == 400 and "dites ce qu’elle montre" in no_alt.text.replace("\u00a0", " ")
    assert len(server.contributions()) == before
    for _ in range(5):  # three a day per address, then the same page and nothing more
        assert "Vérifiez" in server.post("souvent@example.org").text
    assert len([c for c in server.contributions() if c.email == "souvent@example.org"]) == 3


def test_the_team_accepts_a_proposal_in_the_desk_and_publish_puts_its_picture_at_base_url(
        server: Server, page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from digest import i18n

    email = "lea@mairie-nancy.fr"
    server.post(email, picture=photo(800, 600), titre="Nancy accueille une délégation de Kanazawa")
    httpx.post(server.link(email), data={"action": "confirm"}, headers={"Origin": server.url})
    i18n.use("fr")
    try:
        with running(server.root / "sources.toml") as (session, desk):
            open_desk(page, desk)
            panel = page.locator("#contributions")
            expect(panel).to_contain_text("une décision")  # how many wait, said in words
            heading = panel.get_by_role("heading", name="Contributions")
            expect(heading).to_have_text(re.compile(r"^Contributions \d+$"))  # how many wait (earlier tests' too)
            waiting = int(heading.inner_text().split()[-1])
            proposal = panel.locator("li.proposal").filter(has_text="délégation de Kanazawa")
            expect(proposal).to_contain_text("adhérent : Ville de Nancy")
            proposal.get_by_role("button", name="Accepter", exact=True).click()
            expect(page.locator("#message")).to_contain_text("Contribution retenue pour la lettre de", timeout=8000)
            expect(heading).to_have_text(f"Contributions {waiting - 1}" if waiting > 1 else "Contributions")
            day = session.snapshot.letter_date
            # the desk shows the picture from this machine (it is on the web only once published)
            frame = page.frame_locator("#desktop-frame")
            expect(frame.locator(f'img[src="images/{server.contributions()[0].picture}-vignette.jpg"]')).to_have_count(
                1, timeout=8000)
            loaded = frame.locator("img[src^='images/']").first.evaluate("i => i.complete && i.naturalWidth")
            assert loaded == 192
    finally:
        i18n.use("en")
    issue = next((server.root / "issues").glob("*.toml")).read_text(encoding="utf-8")
    assert "# contribution" in issue and "Ville de Nancy (Anne Martin)" in issue and "délégation de Kanazawa" in issue
    [found] = [c for c in server.contributions() if c.email == email]
    assert found.status == "accepted"
    told = server.wait_mail(email, count=2)  # the confirmation, then the decision
    assert "sera dans" in str(told.message["Subject"])
    decided = told.message.get_body(("plain",))
    assert decided is not None and "paraîtra dans la lettre de" in decided.get_content()
    built = in_process_of_its_own("build", "-c", str(server.root / "sources.toml"), "--date", day)
    assert built.returncode == 0, built.stderr
    letter = (server.root / "outbox" / day / "letter.html").read_text(encoding="utf-8")
    image = f"https://cites-unies-france.org/lettre/images/{found.picture}-vignette.jpg"
    assert "délégation de Kanazawa" in letter and image in letter
    assert 'alt="Deux cuisiniers devant un plan de travail"' in letter  # the photo's words reach the reader
    text = (server.root / "outbox" / day / "letter.txt").read_text(encoding="utf-8")
    assert "[Photo : Deux cuisiniers devant un plan de travail]" in text.replace("\u00a0", " ").replace("\n", " ")
    config = str(server.root / "sources.toml")
    assert in_process_of_its_own("subscribers", "add", "lecteur@example.org", "-c", config).returncode == 0
    early = in_process_of_its_own("send", "--list", "--yes", "--date", day, "-c", config)
    assert early.returncode == 2 and "publish" in early.stderr and found.picture in early.stderr  # not on the web
    checked = in_process_of_its_own("check", "-c", config, "--date", day)
    assert f"{found.picture}-vignette.jpg" in checked.stdout and checked.returncode == 1
    site = tmp_path / "site"
    published = in_process_of_its_own("publish", str(site), "-c", str(server.root / "sources.toml"), "--date", day)
    assert published.returncode == 0, published.stderr
    sent = in_process_of_its_own("send", "--list", "--yes", "--date", day, "-c", config)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    gone_out = server.wait_mail(email, count=3)  # the letter went out: its contact gets its web address
    body = gone_out.message.get_body(("plain",))
    assert body is not None and f"https://cites-unies-france.org/lettre/{day}/" in body.get_content()
    assert Image.open(site / "images" / f"{found.picture}-vignette.jpg").size == pictures.THUMB
    assert (site / "images" / f"{found.picture}.jpg").is_file()
    assert not list(site.rglob("*.sqlite")) and "lea@" not in "".join(
        p.read_text(errors="replace") for p in site.rglob("*.html"))


def test_the_command_line_lists_shows_and_refuses_and_the_contact_is_told(server: Server) -> None:
    email = "marc@example.org"
    server.post(email, titre="Une exposition à Épinal")
    httpx.post(server.link(email), data={"action": "confirm"}, headers={"Origin": server.url})
    [found] = [c for c in server.contributions() if c.email == email]
    config = str(server.root / "sources.toml")
    listed = digest("contributions", "list", "-c", config, "--status", "proposed")
    assert listed.exit_code == 0 and "Une exposition à Épinal" in listed.output and "not verified" in listed.output
    shown = digest("contributions", "show", str(found.id), "-c", config)
    assert "marc@example.org" in shown.output and "Un atelier a réuni" in shown.output
    refused = digest("contributions", "refuse", str(found.id), "-c", config, "--message", "Hors sujet pour la lettre.")
    assert refused.exit_code == 0, refused.output
    told = server.wait_mail(email, count=2)
    body = told.message.get_body(("plain",))
    assert body is not None and "Hors sujet pour la lettre." in body.get_content()
    twice = digest("contributions", "refuse", str(found.id), "-c", config, "--message", "encore")
    assert twice.exit_code == 2 and "cannot be decided" in twice.output


def test_erasing_an_address_removes_its_pending_contributions_and_its_address_from_published_ones(
        server: Server) -> None:
    email = "efface@example.org"
    server.post(email, titre="À effacer")
    erased = digest("subscribers", "erase", email, "-c", str(server.root / "sources.toml"))
    assert erased.exit_code == 0, erased.output
    assert [c for c in server.contributions() if c.title == "À effacer"] == []
    with sqlite3.connect(server.store) as db:
        assert db.execute("SELECT COUNT(*) FROM contribution WHERE email=?", (email,)).fetchone()[0] == 0


def test_a_contribution_form_that_cannot_work_stops_serve_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text(config_text(25) + f'\n[contribute]\nurl = "{FORM_URL}"\n'
                                           'section = "agenda"\n', encoding="utf-8")
    result = subprocess.run([*installed.command(), "serve", "-c", str(tmp_path / "sources.toml")],
                            capture_output=True, text=True, timeout=60, env={"DIGEST_SECRET": SECRET,
                                                                             "DIGEST_LANG": "en", "PATH": ""})
    assert result.returncode == 2 and "[contribute] section" in result.stderr and "news section" in result.stderr
    assert "Traceback" not in result.stderr


def test_photos_posted_at_once_are_made_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each may hold 200 MB while decoded: ten posted together must not decode together."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    inside, most, lock = [0], [0], threading.Lock()
    real = pictures._process

    def counted(data: bytes) -> pictures.Picture:
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        try:
            return real(data)
        finally:
            with lock:
                inside[0] -= 1

    monkeypatch.setattr(pictures, "_process", counted)
    with ThreadPoolExecutor(6) as pool:
        made = list(pool.map(pictures.process, [photo(1600, 1200)] * 6))
    assert len({m.name for m in made}) == 1 and most[0] == 1


def test_the_contact_withdraws_a_contribution_until_the_team_accepts_it(server: Server) -> None:
    email = "retrait@nancy.fr"
    server.post(email, titre="Une annonce envoyée trop tôt", picture=photo())
    text = server.wait_mail(email).message.get_body(("plain",))
    assert text is not None
    found = re.search(r"https://\S+\?retirer=\S+", text.get_content())
    assert found is not None
    parsed = urlparse(found.group())
    link = f"{server.url}{parsed.path}?{parsed.query}"
    httpx.post(server.link(email), data={"action": "confirm"}, headers={"Origin": server.url})  # proposed
    shown = httpx.get(link)  # a mail scanner opens it: nothing changes
    assert shown.status_code == 200 and "Retirer ma contribution" in shown.text and "envoyée trop tôt" in shown.text
    [before] = [c for c in server.contributions() if c.email == email]
    assert before.status == "proposed"
    done = httpx.post(link, data={"action": "withdraw"}, headers={"Origin": ORIGIN})
    assert done.status_code == 200 and "Votre contribution est retirée" in done.text
    [after] = [c for c in server.contributions() if c.email == email]
    assert after.status == "withdrawn"
    with Contributions(server.store) as store:
        assert store.picture(after.picture) is None  # its photo deleted with it
    again = httpx.post(link, data={"action": "withdraw"}, headers={"Origin": ORIGIN})
    assert "ne peut plus être retirée" in again.text
