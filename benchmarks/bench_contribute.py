"""A contributed photo made fit for the letter (issue 22): a 12-megapixel phone JPEG in under a second on one
core, and peak memory under 300 MB for the largest picture allowed (as a PNG, decoded whole: MAX_DECODED bytes).
Each case runs in a fresh process, whose peak resident memory (VmHWM) is read from the kernel."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
MEASURE = """if True:
    import json, re, sys, time
    from digest.contribute import pictures
    data = open(sys.argv[1], "rb").read()
    began = time.process_time()
    made = pictures.process(data)
    took = time.process_time() - began
    # VmHWM: this process's own peak (ru_maxrss would carry the parent's over the exec)
    peak = int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
    print(json.dumps({"cpu": took, "rss_mb": peak / 1024,
                      "bytes": len(made.thumb) + len(made.web)}))
"""


def phone_jpeg(path: Path) -> None:
    """A 4000 x 3000 photo with a phone's EXIF (orientation, GPS), of varied pixels as a real scene has."""
    image = Image.effect_noise((4000, 3000), 60).convert("RGB")
    exif = image.getexif()
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (48.0, 41.0, 30.0)}
    image.save(path, "JPEG", quality=90, exif=exif.tobytes())


def largest_png(path: Path) -> None:
    """The largest picture accepted as a PNG (no reduced decoding): RGB (four bytes a pixel in memory) up to
    MAX_DECODED bytes once decoded, under the size cap."""
    from digest.contribute import pictures

    pixels = pictures.MAX_DECODED // 4
    side = int((pixels * 1.5) ** 0.5)
    Image.new("RGB", (side, int(pixels / side) - 1), (30, 90, 160)).save(path, "PNG")
    assert path.stat().st_size < pictures.MAX_BYTES


def measure(path: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", MEASURE, str(path)], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    return dict(json.loads(out))


def main() -> int:
    """Print the figures; exit 1 when a target is missed."""
    from digest.contribute import pictures

    with tempfile.TemporaryDirectory() as folder:
        jpeg, png = Path(folder) / "phone.jpg", Path(folder) / "largest.png"
        phone_jpeg(jpeg)
        largest_png(png)
        phone = min((measure(jpeg) for _ in range(3)), key=lambda m: m["cpu"])
        large = measure(png)
    print(f"contributed photo, 12 megapixels (JPEG, {jpeg.name}): {phone['cpu'] * 1000:.0f} ms of CPU, "
          f"peak {phone['rss_mb']:.0f} MB; out {phone['bytes'] / 1024:.0f} KB (target < 1 s)")
    megapixels = pictures.MAX_DECODED // 4 / 1e6
    print(f"largest picture allowed ({megapixels:.0f} megapixels, PNG): {large['cpu'] * 1000:.0f} ms, "
          f"peak {large['rss_mb']:.0f} MB (target < 300 MB)")
    ok = phone["cpu"] < 1.0 and large["rss_mb"] < 300
    print(f"target: a phone's photo in under a second, memory under 300 MB -> {'ok' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
