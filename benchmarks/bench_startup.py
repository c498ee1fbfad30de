"""Start-up and a small web letter as whole processes, beside the stack's floor and rss-to-email (Node).

Issue 13: a command imports what it uses. Figures: `digest --help`, `digest letters`; three web feeds of
10 items (SPIP-style, from a server on 127.0.0.1) built as a whole process, against the floor of the stack
(python importing what rendering needs: premailer, mjml, jinja2, babel, lxml, click; and httpx for the web
letter) and, when Node and npm are on the machine, rss-to-email 0.9 (Node, MJML) building the same three feeds.

Issue 23: the runs of the compared commands alternate (one of each, RUNS times), so a machine whose load
changes during the benchmark weighs on all of them alike. Targets: the web letter at least 1.35 times faster
than rss-to-email, and the default letter within 1.5 times the floor of its stack.

Every Python process runs from a regular install of the checkout in a virtual environment of its own (what
`pipx install .` gives the team), not the development one: an editable install's import hook costs about 12 ms
in every process, which no user pays. The environment is made once and kept in the temporary folder.
"""

from __future__ import annotations

import json
import os
import resource
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
RUNS = 10
FLOOR = "import click, jinja2, mjml, premailer, babel.dates, lxml.html"
WEB_FLOOR = FLOOR + ", httpx"
DEFAULT_FLOOR = FLOOR + ", icalendar, markdown_it, nh3"  # the default letter also reads a calendar and an édito
NODE_DIR = Path(tempfile.gettempdir()) / "digest-bench-node"  # rss-to-email installed once, outside the repo
VENV = Path(tempfile.gettempdir()) / "digest-bench-venv"  # digest installed as users install it (not editable)


Run = tuple[list[str], object]  # a command and what to call, untimed, before each run of it


# CPU seconds (user + system) of each run, by name: steadier than wall time on a busy machine.
CPU: dict[str, list[float]] = {}


def seconds(command: list[str], cwd: Path, before: object = None, name: str = "") -> float:
    """Wall time of one run of the command (`before` is called first, untimed); exits if the command fails."""
    if callable(before):
        before()
    used = _children_cpu()
    began = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False,
                            env={**os.environ, "TERM": "dumb"})
    took = time.perf_counter() - began
    CPU.setdefault(name, []).append(_children_cpu() - used)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return took


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def alternated(runs: dict[str, Run], cwd: Path) -> dict[str, float]:
    """The median seconds of each command, run in turn, one of each, RUNS times."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(RUNS):
        for name, (command, before) in runs.items():
            times[name].append(seconds(command, cwd, before, name))
    return {name: statistics.median(values) for name, values in times.items()}


def cpu(name: str) -> float:
    """The median CPU seconds of the runs of `name`."""
    return statistics.median(CPU[name])


def median_seconds(command: list[str], cwd: Path, before: object = None) -> float:
    """Median wall time of the command over RUNS runs."""
    return alternated({"it": (command, before)}, cwd)["it"]


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


def rss_to_email(folder: Path, base: str) -> list[str] | None:
    """The rss-to-email command for the three feeds, or None without Node and npm."""
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
    return ["node", str(cli), "r2e.json", "r2e-out"]


def installed_python() -> str:
    """The Python of a virtual environment holding a regular install of this checkout (made again each run, so
    it is the code of now), compiled as an installed package is."""
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps", str(ROOT)],
                   check=True, capture_output=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(ROOT)], check=True, capture_output=True)
    # With PYTHONDONTWRITEBYTECODE set, each process would otherwise compile every module of digest.
    subprocess.run([str(python), "-m", "compileall", "-q", str(VENV / "lib")], check=True, capture_output=True)
    return str(python)


def main() -> int:
    """Print the figures; exit 1 when a target is missed."""
    python = installed_python()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server, base = serve(folder)
        try:
            config = web_config(folder, base)
            digest = [python, "-m", "digest"]
            help_s = median_seconds([*digest, "--help"], folder)
            status_s = median_seconds([*digest, "letters", "-c", str(config)], folder)
            language_s = language_cost(python, folder)
            runs: dict[str, Run] = {
                "floor": ([python, "-c", FLOOR], None),
                "default floor": ([python, "-c", DEFAULT_FLOOR], None),
                "default": ([*digest, "build", "-c", str(ROOT / "sources.toml"), "-o", str(folder / "default")],
                            None),
                "web floor": ([python, "-c", WEB_FLOOR], None),
                "web": ([*digest, "build", "-c", str(config), "--date", "2025-11-20"],
                        lambda: shutil.rmtree(folder / ".digest-cache", ignore_errors=True)),
            }
            node = rss_to_email(folder, base)
            if node:
                runs["rss-to-email"] = (node, None)
            took = alternated(runs, folder)
        finally:
            server.shutdown()
    return report(help_s, status_s, took, language_s)


# What the interface language adds to a command's start (issue 20): choosing it, putting click's words and every
# command's help through the catalogue, and reading the French catalogue for the first message.
LANGUAGE = """if True:
    import time
    import digest.cli as cli
    began = time.perf_counter()
    from digest import i18n
    i18n.use(i18n.choose_for_command(["--help"], {"DIGEST_LANG": "fr"}))
    from digest.cli.common import translate_click
    translate_click()
    cli.translate_helps(cli.main)
    i18n._("Usage:")
    print(time.perf_counter() - began)
"""


def language_cost(python: str, folder: Path) -> float:
    """The median, over RUNS fresh processes, of what the interface language adds to `digest --help`."""
    found = [float(subprocess.run([python, "-c", LANGUAGE], cwd=folder, capture_output=True, text=True,
                                  check=True).stdout) for _ in range(RUNS)]
    return statistics.median(found)


def report(help_s: float, status_s: float, took: dict[str, float], language_s: float) -> int:
    """Print the figures and the targets met; 0 when all are."""
    web, node, default = took["web"], took.get("rss-to-email"), took["default"]
    default_ratio = default / took["default floor"]
    print(f"digest --help: median {help_s:.2f} s; digest letters: {status_s:.2f} s; of which the interface "
          f"language (catalogue, click's words, every help text): {language_s * 1000:.1f} ms (target ≤ 20 ms)")
    print(f"default letter, whole process: median {default:.2f} s; its stack's floor (importing "
          f"{DEFAULT_FLOOR[7:]}): {took['default floor']:.2f} s, {default_ratio:.2f}×; without the calendar "
          f"and édito libraries {took['floor']:.2f} s, {default / took['floor']:.2f}×")
    print(f"three web feeds of 10 items, whole process: median {web:.2f} s; the floor with httpx: "
          f"{took['web floor']:.2f} s, {web / took['web floor']:.2f}×")
    print("rss-to-email 0.9 (Node), same feeds: " + (f"median {node:.2f} s, {node / web:.2f}× digest's time"
                                                     if node else "not measured (no Node/npm)"))
    print(f"CPU time (user + system), medians: default letter {cpu('default'):.2f} s, its floor "
          f"{cpu('default floor'):.2f} s ({cpu('default') / cpu('default floor'):.2f}×); "
          f"web letter {cpu('web'):.2f} s, "
          f"its floor {cpu('web floor'):.2f} s ({cpu('web') / cpu('web floor'):.2f}×)"
          + (f"; rss-to-email {cpu('rss-to-email'):.2f} s" if node else ""))
    ok = default_ratio <= 1.5 and (node is None or node >= web * 1.35) and language_s <= 0.020
    print(f"target: the default letter within 1.5× its stack's floor; the web letter at least 1.35× faster than "
          f"rss-to-email -> {'ok' if ok else 'MISSED'}")
    return 0 if ok else 1

if __name__ == "__main__":
    sys.exit(main())
