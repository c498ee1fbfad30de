"""`digest preview`: a local review server that rebuilds the letter when its inputs change.

The page shows the letter at desktop and phone widths, in dark mode, its text version, the subject and
preheader as an inbox lists them, and the pre-send report. A thread polls the inputs' modification times
(sources.toml, the templates, the issue files, local data files); each rebuild bumps a version that the open
page hears through server-sent events, and reloads. A failed rebuild keeps the last good letter on show.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from email.utils import parseaddr
from html import escape
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from digest import config
from digest.errors import DigestError
from digest.review import check

LOOPBACK = "127.0.0.1"
KEEPALIVE_SECONDS = 15.0  # an SSE comment now and then, so proxies and browsers keep the stream open
PHONE_WIDTHS = (320, 375, 414)
DESKTOP_WIDTH = 640  # the letter is 600 px wide; a little margin shows its background


@dataclass
class Snapshot:
    """What the page shows: the last good letter, its report, and the last rebuild's error if it failed."""

    version: int = 0
    html: str | None = None
    text: str = ""
    subject: str = ""
    preheader: str = ""
    sender: str = ""
    letter_date: str = ""
    findings: list[check.Finding] = field(default_factory=list)
    built_at: str = ""
    seconds: float = 0.0
    error: str | None = None


class Preview:
    """The letter under review: rebuilds it on demand or when a watched file changes, and tells waiters."""

    def __init__(self, config_path: Path, letter_date: date | None = None, poll: float = 0.5,
                 log: Callable[[str], None] = lambda _line: None, outbox: Path | None = None) -> None:
        self.config_path = Path(config_path)
        self.letter_date = letter_date
        self.outbox = outbox  # earlier letters there are not repeated (default: outbox/ beside sources.toml)
        self.poll = poll
        self.log = log
        self.snapshot = Snapshot()
        self.changed = threading.Condition()
        self.stopping = threading.Event()
        self._paths: set[Path] = {self.config_path}
        self._seen: dict[Path, int | None] = {}
        self._thread: threading.Thread | None = None

    def rebuild(self) -> Snapshot:
        """Build the letter without writing it and check it; on failure keep the last good letter."""
        began = time.perf_counter()
        previous = self.snapshot
        try:
            cfg = config.load(self.config_path)
            self._paths = watched_paths(cfg)
        except DigestError as exc:
            self._seen = mtimes(self._paths)
            return self._publish(_failed(previous, exc.format_message()))
        self._seen = mtimes(self._paths)  # taken before building: a change made during the build is seen next
        try:
            today = self.letter_date or cfg.letter.date or date.today()
            built, findings = check.build_and_check(cfg, today, self.outbox)
        except click.ClickException as exc:
            return self._publish(_failed(previous, exc.format_message()))
        except Exception as exc:  # a bug must not stop the preview: show it, keep serving the last letter
            traceback.print_exc(file=sys.stderr)
            return self._publish(_failed(previous, f"{type(exc).__name__}: {exc}"))
        rendered = built.rendered
        return self._publish(Snapshot(
            html=rendered.html, text=rendered.text, subject=rendered.subject, preheader=rendered.preheader,
            sender=built.letter.sender, letter_date=today.isoformat(), findings=findings,
            built_at=datetime.now().strftime("%H:%M:%S"), seconds=time.perf_counter() - began))

    def _publish(self, snapshot: Snapshot) -> Snapshot:
        with self.changed:
            snapshot.version = self.snapshot.version + 1
            self.snapshot = snapshot
            self.changed.notify_all()
        if snapshot.error:
            self.log(f"rebuild failed: {snapshot.error}")
        else:
            self.log(f"rebuilt in {snapshot.seconds * 1000:.0f} ms: {check.summary(snapshot.findings)}")
        return snapshot

    def wait(self, seen_version: int, timeout: float | None) -> Snapshot:
        """The snapshot once its version differs from `seen_version`, or after `timeout` seconds."""
        with self.changed:
            self.changed.wait_for(lambda: self.snapshot.version != seen_version or self.stopping.is_set(),
                                  timeout)
            return self.snapshot

    def start_watching(self, timeout: float | None = None) -> Snapshot:
        """Build, then poll the watched files and rebuild when one changes, appears or goes.

        Every build runs in one background thread (never two at once, and never in a thread that already
        runs an event loop); this returns once the first build is done, or after `timeout` seconds.
        """
        self._thread = threading.Thread(target=self._watch, name="digest-preview-watch", daemon=True)
        self._thread.start()
        return self.wait(0, timeout)

    def _watch(self) -> None:
        self.rebuild()
        while not self.stopping.wait(self.poll):
            if mtimes(self._paths) != self._seen:
                self.rebuild()

    def stop(self) -> None:
        """Stop watching and release every open event stream."""
        self.stopping.set()
        with self.changed:
            self.changed.notify_all()
        if self._thread:
            self._thread.join(timeout=5)


def watched_paths(cfg: config.Config) -> set[Path]:
    """sources.toml, every file of the template folder, the issue files, and the sources that are local files."""
    paths = {cfg.path}
    for templates in cfg.letter.templates:
        paths.update(p for p in templates.rglob("*") if p.is_file())
        paths.update(templates / name for name in config.TEMPLATE_NAMES)
    paths.add(cfg.root / "issues")  # its mtime changes when an issue file is added or removed
    paths.update((cfg.root / "issues").glob("*.toml"))
    paths.update(Path(s.location) for s in cfg.sources if not s.location.startswith(("http://", "https://")))
    return paths


def mtimes(paths: Iterable[Path]) -> dict[Path, int | None]:
    """Each path's modification time in nanoseconds, None for a missing file."""
    found: dict[Path, int | None] = {}
    for path in paths:
        try:
            found[path] = path.stat().st_mtime_ns
        except OSError:
            found[path] = None
    return found


def _failed(previous: Snapshot, message: str) -> Snapshot:
    """The previous snapshot (its letter and report) with the new error."""
    return Snapshot(html=previous.html, text=previous.text, subject=previous.subject,
                    preheader=previous.preheader, sender=previous.sender, letter_date=previous.letter_date,
                    findings=previous.findings, built_at=previous.built_at, seconds=previous.seconds,
                    error=message)


# --- the HTTP side ---------------------------------------------------------------------------------------


class PreviewServer(ThreadingHTTPServer):
    """A threading HTTP server that knows the preview it serves."""

    daemon_threads = True  # open event streams must not keep the process alive on Ctrl-C
    allow_reuse_address = True
    request_queue_size = 64  # a page opens several frames and a stream at once

    def __init__(self, address: tuple[str, int], preview: Preview) -> None:
        self.preview = preview
        super().__init__(address, Handler)

    @property
    def url(self) -> str:
        """The page's address, e.g. http://127.0.0.1:8000/."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"


class Handler(BaseHTTPRequestHandler):
    """The review page, the letter in its variants, the report as JSON, and the event stream."""

    server: PreviewServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        """Route a GET by its path."""
        snapshot = self.server.preview.snapshot
        path = urlsplit(self.path).path
        routes: dict[str, Callable[[], tuple[str, str]]] = {
            "/": lambda: ("text/html", page(snapshot)),
            "/letter.html": lambda: ("text/html", snapshot.html or _no_letter(snapshot)),
            "/letter-dark.html": lambda: ("text/html", dark(snapshot.html or _no_letter(snapshot))),
            "/letter.txt": lambda: ("text/plain", snapshot.text),
            "/report.json": lambda: ("application/json", report_json(snapshot)),
        }
        if path == "/events":
            self._events()
        elif path in routes:
            kind, body = routes[path]()
            self._send(HTTPStatus.OK, kind, body)
        else:
            self._send(HTTPStatus.NOT_FOUND, "text/plain", f"not found: {path}; the review page is at /\n")

    def _send(self, status: HTTPStatus, kind: str, body: str) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def _events(self) -> None:
        """Server-sent events: the current version at once, then one event per rebuild."""
        preview = self.server.preview
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        seen = -1
        try:
            while not preview.stopping.is_set():
                snapshot = preview.wait(seen, KEEPALIVE_SECONDS)
                if snapshot.version != seen:
                    seen = snapshot.version
                    payload = json.dumps({"version": seen, "ok": snapshot.error is None})
                    self.wfile.write(f"event: build\ndata: {payload}\n\n".encode())
                else:
                    self.wfile.write(b": keepalive\n\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return  # the page was closed or reloaded

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the preview prints rebuilds, not every request."""


def start_server(preview: Preview, host: str = LOOPBACK, port: int = 8000) -> PreviewServer:
    """Bind the server (port 0: any free port); a clear error when the port is taken."""
    try:
        return PreviewServer((host, port), preview)
    except OSError as exc:
        raise DigestError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
                          "pass another --port (0 picks a free one)") from None


def serve(preview: Preview, host: str, port: int, on_ready: Callable[[str], None]) -> None:
    """Build, serve until Ctrl-C, then stop cleanly (event streams closed, port released)."""
    server = start_server(preview, host, port)
    preview.start_watching()
    on_ready(server.url)
    try:
        server.serve_forever(poll_interval=0.25)
    except KeyboardInterrupt:
        pass
    finally:
        preview.stop()
        server.server_close()


# --- what the page shows ---------------------------------------------------------------------------------


DARK_QUERY = re.compile(r"\(\s*prefers-color-scheme\s*:\s*(dark|light)\s*\)", re.IGNORECASE)


def dark(html: str) -> str:
    """The letter as a client in dark mode that honours its prefers-color-scheme styles shows it."""
    forced = DARK_QUERY.sub(lambda m: "(min-width: 0px)" if m.group(1).lower() == "dark" else "(max-width: -1px)",
                            html)
    return forced.replace("</head>", "<style>:root { color-scheme: dark; }</style></head>", 1)


def report_json(snapshot: Snapshot) -> str:
    """The snapshot's report as JSON: version, error, summary and every finding."""
    return json.dumps({
        "version": snapshot.version, "error": snapshot.error, "built_at": snapshot.built_at,
        "summary": check.summary(snapshot.findings),
        "findings": [{"level": f.level, "check": f.check, "where": f.where, "message": f.message}
                     for f in snapshot.findings],
    }, ensure_ascii=False, indent=2)


def _no_letter(snapshot: Snapshot) -> str:
    message = escape(snapshot.error or "building…")
    return f"<!doctype html><meta charset=utf-8><title>No letter</title><p>No letter built yet.</p><pre>{message}</pre>"


def page(snapshot: Snapshot) -> str:
    """The review page for a snapshot."""
    version = snapshot.version
    return PAGE.format(
        version=version,
        title=escape(snapshot.subject or "digest preview"),
        status=_status(snapshot),
        error=_error(snapshot),
        inbox=_inbox(snapshot),
        phone_buttons="".join(f'<button type="button" data-width="{w}"{" class=on" if w == 375 else ""}>{w}</button>'
                              for w in PHONE_WIDTHS),
        desktop=DESKTOP_WIDTH,
        text=escape(snapshot.text),
        report=_report(snapshot.findings),
    )


def _status(snapshot: Snapshot) -> str:
    if snapshot.html is None:
        return "no letter built yet"
    return (f"letter of {escape(snapshot.letter_date)}, built at {escape(snapshot.built_at)} in "
            f"{snapshot.seconds * 1000:.0f} ms · {len(snapshot.html.encode('utf-8')) / 1024:.1f} KB · "
            f"{escape(check.summary(snapshot.findings))}")


def _error(snapshot: Snapshot) -> str:
    if not snapshot.error:
        return ""
    keeping = "Showing the last good letter, built at " + escape(snapshot.built_at) if snapshot.html else \
        "No letter could be built yet."
    return (f'<section id="build-error" role="alert"><h2>The last rebuild failed</h2>'
            f"<pre>{escape(snapshot.error)}</pre><p>{keeping}. Fix the file and save: the page reloads.</p></section>")


def _inbox(snapshot: Snapshot) -> str:
    name, address = parseaddr(snapshot.sender)
    sender = escape(name or address)
    subject, preheader = escape(snapshot.subject), escape(snapshot.preheader)
    return (f'<div class="inbox desktop"><b>{sender}</b><span class="line"><b id="subject">{subject}</b>'
            f' <span class="pre">– <span id="preheader">{preheader}</span></span></span></div>'
            f'<div class="inbox phone"><b>{sender}</b><b class="one">{subject}</b>'
            f'<span class="two">{preheader}</span></div>')


def _report(findings: list[check.Finding]) -> str:
    if not findings:
        return '<p class="ok">No problem found.</p>'
    rows = "".join(f'<tr class="{f.level}"><td>{f.level}</td><td>{escape(f.check)}</td><td>{escape(f.where)}</td>'
                   f"<td>{escape(f.message)}</td></tr>" for f in findings)
    return (f"<p>{escape(check.summary(findings))}</p><table><thead><tr><th>level</th><th>check</th><th>where</th>"
            f"<th>what</th></tr></thead><tbody>{rows}</tbody></table>")


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Preview · {title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 0; background: #f3f4f6; color: #111827; }}
header {{ background: #16365f; color: #fff; padding: 10px 20px; }} header h1 {{ font-size: 16px; margin: 0; }}
main {{ padding: 12px 20px 40px; }} h2 {{ font-size: 15px; margin: 18px 0 8px; }}
#build-error {{ background: #fde8e8; border: 2px solid #c81e1e; padding: 8px 14px; margin: 10px 0; }}
#build-error pre {{ white-space: pre-wrap; color: #7f1d1d; }}
.inbox {{ background: #fff; border: 1px solid #d1d5db; padding: 8px 12px; margin: 6px 0; overflow: hidden; }}
.inbox.desktop {{ display: flex; gap: 16px; white-space: nowrap; max-width: 900px; }}
.inbox.desktop b:first-child {{ width: 150px; flex: none; overflow: hidden; text-overflow: ellipsis; }}
.inbox .line {{ overflow: hidden; text-overflow: ellipsis; }} .inbox .pre {{ color: #5f6368; }}
.inbox.phone {{ width: 351px; display: flex; flex-direction: column; }}
.inbox.phone .one {{ white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }}
.inbox.phone .two {{ color: #5f6368; display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical;
  overflow: hidden; }}
.frames {{ display: flex; flex-wrap: wrap; gap: 20px; align-items: flex-start; }}
figure {{ margin: 0; }} figcaption {{ font-weight: 600; margin-bottom: 4px; }}
iframe {{ border: 1px solid #9ca3af; background: #fff; height: 900px; display: block; }}
#dark-frame {{ background: #000; }}
button {{ font: inherit; padding: 1px 8px; }} button.on {{ background: #16365f; color: #fff; }}
pre.text {{ background: #fff; border: 1px solid #d1d5db; padding: 12px; max-width: 640px; overflow-x: auto; }}
table {{ border-collapse: collapse; background: #fff; width: 100%; }}
td, th {{ border: 1px solid #e5e7eb; padding: 4px 8px; text-align: left; vertical-align: top; }}
td:nth-child(-n+2) {{ white-space: nowrap; }}
tr.error td:first-child {{ color: #fff; background: #c81e1e; font-weight: 600; }}
tr.warning td:first-child {{ background: #fdf6b2; }} .ok {{ color: #03543f; font-weight: 600; }}
</style></head>
<body data-version="{version}">
<header><h1>digest preview</h1><div id="status">{status}</div></header>
<main>
{error}
<h2>In the inbox</h2>
{inbox}
<div class="frames">
<figure><figcaption>Desktop ({desktop} px)</figcaption>
<iframe id="desktop-frame" title="The letter on a desktop" src="/letter.html?v={version}" width="{desktop}"></iframe>
</figure>
<figure><figcaption>Phone <span id="phone-width">375</span> px {phone_buttons}</figcaption>
<iframe id="phone-frame" title="The letter on a phone" src="/letter.html?v={version}" width="375"></iframe>
</figure>
<figure><figcaption title="As Apple Mail and Outlook for Mac show it, applying the letter's
prefers-color-scheme styles; Gmail ignores them and inverts colours its own way.">Dark mode</figcaption>
<iframe id="dark-frame" title="The letter in dark mode" src="/letter-dark.html?v={version}" width="375"></iframe>
</figure>
</div>
<h2>Pre-send report</h2>
<div id="report">{report}</div>
<h2>Text version</h2>
<pre class="text" id="text">{text}</pre>
</main>
<script>
const version = Number(document.body.dataset.version);
function fit(frame) {{
  const doc = frame.contentDocument;
  if (doc && doc.documentElement) frame.style.height = (doc.documentElement.scrollHeight + 2) + "px";
}}
for (const frame of document.querySelectorAll("iframe")) frame.addEventListener("load", () => fit(frame));
for (const button of document.querySelectorAll("button[data-width]")) {{
  button.addEventListener("click", () => {{
    const frame = document.getElementById("phone-frame");
    frame.width = button.dataset.width;
    document.getElementById("phone-width").textContent = button.dataset.width;
    sessionStorage.setItem("phone-width", button.dataset.width);
    for (const other of document.querySelectorAll("button[data-width]")) other.classList.toggle("on", other === button);
    setTimeout(() => fit(frame), 50);
  }});
}}
const width = sessionStorage.getItem("phone-width");
if (width) document.querySelector(`button[data-width="${{width}}"]`)?.click();
const scroll = sessionStorage.getItem("scroll");
if (scroll) {{
  sessionStorage.removeItem("scroll");
  window.addEventListener("load", () => scrollTo(0, Number(scroll)));
}}
const events = new EventSource("/events");
events.addEventListener("build", (event) => {{
  if (JSON.parse(event.data).version !== version) {{
    sessionStorage.setItem("scroll", String(scrollY));
    location.reload();
  }}
}});
</script>
</body></html>
"""
