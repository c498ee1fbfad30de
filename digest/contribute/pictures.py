"""A contributed photo made fit for the letter, with Pillow: checked by its content, bounded, turned upright,
its colours converted to sRGB, stripped of every metadata (a phone's GPS position above all, EXIF, XMP, comments,
text chunks, the colour profile), cropped to the letter's thumbnail ratio (3:2) and written twice: at twice the
thumbnail's size and at a web width, as progressive JPEG named by content hash. Nothing of the original is kept:
the caller holds its bytes only until this returns.

What a picture may cost is known before Pillow allocates it: its header gives the size, the mode and the frames,
and the decoded size (pixels x bytes a pixel takes in memory x frames) must stay under MAX_DECODED. A 2 KB WebP
can announce 16383 x 3000 pixels; it is refused from its header."""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import io
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from digest.errors import DigestError
from digest.i18n import _

# What Pillow must find in the content, whatever the file is called (MPO: a phone's JPEG with a second picture
# inside, of which the first is the photo).
KINDS = {"JPEG", "MPO", "PNG", "WEBP"}
MAX_BYTES = 10 * 1024 * 1024  # a phone's photo is 2-6 MB
MAX_PIXELS = 50_000_000  # 50 megapixels: above, a "photo" is a decompression bomb (Pillow's own guard is at 179)
MAX_DECODED = 96 * 1024 * 1024  # bytes once decoded: a 24-megapixel PNG with transparency, a reduced JPEG
THUMB = (192, 128)  # twice the letter's 96 x 64 thumbnail, for sharp screens
WEB = (960, 640)  # the web version's width, 3:2
QUALITY = 82


class PictureRefused(DigestError):
    """The photo cannot be used; the message says why and what to send instead."""


@dataclass(frozen=True)
class Picture:
    """The two JPEGs made from one photo, named by the hash of the thumbnail's content."""

    name: str  # "<16 hex digits>"
    thumb: bytes
    web: bytes


# One picture at a time in a process: each may hold 200 MB while decoded, so ten posted at once must not decode
# together (the form's posts wait their turn; a photo takes a fraction of a second).
_ONE_AT_A_TIME = threading.BoundedSemaphore(1)


def process(data: bytes) -> Picture:
    """The photo `data` made fit for the letter; PictureRefused when it is not a JPEG, PNG or WebP photo within
    the limits. Its header is read before it waits its turn: a refused bomb makes no honest photo wait."""
    if len(data) > MAX_BYTES:
        raise PictureRefused(_("the photo weighs {size} MB: send one under {most} MB").format(
            size=len(data) // (1024 * 1024), most=MAX_BYTES // (1024 * 1024)))
    with _reading():
        _opened(data).close()
    with _ONE_AT_A_TIME:
        try:
            return _process(data)
        finally:
            _give_back()


def decoded_size(width: int, height: int, mode: str, frames: int = 1) -> int:
    """The bytes Pillow allocates to decode a picture: one, two or four bytes a pixel by its mode (Pillow keeps
    RGB in four), for every frame."""
    per_pixel = 1 if mode in ("1", "L", "P") else 2 if mode.startswith("I;16") else 4
    return width * height * per_pixel * max(1, frames)


def _give_back() -> None:
    """Return the freed memory of a decoded picture to the system: glibc keeps large freed blocks for the next
    allocation otherwise, and a worker that decoded one photo would stay hundreds of megabytes large."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None)
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        return libc
    except (OSError, AttributeError):  # not glibc (musl, macOS): its allocator gives back on its own terms
        return None


_LIBC = _libc()


def _process(data: bytes) -> Picture:
    from PIL import ImageOps

    with _reading(), _opened(data) as opened:
        small = _reduced(opened)
        upright = ImageOps.exif_transpose(small)  # as the phone held it; the EXIF goes with the copy
    picture = _pixels_only(upright)
    thumb, web = _jpeg(picture, THUMB), _jpeg(picture, WEB)
    return Picture(hashlib.sha256(web).hexdigest()[:16], thumb, web)


@contextlib.contextmanager
def _reading() -> Iterator[None]:
    """Pillow's many ways of refusing a file, as PictureRefused saying what to send instead."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            yield
        except PictureRefused:
            raise
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise PictureRefused(_("the photo is far too large once decoded: send an ordinary photo")) from None
        except Exception:  # "not an image I can read", whatever the plugin
            raise PictureRefused(_("this file is not a JPEG, PNG or WebP photo that can be read")) from None


def _opened(data: bytes) -> Any:
    """The picture opened from its header only (no pixel decoded), once its kind, its pixels and its decoded
    size (after a JPEG's reduced decoding is chosen) are within the limits."""
    from PIL import Image

    opened = Image.open(io.BytesIO(data))
    try:
        if opened.format not in KINDS:
            raise PictureRefused(_("this file is not a JPEG, PNG or WebP photo"))
        if opened.width * opened.height > MAX_PIXELS:
            raise PictureRefused(_("the photo has {pixels} million pixels: send one under {most} million").format(
                pixels=opened.width * opened.height // 1_000_000, most=MAX_PIXELS // 1_000_000))
        opened.draft("RGB", (WEB[0] * 2, WEB[1] * 2))  # a JPEG is decoded at a reduced size: fast, small
        frames = 1 if opened.format == "MPO" else getattr(opened, "n_frames", 1)
        if decoded_size(opened.width, opened.height, opened.mode, frames) > MAX_DECODED:
            raise PictureRefused(_("the photo is far too large once decoded: send an ordinary photo"))
    except BaseException:
        opened.close()
        raise
    return opened


def _pixels_only(picture: Any) -> Any:
    """The picture in sRGB, without alpha or palette, with nothing but its pixels: its colour profile applied
    then dropped, and no EXIF, XMP, comment or text chunk left for the JPEG writer to copy (Pillow writes
    `info["comment"]` back)."""
    from PIL import ImageCms

    profile = picture.info.get("icc_profile")
    if picture.mode not in ("RGB", "L", "CMYK"):
        picture = picture.convert("RGB")
    if profile:  # a broken or unusable profile: the pixels as they are
        with contextlib.suppress(ImageCms.PyCMSError, OSError, ValueError, TypeError):
            picture = ImageCms.profileToProfile(picture, ImageCms.ImageCmsProfile(io.BytesIO(profile)),
                                                ImageCms.createProfile("sRGB"), outputMode="RGB")
    clean = picture.convert("RGB")
    clean.info = {}
    return clean


def _reduced(opened: Any) -> Any:
    """The picture down to about twice the web size, the full-size pixels dropped at once: a 50-megapixel PNG is
    decoded whole (200 MB), and no second picture of that size is ever made."""
    factor = min(opened.width // (WEB[0] * 2), opened.height // (WEB[1] * 2))
    if factor < 2:
        opened.load()
        return opened
    small = opened.reduce(factor)
    small.info = dict(opened.info)  # its EXIF still says how the phone was held
    opened.close()
    return small


def _jpeg(picture: object, size: tuple[int, int]) -> bytes:
    """The picture cropped to `size`'s ratio around its centre and scaled to it, as a progressive JPEG."""
    from PIL import Image, ImageOps

    assert isinstance(picture, Image.Image)
    fitted = ImageOps.fit(picture, size, method=Image.Resampling.LANCZOS)
    out = io.BytesIO()
    fitted.save(out, "JPEG", quality=QUALITY, progressive=True, optimize=True)  # no exif= : none written
    return out.getvalue()
