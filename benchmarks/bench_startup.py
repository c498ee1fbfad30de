"""Start-up and a small web letter as whole processes, beside the stack's floor and rss-to-email (Node).

Issue 13: a command imports what it uses. Figures: `digest --help`, `digest letters`; three web feeds of
10 items (SPIP-style, from a server on 127.0.0.1) built as a whole process, against the floor of the stack
(python importing what rendering needs: premailer, mjml, jinja2, babel, lxml, click) and, when Node and npm
are on the machine, rss-to-email 0.9 (Node, MJML) building the same three feeds.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench_build import feed

ROOT = Path(__file__).resolve().parent.parent
RUNS = 7
FLOOR = "import click, jinja2, mjml, premailer, babel.dates, lxml.html"
NODE_DIR = Path(tempfile.gettempdir()) / "digest-bench-node"  # rss-to-email installed once, outside the repo


def median_seconds(command: list[str], cwd: Path, before: object = None) -> float:
    """Median wall time of the command over RUNS runs (`before` is called before each, untimed)."""
    times = []
    for _ in range(RUNS):
        if callable(before):
            before()
        began = time.perf_counter()
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False,
                                env={**os.environ, "TERM": "dumb"})
        times.append(time.perf_counter() - began)
        if result.returncode != 0:
            sys.exit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return statistics.median(times)


def serve(folder: Path) -> tuple[ThreadingHTTPServer, str]:
    """A quiet static server on 127.0.0.1 for the feeds."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def web_config(folder: Path, base: str) -> Path:
    """sources.toml with three web feeds of 10 items, dated so the letter of 2025-11-20 keeps them."""
    head = (ROOT / "sources.toml").read_text(encoding="utf-8").split("[[section]]")[0]
    lines = [head, '[[section]]\nid = "cuf"\ntitle = "Actualités"\nmax_items = 30\n']
    for number in range(3):
        (folder / f"feed{number}.xml").write_text(feed(number, 10), encoding="utf-8")
        lines.append(f'[[source]]\nname = "feed{number}"\nsection = "cuf"\nurl = "{base}/feed{number}.xml"\n'
                     'format = "rss"\n')
    path = folder / "sources.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def rss_to_email(folder: Path, base: str) -> float | None:
    """Median seconds of rss-to-email on the three feeds, or None without Node and npm."""
    if not (shutil.which("node") and shutil.which("npm")):
        return None
    cli = NODE_DIR / "node_modules" / "rss-to-email" / "cli.js"
    if not cli.exists():
        subprocess.run(["npm", "install", "--silent", "--prefix", str(NODE_DIR), "rss-to-email@0.9.0"],
                       check=False, capture_output=True, timeout=300)
    if not cli.exists():
        return None
    template = cli.parent / "src" / "templates" / "default.mjml"
    shutil.copy(template, folder / "default.mjml")  # it fetches its template over HTTP: ours, on 127.0.0.1
    config = {"accentColor": "#16365f", "filename": "letter", "intro": "Bonjour,", "outro": "À bientôt",
              "header": {"title": "La Lettre", "link": "https://cites-unies-france.org/", "banner": ""},
              "templateUrl": f"{base}/default.mjml",
              "feeds": [{"title": f"Membre {n}", "description": "", "url": f"{base}/feed{n}.xml",
                         "publishedSince": None} for n in range(3)]}
    (folder / "r2e.json").write_text(json.dumps(config), encoding="utf-8")
    (folder / "r2e-out").mkdir(exist_ok=True)
    return median_seconds(["node", str(cli), "r2e.json", "r2e-out"], folder)


def main() -> int:
    """Print the figures; exit 1 when the web letter takes 0.6 s or more, or clearly longer than rss-to-email."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server, base = serve(folder)
        try:
            config = web_config(folder, base)
            digest = [sys.executable, "-m", "digest"]
            help_s = median_seconds([*digest, "--help"], folder)
            status_s = median_seconds([*digest, "letters", "-c", str(config)], folder)
            floor = median_seconds([sys.executable, "-c", FLOOR], folder)
            web = median_seconds([*digest, "build", "-c", str(config), "--date", "2025-11-20"], folder,
                                 before=lambda: shutil.rmtree(folder / ".digest-cache", ignore_errors=True))
            node = rss_to_email(folder, base)
        finally:
            server.shutdown()
    print(f"digest --help: median {help_s:.2f} s; digest letters: {status_s:.2f} s")
    print(f"three web feeds of 10 items, whole process: median {web:.2f} s; the stack's floor "
          f"(importing {FLOOR[7:]}): {floor:.2f} s")
    print("rss-to-email 0.9 (Node), same feeds: " + (f"median {node:.2f} s" if node else "not measured (no Node/npm)"))
    ok = web < 0.6 and (node is None or web <= node * 1.1)
    print(f"target: under 0.6 s and no slower than rss-to-email (10 % for run-to-run noise) -> "
          f"{'ok' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
