"""`digest serve`: the public side. The unsubscribe page at the path of `unsubscribe_url` and, if asked, the
published letters; nothing else (no desk, no outbox, no journal, no subscriber list).

- GET ?t=TOKEN shows a page with a button: link scanners open links, so a GET never unsubscribes.
- POST ?t=TOKEN with List-Unsubscribe=One-Click (RFC 8058, as Gmail and Yahoo send it) unsubscribes at once
  and answers 200; the page's button does the same, and offers "Je me suis trompé, me réabonner".
- A bad token: 400 and a plain page. Any error: a plain page in French, never a traceback.
Pages are written by Jinja2 with autoescape; addresses are shown and logged masked only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

from jinja2 import Environment
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digest.audience.recipients import key_of
from digest.audience.subscribers import Store, mask
from digest.delivery.personalize import LETTER_PARAMETER, TOKEN_PARAMETER, check_token

LOG = logging.getLogger("digest.serve")
MAX_BODY = 16 * 1024  # a one-click POST is 26 bytes; a page's form a few dozen
CONFIG_VARIABLE = "DIGEST_SERVE_CONFIG"  # how `digest serve --workers N` hands its settings to each worker
SITE_VARIABLE = "DIGEST_SERVE_SITE"
# Never served from the site folder, even if someone points --site at the wrong folder: private files.
PRIVATE_SUFFIXES = (".sqlite", ".sqlite-wal", ".sqlite-shm", ".lock", ".csv", ".toml", ".db")
PRIVATE_FOLDERS = ("dry-run", "sends")
PAGE_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; "
               "base-uri 'none'")
SITE_POLICY = ("default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline' https:; font-src https:; "
               "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
HEADERS = {"x-frame-options": "DENY", "referrer-policy": "no-referrer", "x-content-type-options": "nosniff"}

PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{{ heading }} · {{ title }}</title>
<style>
body { margin: 0; background: #eef1f4; color: #1f2933; font: 16px/1.5 Arial, Helvetica, sans-serif; }
header { background: #16365f; color: #ffffff; padding: 20px 24px; font-size: 22px; font-weight: bold; }
main { max-width: 552px; margin: 0 auto; background: #ffffff; padding: 24px; }
h1 { color: #e0592a; font-size: 20px; margin: 0 0 12px; }
button { background: #1b4f8f; color: #ffffff; border: 0; border-radius: 4px; padding: 12px 20px; font-size: 16px;
         cursor: pointer; }
button.second { background: #ffffff; color: #1b4f8f; border: 1px solid #1b4f8f; }
</style></head>
<body><header>{{ title }}</header><main><h1>{{ heading }}</h1>
{% for line in lines %}<p>{{ line }}</p>
{% endfor %}{% if button %}<form method="post" action="{{ action }}">
<input type="hidden" name="action" value="{{ button.action }}">
<button type="submit"{% if button.second %} class="second"{% endif %}>{{ button.label }}</button></form>
{% endif %}</main></body></html>
"""
_PAGES = Environment(autoescape=True).from_string(PAGE)


@dataclass(frozen=True)
class Settings:
    """What the application needs, read once from sources.toml by `digest serve`."""

    store: Path
    secret: bytes
    list_id: str
    title: str
    path: str  # the path of unsubscribe_url, e.g. /desinscription
    site: Path | None = None


@dataclass(frozen=True)
class Button:
    """The page's one form: its action field and label."""

    action: str
    label: str
    second: bool = False


def page(status: int, heading: str, lines: list[str], title: str, *, button: Button | None = None,
         action: str = "") -> HTMLResponse:
    """A page in French, in the letter's colours; never cached (it names an address)."""
    body = _PAGES.render(title=title, heading=heading, lines=lines, button=button, action=action)
    return HTMLResponse(body, status_code=status, headers={"cache-control": "no-store"})


def app(settings: Settings) -> Starlette:
    """The ASGI application: the unsubscribe path and, with a site folder, the published letters."""
    routes: list[Route | Mount] = [Route(settings.path, Unsubscribe(settings), methods=["GET", "POST"])]
    if settings.site is not None:
        routes.append(Mount("/", app=Site(directory=settings.site, html=True)))

    async def failed(request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            words = {404: "Page introuvable", 405: "Méthode non permise", 413: "Requête trop grande"}
            return page(exc.status_code, words.get(exc.status_code, "Requête refusée"),
                        ["Cette adresse ne mène nulle part sur ce site."] if exc.status_code == 404 else
                        ["Votre navigateur a envoyé une requête que ce site ne traite pas."], settings.title)
        LOG.error("error while answering %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return page(500, "Erreur du serveur", ["Une erreur nous empêche de répondre. Réessayez dans un moment."],
                    settings.title)

    application = Starlette(routes=routes, exception_handlers={HTTPException: failed, Exception: failed})
    application.add_middleware(Guard)
    return application


UNDO = "resubscribe"  # the undo button's action: resubscribe:<when unsubscribed>.<HMAC>
UNDO_MINUTES = 30  # the way back is for a mistaken click, not for a later change of mind (that asks the team)
PAGE_REASONS = ("one-click (RFC 8058)", "unsubscribe page")  # what the page records: only these are undone


class Unsubscribe:
    """GET shows the page; POST (one-click or the page's buttons) unsubscribes, or subscribes again."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await (self.post(request) if request.method == "POST" else self.get(request))
        await response(scope, receive, send)

    def _address(self, request: Request) -> str | None:
        token = request.query_params.get(TOKEN_PARAMETER, "")
        return check_token(self.settings.secret, token, self.settings.list_id) if token else None

    def _bad_token(self) -> HTMLResponse:
        return page(400, "Lien non valable", [
            "Ce lien de désinscription est incomplet ou a été modifié.",
            "Utilisez le lien « Se désinscrire » de la dernière lettre reçue, en entier."], self.settings.title)

    async def get(self, request: Request) -> Response:
        """The page: who, which list, and a button. Nothing changes."""
        address = self._address(request)
        if address is None:
            return self._bad_token()
        row = await run_in_threadpool(self._status, address)
        if row not in (None, "subscribed"):  # no way back from here: only the page's own undo, just after
            return page(200, "Vous êtes désinscrit·e", [
                f"L’adresse {mask(address)} ne reçoit plus {self.settings.title}."], self.settings.title)
        return page(200, "Se désinscrire", [
            f"Vous recevez {self.settings.title} à l’adresse {mask(address)}.",
            "Pour ne plus la recevoir, cliquez sur le bouton ci-dessous."], self.settings.title,
            button=Button("unsubscribe", "Me désinscrire"), action=_action(request))

    async def post(self, request: Request) -> Response:
        """RFC 8058's one-click POST or the page's button: unsubscribe (once); or the page's own undo."""
        address = self._address(request)
        if address is None:
            return self._bad_token()
        async with request.form(max_files=0, max_fields=8, max_part_size=1024) as form:
            one_click = form.get("List-Unsubscribe") == "One-Click"
            wanted = "unsubscribe" if one_click else str(form.get("action") or "")
        letter = request.query_params.get(LETTER_PARAMETER, "")
        letter = letter if re.fullmatch(r"\d{4}-\d{2}-\d{2}", letter) else ""
        if wanted == "unsubscribe":
            return await self._unsubscribe(request, address, one_click, letter)
        if wanted.startswith(UNDO + ":"):
            return await self._undo(address, wanted[len(UNDO) + 1:])
        return page(400, "Requête refusée", ["Ce formulaire n’a pas été envoyé par notre page."],
                    self.settings.title)

    async def _unsubscribe(self, request: Request, address: str, one_click: bool, letter: str) -> Response:
        """Subscribed becomes unsubscribed, nothing else does; the way back is offered only for that change."""
        how = PAGE_REASONS[0] if one_click else PAGE_REASONS[1]
        changed = await run_in_threadpool(self._leave, address, how, letter)
        if changed is None:  # already gone, bounced, complained, erased or never here: nothing to undo
            return page(200, "Vous êtes désinscrit·e", [
                f"L’adresse {mask(address)} ne reçoit pas {self.settings.title} : il n’y avait rien à changer."],
                self.settings.title)
        LOG.info("unsubscribed %s (%s)", mask(address), how)
        return page(200, "Vous êtes désinscrit·e", [
            f"L’adresse {mask(address)} ne recevra plus {self.settings.title}.",
            f"Une erreur ? Le bouton ci-dessous vous réabonne pendant {UNDO_MINUTES} minutes."], self.settings.title,
            button=Button(f"{UNDO}:{self._undo_proof(address, changed)}", "Je me suis trompé, me réabonner",
                          second=True), action=_action(request))

    async def _undo(self, address: str, proof: str) -> Response:
        """Subscribe again, only within UNDO_MINUTES of an unsubscribe this page made and nothing since."""
        changed = self._undo_checked(address, proof)
        if changed is not None and await run_in_threadpool(self._come_back, address, changed):
            LOG.info("subscribed again %s (unsubscribe page)", mask(address))
            return page(200, "Vous êtes de nouveau abonné·e", [
                f"L’adresse {mask(address)} recevra de nouveau {self.settings.title}."], self.settings.title)
        return page(200, "Rien n’a changé", [
            f"Ce bouton ne sert que dans les {UNDO_MINUTES} minutes qui suivent une désinscription faite sur "
            "cette page, et si rien n’a changé depuis.",
            f"Pour recevoir de nouveau {self.settings.title}, écrivez-nous : nous vous réabonnerons."],
            self.settings.title)

    def _undo_proof(self, address: str, changed: str) -> str:
        """What the undo button carries: when the unsubscribe was recorded, signed for this address and list."""
        signed = f"digest-undo-v1\n{self.settings.list_id}\n{key_of(address)}\n{changed}".encode()
        mac = hmac.new(self.settings.secret, signed, hashlib.sha256).digest()[:16]
        return f"{changed}.{base64.urlsafe_b64encode(mac).decode('ascii').rstrip('=')}"

    def _undo_checked(self, address: str, proof: str) -> str | None:
        """The unsubscribe time the proof signs, if its signature holds and it is recent; else None."""
        changed = proof.rpartition(".")[0]
        if len(proof) > 200 or not hmac.compare_digest(self._undo_proof(address, changed).encode(),
                                                       proof.encode("utf-8", "replace")):
            return None
        try:
            age = datetime.now(UTC) - datetime.fromisoformat(changed)
        except (ValueError, TypeError):
            return None
        return changed if timedelta(minutes=-1) <= age <= timedelta(minutes=UNDO_MINUTES) else None

    def _status(self, address: str) -> str | None:
        with Store(self.settings.store) as store:
            row = store.get(address)
        return row.status if row else None

    def _leave(self, address: str, how: str, letter: str) -> str | None:
        with Store(self.settings.store) as store:
            return store.leave(address, how, letter=letter)

    def _come_back(self, address: str, changed: str) -> bool:
        with Store(self.settings.store) as store:
            return store.undo_leave(address, changed, PAGE_REASONS)


def _action(request: Request) -> str:
    """The form's target: this same path and query (the token), relative so a reverse proxy keeps its own."""
    return f"{request.url.path}?{request.url.query}"


class Site(StaticFiles):
    """The published letters: files under the folder only, no listing, no dotfiles, no private files."""

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        """Refuse hidden and private names before looking: they are 404, as if absent."""
        parts = PurePosixPath(path).parts
        if any(p.startswith(".") or p in PRIVATE_FOLDERS for p in parts) or path.endswith(PRIVATE_SUFFIXES):
            return "", None
        return super().lookup_path(path)


class Guard:
    """Around everything: refuse bodies over MAX_BODY and set the security headers on every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length", b"0")
        if not length.isdigit() or int(length) > MAX_BODY:
            await page(413, "Requête trop grande", ["Ce site n’accepte pas de tels envois."], "")(scope, receive,
                                                                                                 self._secured(send))
            return
        received = 0

        async def bounded() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > MAX_BODY:  # a chunked body with no length: stop reading it
                raise HTTPException(413)
            return message

        await self.app(scope, bounded, self._secured(send))

    @staticmethod
    def _secured(send: Send) -> Send:
        async def secured(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                # Pages say no-store (they name an address); the site's files do not: a looser policy for
                # the letters' web version, whose images come from other sites.
                is_page = any(name.lower() == b"cache-control" for name, _ in headers)
                policy = PAGE_POLICY if is_page else SITE_POLICY
                headers += [(k.encode(), v.encode()) for k, v in HEADERS.items()]
                headers.append((b"content-security-policy", policy.encode()))
                message["headers"] = headers
            await send(message)

        return secured


def settings_from(config_path: Path, site: Path | None) -> Settings:
    """The application's settings from sources.toml (and the secret from its environment variable)."""
    from digest import config
    from digest.delivery import smtp

    cfg = config.load(config_path)
    path = urlparse(cfg.letter.unsubscribe_url).path or "/"
    return Settings(store=cfg.subscribers_path, secret=smtp.secret(cfg), list_id=smtp.list_id_of(cfg),
                    title=cfg.letter.title, path=path, site=site.resolve() if site else None)


def from_environment() -> Starlette:
    """The application each of several uvicorn workers builds (uvicorn --factory), from the variables
    `digest serve` sets."""
    site = os.environ.get(SITE_VARIABLE)
    return app(settings_from(Path(os.environ[CONFIG_VARIABLE]), Path(site) if site else None))


def run(config_path: Path, site: Path | None, host: str, port: int, workers: int) -> None:
    """Run the application under uvicorn until stopped (Ctrl-C, SIGTERM); no access log (its lines would
    carry the token, which names the address)."""
    import uvicorn

    os.environ[CONFIG_VARIABLE] = str(config_path.resolve())
    if site is not None:
        os.environ[SITE_VARIABLE] = str(site.resolve())
    uvicorn.run("digest.web.public:from_environment", factory=True, host=host, port=port, workers=workers,
                access_log=False, server_header=False, log_level="info", limit_concurrency=200,
                timeout_keep_alive=5)
