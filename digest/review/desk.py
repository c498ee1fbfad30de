"""`digest preview`: the editorial desk, a local web page where the team makes the month's letter.

The page lists every candidate item with its actions, the subject, preheader, editorial and section order; each
change is written at once to issues/<YYYY-MM>.toml (digest.edit.issueedit) and the letter beside it rebuilds.
Served by uvicorn on loopback; safe on a shared machine: only requests whose Host is the address served are
answered (DNS rebinding), every change carries the session's token, the page sends a Content-Security-Policy
and X-Frame-Options, and the letter shows in a sandboxed frame whose own policy forbids scripts.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import secrets
import socket
import tempfile
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import anyio.to_thread
import click
import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digest import letterfolder
from digest.config import Config
from digest.edit import issueedit
from digest.errors import DigestError
from digest.review import deskview
from digest.review.preview import Preview, Snapshot, dark

LOOPBACK = "127.0.0.1"
KEEPALIVE_SECONDS = 15.0  # an SSE comment now and then, so browsers keep the stream open
MAX_FORM_BYTES = 256 * 1024  # an editorial is a few KB: anything larger is refused unread
MAX_FIELDS = 64  # the largest form (Ajouter un article) has a dozen fields
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: http: data:; "
               "frame-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
# The letter: no script at all (the frame's sandbox forbids them too), shown only inside the desk.
LETTER_POLICY = ("default-src 'none'; img-src https: http: data: cid:; style-src 'unsafe-inline'; "
                 "font-src https: data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'")
TEXT_TYPES = {"letter.html": "text/html", "letter-dark.html": "text/html", "letter.txt": "text/plain"}


class Desk:
    """The desk's state: the letter under review, the session's token and the addresses it answers to."""

    def __init__(self, preview: Preview) -> None:
        self.preview = preview
        self.token = secrets.token_urlsafe(32)  # made anew each session: a page of an older session cannot post
        self.hosts: set[str] = set()
        self.origins: set[str] = set()

    def serve_at(self, host: str, port: int) -> None:
        """Answer requests for this address only (Host header), and changes from its own pages (Origin)."""
        names = {host}
        if _is_loopback(host):
            names |= {"localhost", LOOPBACK}
        elif _is_unspecified(host):  # every interface: the machine's own name and loopback, never another name
            names |= {"localhost", LOOPBACK, socket.gethostname()}
        shown = {f"[{n}]" if ":" in n else n for n in names}
        self.hosts = {f"{n}:{port}" for n in shown}
        self.origins = {f"http://{h}" for h in self.hosts}

    @property
    def config(self) -> Config | None:
        """The configuration the last build read."""
        return self.preview.config


def _is_unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- security: Host check and headers on every response ------------------------------------------------


class Guard:
    """ASGI middleware: refuses a Host that is not the address served, and adds the security headers."""

    def __init__(self, app: ASGIApp, desk: Desk) -> None:
        self.app = app
        self.desk = desk

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host", "")
        if host not in self.desk.hosts:
            # A page of another site that made its name point here (DNS rebinding) reads nothing.
            refused = PlainTextResponse(f"Adresse non reconnue : ce serveur ne répond qu'à "
                                        f"{', '.join(sorted(self.desk.hosts))}.\n", status_code=421)
            await refused(scope, receive, _headers(send))
            return
        await self.app(scope, receive, _headers(send))


def _headers(send: Send) -> Send:
    """Add the page's Content-Security-Policy (unless the response has its own) and the other headers."""
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            names = {name.lower() for name, _ in headers}
            extra = {b"content-security-policy": PAGE_POLICY.encode(), b"x-frame-options": b"DENY",
                     b"x-content-type-options": b"nosniff", b"referrer-policy": b"no-referrer",
                     b"cache-control": b"no-store"}
            headers += [(name, value) for name, value in extra.items() if name not in names]
            message = {**message, "headers": headers}
        await send(message)
    return sending


async def _form(request: Request, desk: Desk) -> dict[str, str]:
    """The posted form, once its size, origin and session token are checked; DeskRefusal otherwise."""
    if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
        raise DeskRefusal(413, "Formulaire trop long.")
    data = await request.body()
    if len(data) > MAX_FORM_BYTES:
        raise DeskRefusal(413, "Formulaire trop long.")
    origin = request.headers.get("origin")
    if origin is not None and origin not in desk.origins:
        raise DeskRefusal(403, "Requête venue d'une autre page : refusée.")
    try:
        fields = parse_qs(data.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise DeskRefusal(413, "Formulaire trop long.") from None
    form = {key: values[-1] for key, values in fields.items()}
    if not hmac.compare_digest(form.get("token", ""), desk.token):
        raise DeskRefusal(403, "Jeton de session absent ou périmé : rechargez la page.")
    return form


class DeskRefusal(Exception):
    """A request the desk refuses, with its HTTP status and a message in French."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --- changes to the issue file -----------------------------------------------------------------------------


def change_for(form: Mapping[str, str], current_order: list[str]) -> issueedit.Change:
    """The issue-file change a posted form asks for; DeskRefusal for an unknown one."""
    op, name = form.get("op", ""), form.get("name", "")
    needs_name = {"exclude", "include", "pin", "feature", "move", "override"}
    if op in needs_name and not name:
        raise DeskRefusal(400, "Article non précisé.")
    if op == "exclude":
        return issueedit.exclude(name)
    if op == "include":
        return issueedit.include(name)
    if op in ("pin", "feature"):
        return issueedit.toggle("pin" if op == "pin" else "featured", name)
    if op == "move" and form.get("key") in ("pin", "featured") and form.get("direction") in issueedit.MOVES:
        return issueedit.move(form["key"], name, form["direction"])
    if op == "override":
        return issueedit.override(name, form)
    if op == "add":
        return issueedit.add_item(form)
    if op == "words":
        return _words(form)
    if op == "section" and name in current_order and form.get("direction") in issueedit.MOVES:
        order = list(current_order)
        index = order.index(name)
        other = index + issueedit.MOVES[form["direction"]]
        if 0 <= other < len(order):
            order[index], order[other] = order[other], order[index]
        return issueedit.set_sections(order)
    raise DeskRefusal(400, f"Action inconnue : {op!r}.")


def _words(form: Mapping[str, str]) -> issueedit.Change:
    """Subject, preheader and editorial, each only if the form carries it."""
    changes = [issueedit.set_text(key, form[key]) for key in ("subject", "preheader") if key in form]
    if "editorial" in form:
        changes.append(issueedit.set_editorial(form["editorial"]))

    def change(document: Any) -> None:
        for one in changes:
            one(document)
    return change


def save(desk: Desk, form: Mapping[str, str]) -> tuple[Snapshot, str]:
    """Apply the change to the issue file and rebuild, under the build lock; the new snapshot and a message."""
    preview = desk.preview
    with preview.building:
        snapshot, cfg = preview.snapshot, preview.config
        if cfg is None or snapshot.issue_path is None:
            raise DeskRefusal(409, "La configuration ne se charge pas : corrigez sources.toml d'abord.")
        issue = snapshot.built.prepared.issue if snapshot.built else None
        order = [s.id for s in deskview.section_order(cfg, issue)] if issue else [s.id for s in cfg.sections]
        change = change_for(form, order)
        try:
            issueedit.apply(cfg, snapshot.issue_path, form.get("version", ""), change)
        except issueedit.Conflict as exc:
            preview.rebuild_if_changed()  # the page then shows the file as it is on disk
            raise DeskRefusal(409, exc.message) from None
        except issueedit.Refused as exc:
            raise DeskRefusal(422, exc.message) from None
        return preview.rebuild(), "Enregistré."


# --- the test send ------------------------------------------------------------------------------------------


def test_send(desk: Desk, typed: str) -> str:
    """Send the letter on show to the typed addresses (else [preview] test_to); the outcome in French."""
    from digest.delivery import personalize
    from digest.delivery import smtp as send

    snapshot, cfg = desk.preview.snapshot, desk.preview.config
    if snapshot.built is None or cfg is None:
        return "Aucune lettre à envoyer : la construction a échoué."
    addresses = [a.strip() for a in typed.replace(";", ",").split(",") if a.strip()] or list(cfg.preview.test_to)
    if not addresses:
        return "Indiquez au moins une adresse (ou [preview] test_to dans sources.toml)."
    built = snapshot.built
    try:
        recipients = personalize.recipients_of(addresses)
        # The letter on show, written to a private temporary folder (never the public outbox) for the sender.
        with tempfile.TemporaryDirectory(prefix="digest-test-") as folder:
            letterfolder.write_letter(Path(folder), built.letter, built.rendered, built.eml)
            job = send.load_job(cfg, built.letter.date, Path(folder), test=True)
            report = send.send_test(job.personalizer, recipients, send.connection_for(cfg))
    except click.ClickException as exc:
        return f"Test non envoyé : {exc.format_message()}"
    if report.sent == len(recipients):
        return f"Test envoyé à {', '.join(r.email for r in recipients)} (objet « [TEST] {built.rendered.subject} »)."
    failed = [*(e for e, _ in report.failed), *(e for e, _ in report.deferred), *report.unknown]
    return f"Test envoyé à {report.sent} adresse(s) sur {len(recipients)} ; échec pour : {', '.join(failed)}."


# --- the app -----------------------------------------------------------------------------------------------


def create_app(desk: Desk) -> ASGIApp:
    """The desk's ASGI application (Starlette), wrapped in its Host check and security headers."""
    Endpoint = Callable[[Request], Awaitable[Response]]

    async def home(request: Request) -> Response:
        snapshot = desk.preview.snapshot
        return Response(deskview.page(desk.config, snapshot, desk.token), media_type="text/html")

    async def state(request: Request) -> Response:
        snapshot, cfg = desk.preview.snapshot, desk.config
        issue = snapshot.built.prepared.issue if snapshot.built else None
        return JSONResponse({
            "version": snapshot.version, "issue_version": snapshot.issue_version,
            "parts": deskview.parts(cfg, snapshot, desk.token),
            "words": {"subject": (issue.subject or "") if issue else "",
                      "preheader": (issue.preheader or "") if issue else "",
                      "editorial": issue.editorial if issue else ""},
            "placeholders": {"subject": snapshot.subject, "preheader": snapshot.preheader},
        })

    def letter(name: str) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            snapshot = desk.preview.snapshot
            html = snapshot.html or _no_letter(snapshot)
            body = {"letter.html": html, "letter-dark.html": dark(html), "letter.txt": snapshot.text}[name]
            return Response(body, media_type=TEXT_TYPES[name],
                            headers={"Content-Security-Policy": LETTER_POLICY, "X-Frame-Options": "SAMEORIGIN"})
        return endpoint

    async def report(request: Request) -> Response:
        snapshot = desk.preview.snapshot
        return JSONResponse({
            "version": snapshot.version, "error": snapshot.error, "built_at": snapshot.built_at,
            "findings": [{"level": f.level, "check": f.check, "where": f.where, "message": f.message}
                         for f in snapshot.findings]})

    async def action(request: Request) -> Response:
        wants_json = "application/json" in request.headers.get("accept", "")
        try:
            form = await _form(request, desk)
            snapshot, message = await anyio.to_thread.run_sync(save, desk, form)
        except DeskRefusal as refusal:
            if wants_json:
                return JSONResponse({"ok": False, "message": refusal.message}, status_code=refusal.status)
            return PlainTextResponse(refusal.message + "\n", status_code=refusal.status)
        if not wants_json:
            return RedirectResponse("/", status_code=303)  # a form posted without script: back to the page
        return JSONResponse({"ok": True, "message": message, "version": snapshot.version,
                             "issue_version": snapshot.issue_version})

    async def send_test(request: Request) -> Response:
        try:
            form = await _form(request, desk)
        except DeskRefusal as refusal:
            return JSONResponse({"ok": False, "message": refusal.message}, status_code=refusal.status)
        message = await anyio.to_thread.run_sync(test_send, desk, form.get("to", ""))
        return JSONResponse({"ok": message.startswith("Test envoyé à") and "échec" not in message,
                             "message": message})

    async def events(request: Request) -> Response:
        return StreamingResponse(_stream(desk), media_type="text/event-stream")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        kinds = {"desk.css": "text/css", "desk.js": "text/javascript"}
        if name not in kinds:
            return PlainTextResponse("introuvable\n", status_code=404)
        return Response((deskview.STATIC / name).read_text(encoding="utf-8"), media_type=kinds[name])

    routes = [
        Route("/", home), Route("/state", state), Route("/report.json", report),
        *(Route(f"/{name}", letter(name)) for name in TEXT_TYPES),
        Route("/action", action, methods=["POST"]), Route("/test-send", send_test, methods=["POST"]),
        Route("/events", events), Route("/static/{name}", static),
    ]
    return Guard(Starlette(routes=routes), desk)


async def _stream(desk: Desk) -> AsyncIterator[str]:
    """Server-sent events: the current version at once, then one event per rebuild, until the desk stops."""
    seen = -1
    preview = desk.preview
    while not preview.stopping.is_set():
        snapshot = await anyio.to_thread.run_sync(preview.wait, seen, 1.0, abandon_on_cancel=True)
        if snapshot.version != seen:
            seen = snapshot.version
            yield f"event: build\ndata: {json.dumps({'version': seen, 'ok': snapshot.error is None})}\n\n"
        else:
            yield ": keepalive\n\n"


def _no_letter(snapshot: Snapshot) -> str:
    from html import escape

    message = escape(snapshot.error or "construction en cours…")
    return ("<!doctype html><meta charset=utf-8><title>Pas de lettre</title><p>Pas encore de lettre construite.</p>"
            f"<pre>{message}</pre>")


# --- serving -----------------------------------------------------------------------------------------------


class Server(uvicorn.Server):
    """uvicorn's server that also stops the desk (its watcher and event streams) on Ctrl-C."""

    def __init__(self, desk: Desk, app: ASGIApp) -> None:
        super().__init__(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                        timeout_graceful_shutdown=2))
        self.desk = desk

    def handle_exit(self, sig: int, frame: Any) -> None:
        """Release the open event streams at once, then let uvicorn stop."""
        self.desk.preview.stopping.set()
        with self.desk.preview.changed:
            self.desk.preview.changed.notify_all()
        super().handle_exit(sig, frame)


def bind(host: str, port: int) -> socket.socket:
    """The listening socket (port 0: any free port); a clear error when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise DigestError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
                          "pass another --port (0 picks a free one)") from None
    sock.listen(64)
    sock.setblocking(False)
    return sock


class Running:
    """A desk served in a background thread (for tests and benchmarks): its url, and stop()."""

    def __init__(self, preview: Preview, host: str = LOOPBACK, port: int = 0) -> None:
        self.desk = Desk(preview)
        self.sock = bind(host, port)
        bound = self.sock.getsockname()[1]
        self.desk.serve_at(host, bound)
        self.url = f"http://{host}:{bound}/"
        self.server = Server(self.desk, create_app(self.desk))
        self.thread = threading.Thread(target=self._run, name="digest-desk", daemon=True)

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.sock]))

    def start(self) -> Running:
        """Serve; returns once the server accepts connections."""
        self.thread.start()
        while not self.server.started and self.thread.is_alive():
            threading.Event().wait(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.desk.preview.stopping.set()
        with self.desk.preview.changed:
            self.desk.preview.changed.notify_all()
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


def serve(preview: Preview, host: str, port: int, on_ready: Callable[[str], None]) -> None:
    """Build, serve until Ctrl-C, then stop cleanly (event streams closed, port released)."""
    sock = bind(host, port)
    desk = Desk(preview)
    bound = sock.getsockname()[1]
    desk.serve_at(host, bound)
    server = Server(desk, create_app(desk))
    preview.start_watching()
    on_ready(f"http://{f'[{host}]' if ':' in host else host}:{bound}/")
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn raises Ctrl-C again once it has stopped: the stop is the expected end
    finally:
        preview.stop()
        sock.close()
