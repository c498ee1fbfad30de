"""What every web page of digest stands on: the public app (`digest serve`, digest.web.public) and the desk
(`digest preview`, digest.review.desk) alike, and the public forms to come.

- `Guard`, an ASGI middleware: the Host and Origin checks (when the app knows its own address), the body limit,
  the security headers on every answer, and one log line per refusal.
- The French page shell (`page`) and the error pages (`error_handlers`), never a traceback.
- `Login`: a one-time secret in a printed URL becomes an HttpOnly, SameSite=Strict cookie (as Jupyter does).
- From digest.hosts (light, for the sender too): `is_loopback`, `host_names`, `bind` (a clear error for a
  busy port).
- `Protocol` and `serving_options`: uvicorn's HTTP protocol with a deadline for a request's headers, where a slow
  client keeps no slot when a new one comes, and the limits `digest serve` runs with.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import logging
import re
import secrets
import sys
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
from jinja2 import Environment
from markupsafe import Markup, escape
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from digest.config import LookConfig
from digest.i18n import N_, _, current, speaking, team
from digest.web import style

# The shell's pages: their one inline style (allowed by its hash), forms to this site only, never framed.
SHELL_POLICY = ("default-src 'none'; style-src {style}; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                "base-uri 'none'")
HEADERS = {"x-frame-options": "DENY", "referrer-policy": "no-referrer", "x-content-type-options": "nosniff"}
HEADER_SECONDS = 10.0  # a request's line and headers must all arrive within this (slowloris)
IDLE_SECONDS = 5  # uvicorn's timeout_keep_alive: an idle kept-alive connection is closed after this
MAX_CONNECTIONS = 200  # above this many open connections, a new one closes the oldest still sending headers
MAX_IN_FLIGHT = 256  # uvicorn's limit_concurrency: above it (connections or requests), requests are answered 503
MAX_HEADER_BYTES = 16 * 1024  # h11's max incomplete event size: a request line and headers larger are refused

PAGE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{{ heading }}{% if title %} · {{ title }}{% endif %}</title>
<link rel="icon" href="/favicon.ico"><style>{{ css }}</style></head>
<body><header class="shell-header">{{ title }}</header><main class="shell-main"><h1>{{ heading }}</h1>
{% for line in lines %}<p>{{ line }}</p>
{% endfor %}{{ form }}{% if button %}<form method="post" action="{{ action }}">
<input type="hidden" name="action" value="{{ button.action }}">
<button type="submit"{% if button.second %} class="secondary"{% endif %}>{{ button.label }}</button></form>
{% endif %}</main></body></html>
"""
_PAGES = Environment(autoescape=True).from_string(PAGE)
ERRORS = {  # translated where shown
    400: (N_("Request refused"), N_("Your browser sent a request this site does not handle.")),
    403: (N_("Access refused"), N_("This page is not for this request.")),
    404: (N_("Page not found"), N_("This address leads nowhere on this site.")),
    405: (N_("Method not allowed"), N_("Your browser sent a request this site does not handle.")),
    413: (N_("Request too large"), N_("This site does not accept such uploads.")),
    421: (N_("Address not recognised"), N_("This server does not answer under this name.")),
    431: (N_("Request too large"), N_("Your browser sent more headers than this site accepts.")),
}


@dataclass(frozen=True)
class Button:
    """The page's one form: its action field and label."""

    action: str
    label: str
    second: bool = False


_LOOK: list[LookConfig | None] = [None]  # the [look] of the letter this process serves (use_look)


def use_look(chosen: LookConfig | None) -> None:
    """Dress every page of this process in this [look] (digest serve and the desk call it as they start)."""
    _LOOK[0] = chosen


def shell_css() -> str:
    """The stylesheet of the shell's pages: digest's one stylesheet in the [look] served."""
    return style.sheet(_LOOK[0])


def shell_policy(css: str | None = None) -> str:
    """The shell's Content-Security-Policy: its own inline style, by hash, and nothing else."""
    return SHELL_POLICY.format(style=style.source_hash(css if css is not None else shell_css()))


def page(status: int, heading: str, lines: list[str], title: str, *, button: Button | None = None,
         action: str = "", headers: dict[str, str] | None = None, form: Markup | None = None) -> HTMLResponse:
    """A page in the reader's language, in the letter's colours, with its own policy; never cached (it may name an
    address). `form`: markup of a page's own form (escaped by its maker), after the lines."""
    css = shell_css()
    body = _PAGES.render(title=title, heading=heading, lines=lines, button=button, action=action, form=form or "",
                         lang=current(), css=Markup(css))  # digest's own sheet, never a visitor's words
    return HTMLResponse(body, status_code=status, headers={
        "cache-control": "no-store", "content-security-policy": shell_policy(css), **(headers or {})})


def favicon(title: str) -> Response:
    """The favicon of every page: the letter's initial in its header colour (cached a day: it rarely changes)."""
    chosen = _LOOK[0] or LookConfig()
    return Response(style.favicon(title, chosen.header), media_type="image/x-icon",
                    headers={"cache-control": "public, max-age=86400"})


def linked(text: str, url: str) -> Markup:
    """A page's line (escaped) whose address is a link one can click."""
    shown = escape(url)
    return Markup(str(escape(text)).replace(str(shown), f'<a href="{shown}">{shown}</a>'))


def linked_back(text: str, url: str) -> Markup:
    """A button-like link back to where the reader came from (escaped)."""
    return Markup(f'<p><a class="button secondary" href="{escape(url)}">{escape(text)}</a></p>')


def refusal(status: int, heading: str, lines: list[str], title: str, asked: Headers) -> Response:
    """A refusal: the French page, or for a page's script (Accept: application/json) the same words as JSON,
    which the desk's script shows as it shows its own refusals."""
    if "application/json" in asked.get("accept", ""):
        return JSONResponse({"ok": False, "message": " ".join(lines)}, status_code=status,
                            headers={"cache-control": "no-store"})
    return page(status, heading, lines, title)


def error_page(status: int, title: str, headers: dict[str, str] | None = None) -> HTMLResponse:
    """The plain French page for an HTTP error status."""
    heading, line = ERRORS.get(status, ERRORS[400])
    return page(status, _(heading), [_(line)], title, headers=headers)


def error_handlers(title: str, log: logging.Logger) -> dict[Any, Callable[..., Any]]:
    """Starlette's exception handlers: each HTTP error a French page (405 keeps its Allow), a bug a 500 page."""
    async def failed(request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            return error_page(exc.status_code, title, dict(exc.headers or {}))
        log.error(N_("error while answering %s %s: %s"), request.method, request.url.path, type(exc).__name__)
        return page(500, _("Server error"), [_("An error keeps us from answering. Try again in a moment.")], title)

    async def gone(request: Request, exc: Exception) -> Response:
        # A client that goes away mid-body is no error of ours: one quiet line, no traceback, no 500.
        log.info(N_("%s %s: the client went away before the end of its request"), request.method, request.url.path)
        return Response(status_code=400)
    return {HTTPException: failed, ClientDisconnect: gone, Exception: failed}


# --- the guard around every app ------------------------------------------------------------------------------


class Guard:
    """ASGI middleware: Host and Origin checks (when `hosts` is given), the body limit, the security headers
    (the app's default policy where a response has none of its own), one log line per refusal."""

    def __init__(self, app: ASGIApp, *, max_body: int | Callable[[str], int], policy: str, log: logging.Logger,
                 title: str = "",
                 hosts: Callable[[], set[str]] | None = None, no_store: bool = False,
                 language: Callable[[Headers], str] | None = None) -> None:
        self.app = app
        self.language = language  # the request's language (the desk's cookie, the letter's for subscribers)
        self.max_body = max_body
        self.policy = policy
        self.log = log
        self.title = title
        self.hosts = hosts
        self.no_store = no_store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self.language is None:
            await self._answer(scope, receive, send, headers)
            return
        with speaking(self.language(headers)):
            await self._answer(scope, receive, send, headers)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, headers: Headers) -> None:
        """The app's answer, or the guard's refusal, with the security headers."""
        secured = self._secured(scope, send)
        # A body's cap may depend on the page: a photo for the contribution form, a few dozen bytes elsewhere.
        most = self.max_body(str(scope["path"])) if callable(self.max_body) else self.max_body
        refused = self._refusal(scope["method"], headers, most) or _over_size(scope, headers, self.title)
        if refused is not None:
            # A refusal is a page of the shell (or JSON for a script): its own policy, which allows its own style
            # and nothing else; the app's policy (the desk's `style-src 'self'`) would leave it unstyled.
            await refused(scope, receive, secured)
            return
        received = 0

        async def bounded() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > most:  # a chunked body with no length: stop reading it
                raise HTTPException(413)
            return message

        await self.app(scope, bounded, secured)

    def _refusal(self, method: str, headers: Headers, most: int) -> Response | None:
        """The answer to a request refused before the app sees it, else None."""
        length = headers.get("content-length", "0")
        if not length.isdigit() or int(length) > most:
            heading, line = ERRORS[413]
            return refusal(413, _(heading), [_(line)], self.title, headers)
        if self.hosts is None:
            return None
        hosts = self.hosts()
        if headers.get("host", "") not in hosts:
            # A page of another site that made its name point here (DNS rebinding) reads nothing.
            return refusal(421, _("Address not recognised"), [
                _("This server answers only to {hosts}.").format(hosts=", ".join(sorted(hosts)))], self.title,
                headers)
        origin = headers.get("origin")
        if method not in ("GET", "HEAD") and origin is not None and origin not in {f"http://{h}" for h in hosts}:
            return refusal(403, _("Request refused"), [_("A request from another page: refused.")], self.title,
                           headers)
        return None

    def _secured(self, scope: Scope, send: Send) -> Send:
        async def secured(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                extra = {**{k.encode(): v.encode() for k, v in HEADERS.items()},
                         b"content-security-policy": self.policy.encode()}
                if self.no_store:
                    extra[b"cache-control"] = b"no-store"
                headers += [(name, value) for name, value in extra.items() if name not in names]
                message["headers"] = headers
                status = int(message["status"])
                if status >= 400 and status != 404:  # 404s are every scanner's noise; the rest is worth a line
                    self.log.warning(N_("refused %s %s: %d"), scope["method"], scope["path"][:200], status)
            await send(message)

        return secured


# uvicorn's own lines, as the team reads them (uvicorn writes some with the number already in).
UVICORN_LINES = tuple((re.compile(pattern), words) for pattern, words in (
    (r"Started server process \[(?P<pid>\d+)\]", N_("server process {pid} started")),
    (r"Started parent process \[(?P<pid>\d+)\]", N_("parent process {pid} started")),
    (r"Waiting for application startup\.", N_("starting")),
    (r"Application startup complete\.", N_("ready")),
    (r"Uvicorn running on (?P<url>\S+) \(Press CTRL\+C to quit\)", N_("listening on {url} (Ctrl-C stops it)")),
    (r"Shutting down", N_("stopping")),
    (r"Waiting for application shutdown\.", N_("closing")),
    (r"Application shutdown complete\.", N_("closed")),
    (r"Finished server process \[(?P<pid>\d+)\]", N_("server process {pid} finished")),
    (r"Received SIG(?P<signal>\w+), exiting\.", N_("SIG{signal} received: stopping")),
    (r"Terminated child process \[(?P<pid>\d+)\]", N_("worker {pid} stopped")),
    (r"Waiting for child process \[(?P<pid>\d+)\]", N_("waiting for worker {pid}")),
    (r"Stopping parent process \[(?P<pid>\d+)\]", N_("parent process {pid} stopping")),
    (r"Child process \[(?P<pid>\d+)\] died", N_("worker {pid} died")),
))
LEVEL_WORDS = {logging.WARNING: N_("warning"), logging.ERROR: N_("error"), logging.CRITICAL: N_("error")}


class TeamLines(logging.Formatter):
    """A line of `digest serve`'s log in the team's language: the time, "attention" or "erreur" when it is one,
    the message (digest's own are marked for the catalogue; uvicorn's are matched to its words)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line."""
        text = _uvicorn_line(record.getMessage()) if record.name.startswith("uvicorn") else _digest_line(record)
        level = LEVEL_WORDS.get(record.levelno)
        stamp = self.formatTime(record, "%Y-%m-%d %H:%M:%S")
        return f"{stamp} {team(level)}: {text}" if level else f"{stamp} {text}"


def _digest_line(record: logging.LogRecord) -> str:
    message = team(str(record.msg))
    try:
        return message % record.args if record.args else message
    except (TypeError, ValueError):  # a translation that lost a placeholder: the English line, whole
        return record.getMessage()


def _uvicorn_line(text: str) -> str:
    for pattern, words in UVICORN_LINES:
        found = pattern.fullmatch(text)
        if found:
            return team(words).format(**found.groupdict())
    return text


def log_config() -> dict[str, Any]:
    """uvicorn's logging, through TeamLines (its access log stays off: its lines would carry tokens)."""
    return {"version": 1, "disable_existing_loggers": False,
            "formatters": {"team": {"()": "digest.web.layer.TeamLines"}},
            "handlers": {"team": {"class": "logging.StreamHandler", "formatter": "team", "stream": "ext://sys.stderr"}},
            "loggers": {"uvicorn": {"handlers": ["team"], "level": "INFO", "propagate": False},
                        "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False}}}


def log_to_stderr(log: logging.Logger) -> None:
    """One line per event on stderr (journalctl keeps it), added once however often the app is built."""
    if not any(getattr(h, "digest_stderr", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(TeamLines())
        handler.digest_stderr = True  # type: ignore[attr-defined]
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


# --- a login for a local app (the desk) ----------------------------------------------------------------------

COOKIE = "digest-desk"
SECRET_PARAMETER = "cle"


def forwarding(path: str) -> HTMLResponse:
    """A page that sends the browser on to `path` of this site at once (a meta refresh: no script needed)."""
    target, words = html.escape(path), html.escape(_("Continue"))
    return HTMLResponse(f'<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={target}">'
                        f'<title>digest</title><p><a href="{target}">{words}</a></p>\n',
                        headers={"cache-control": "no-store"})


class Login:
    """One-time secrets for printed URLs; a visit with one sets the session cookie and redirects to the plain
    URL. The secret never appears in a page, and a page without the cookie shows nothing."""

    def __init__(self, where: str, path: str = "/") -> None:
        self.where = where  # what the refusal page tells to run, e.g. `digest preview`
        self.path = path  # where the session cookie goes: the desk's own path, no other listener's
        self.secrets: set[str] = set()
        self.sessions: set[str] = set()

    def new_secret(self) -> str:
        """A fresh one-time secret for a URL to print."""
        secret = secrets.token_urlsafe(32)
        self.secrets.add(secret)
        return secret

    def url(self, base: str) -> str:
        """`base` with a fresh one-time secret."""
        return f"{base}?{SECRET_PARAMETER}={self.new_secret()}"

    def logged_in(self, request: Request) -> bool:
        """True when the request carries a session cookie this login gave."""
        cookie = request.cookies.get(COOKIE, "")
        return any(hmac.compare_digest(cookie, s) for s in self.sessions)

    def visit(self, request: Request) -> Response | None:
        """The answer to a request with a secret in its query (cookie set, or refused), else None."""
        given = request.query_params.get(SECRET_PARAMETER)
        if given is None:
            return None
        if self.logged_in(request):  # the printed URL opened again in the same browser: no need for the key
            return RedirectResponse(request.url.path, status_code=303)
        found = next((s for s in self.secrets if hmac.compare_digest(given, s)), None)
        if found is None:
            return self.refused(request.headers)
        self.secrets.discard(found)  # one time: a URL seen in a history or a shoulder's glance is spent
        session = secrets.token_urlsafe(32)
        self.sessions.add(session)
        # A page that forwards itself rather than a redirect: a visit that came from a file (the page `digest
        # preview` opens the browser on) is a cross-site navigation, and a browser sends no SameSite=Strict
        # cookie along its redirects; the page's own navigation is same-site, and carries it.
        answer = forwarding(request.url.path)
        # No Secure: browsers drop Secure cookies on plain http://127.0.0.1. SameSite=Strict: no other site's
        # page sends it; HttpOnly: no script reads it.
        answer.set_cookie(COOKIE, session, httponly=True, samesite="strict", path=self.path)
        return answer

    def refused(self, asked: Headers) -> Response:
        """The 403 page for a request without the session cookie: it says how to get one."""
        return refusal(403, _("Open the address given at start-up"), [
            _("This page opens only through the address {command} shows when it starts (it holds a one-time "
              "key).").format(command=self.where),
            _("Start {command} again or open the address it showed; an address already used no longer works: "
              "start it again to get a new one.").format(command=self.where)], "", asked)


def _over_size(scope: Scope, headers: Headers, title: str) -> Response | None:
    """A 431 page when the request line and headers are over MAX_HEADER_BYTES. uvicorn's parser bounds only what
    arrives in pieces: 70 KB of headers in one packet reach the app whole, and are refused here."""
    size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
    size += sum(len(name) + len(value) + 4 for name, value in headers.raw)
    if size <= MAX_HEADER_BYTES:
        return None
    heading, line = ERRORS[431]
    return refusal(431, _(heading), [_(line)], title, headers)


# --- uvicorn's HTTP protocol with a deadline for headers -------------------------------------------------------


class Protocol(H11Protocol):
    """uvicorn's h11 protocol; a request's headers must arrive within HEADER_SECONDS, and when every slot is
    taken a new connection closes the oldest one that has not sent a whole request (slowloris)."""

    header_deadline: asyncio.TimerHandle | None = None
    opened: ClassVar[dict[Protocol, None]] = {}  # open connections oldest first, per process (insertion order)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Evict a waiting connection if the slots are full, then arm the header deadline."""
        if len(self.connections) >= MAX_CONNECTIONS:
            for other in list(Protocol.opened):
                if other._waiting():
                    other._close()
                    break
        super().connection_made(transport)
        Protocol.opened[self] = None
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection and its deadline."""
        Protocol.opened.pop(self, None)
        self._disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        """As uvicorn; once a request's headers are in, its deadline is off."""
        super().handle_events()
        if not self._waiting():
            self._disarm()

    def on_response_complete(self) -> None:
        """As uvicorn; the next request on this connection has its own deadline."""
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def _waiting(self) -> bool:
        return self.conn.their_state is h11.IDLE  # no whole request line and headers yet

    def _arm(self) -> None:
        self._disarm()
        self.header_deadline = self.loop.call_later(HEADER_SECONDS, self._late)

    def _disarm(self) -> None:
        if self.header_deadline is not None:
            self.header_deadline.cancel()
            self.header_deadline = None

    def _late(self) -> None:
        self.header_deadline = None
        if self._waiting():
            self._close()

    def _close(self) -> None:
        Protocol.opened.pop(self, None)
        if not self.transport.is_closing():
            self.transport.close()


def serving_options() -> dict[str, Any]:
    """uvicorn's settings for a server facing strangers: limits, no access log, no server header."""
    return {"http": Protocol, "timeout_keep_alive": IDLE_SECONDS, "limit_concurrency": MAX_IN_FLIGHT,
            "h11_max_incomplete_event_size": MAX_HEADER_BYTES, "access_log": False, "server_header": False,
            "log_config": log_config()}
