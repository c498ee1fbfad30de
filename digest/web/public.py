"""`digest serve`: the public side. The unsubscribe page at the path of `unsubscribe_url` and, if asked, the
published letters; nothing else (no desk, no outbox, no journal, no subscriber list).

- GET ?t=TOKEN shows a page with a button: link scanners open links, so a GET never unsubscribes.
- POST ?t=TOKEN with List-Unsubscribe=One-Click (RFC 8058, as Gmail and Yahoo send it) unsubscribes at once
  and answers 200; the page's button does the same, and offers "C’était une erreur : me réabonner".
- A bad token: 400 and a plain page. Any error: a plain page in French, never a traceback.
Pages are written by Jinja2 with autoescape (digest.web.layer's shell); addresses are shown and logged masked
only. The guard, headers, limits against slow clients and error pages are digest.web.layer's, shared with the desk.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import quote, urlparse

from jinja2 import Environment
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from digest import hosts
from digest.audience.recipients import _name, key_of
from digest.audience.states import Means, Status
from digest.audience.subscribers import Subscribers, mask
from digest.i18n import N_, _, current
from digest.letterfolder import DRY_RUN, MEMBERS
from digest.mail import signing
from digest.mail.links import LETTER_PARAMETER, TOKEN_PARAMETER
from digest.members import Members
from digest.members import read as read_members
from digest.web import approve, contribute, layer, subscribe
from digest.web.clock import Clock
from digest.web.courier import Courier, Post, lifespan
from digest.web.layer import Button, page

if TYPE_CHECKING:
    from digest.config import Config, LookConfig

LOG = logging.getLogger("digest.serve")
MAX_BODY = 16 * 1024  # a one-click POST is 26 bytes; a page's form a few dozen
CONFIG_VARIABLE = "DIGEST_SERVE_CONFIG"  # how `digest serve --workers N` hands its settings to each worker
SITE_VARIABLE = "DIGEST_SERVE_SITE"
# What a published site holds (web versions, their text, agenda files, pictures, style, a feed): only these
# are served, by the resolved file's name, case-folded. A database, a CSV, a backup or a key never is.
SITE_SUFFIXES = frozenset((".html", ".txt", ".ics", ".css", ".xml", ".png", ".jpg", ".jpeg", ".gif",
                           ".webp", ".avif", ".ico"))
PRIVATE_FOLDERS = (DRY_RUN, "sends", MEMBERS)  # copied into the site by mistake (members' edition too): not served
ALLOWED = ("GET", "HEAD", "POST")  # the unsubscribe path's methods
SITE_POLICY = ("default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline' https:; font-src https:; "
               "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


@dataclass(frozen=True)
class Settings:
    """What the application needs, read once from sources.toml by `digest serve`."""

    store: Path
    secret: bytes
    list_id: str
    title: str
    path: str  # the path of unsubscribe_url, e.g. /lettre/desinscription
    site: Path | None = None
    site_path: str = "/"  # the path of base_url, e.g. /lettre/: where the published letters are served
    joining: subscribe.Joining | None = None  # the subscribe form, when [subscribe] url is set
    language: str = "fr"  # [letter] language: the pages subscribers reach speak the letter's language
    contributing: contribute.Contributing | None = None  # the contribution form, when [contribute] url is set
    approving: approve.Approving | None = None  # the approvers' page, when [send] approvers is set
    post: Post | None = None  # [smtp], for the server's own mails and scheduled sends
    config_path: Path | None = None  # sources.toml: the clock reads it again at each tick
    members: Members = field(default_factory=Members)  # a subscriber's page names their edition
    look: LookConfig | None = None  # [look]: the pages wear the letter's colours


def app(settings: Settings) -> layer.Guard:
    """The ASGI application: the unsubscribe path and, with a site folder, the published letters."""
    layer.use_look(settings.look)
    routes: list[Route | Mount] = [Route(settings.path, Unsubscribe(settings)),
                                   Route("/favicon.ico", lambda _request: layer.favicon(settings.title))]
    courier = Courier(settings.post, settings.store) if settings.post is not None else None  # the one queue's sender
    if settings.joining is not None and courier is not None:  # the way in: the form, its confirmation page
        form = subscribe.Subscribe(settings.joining, settings.store, settings.secret, settings.list_id,
                                   settings.title, courier)
        routes.append(Route(settings.joining.path, form))
    if settings.contributing is not None and courier is not None:  # member cities' news: the form, its mails
        sent_in = contribute.Contribute(settings.contributing, settings.store, settings.secret, settings.list_id,
                                        settings.title, courier)
        routes.append(Route(settings.contributing.path, sent_in, methods=["GET", "HEAD", "POST"]))
    if settings.approving is not None and courier is not None:  # the approvers' answers, mailed to the team
        routes.append(Route(settings.approving.path, approve.Approve(settings.approving, settings.store,
                                                                     settings.title, courier),
                            methods=["GET", "HEAD", "POST"]))
    if settings.site is not None:
        # At base_url's path, so every link a letter carries (its web version, its .ics files) works here too.
        routes.append(Mount(settings.site_path.rstrip("/"), app=Site(directory=settings.site, html=True)))
    runs = [courier.run, Clock(settings.config_path, settings.store).run] if courier is not None and \
        settings.config_path is not None else [courier.run] if courier is not None else []
    application = Starlette(routes=routes, exception_handlers=layer.error_handlers(settings.title, LOG),
                            lifespan=lifespan(*runs) if runs else None)
    application.router.redirect_slashes = False  # its redirect is absolute, built from the Host header
    # Behind the site's web server: any Host (the proxy sets it), no Origin check (a one-click POST has none).
    photo_path = settings.contributing.path if settings.contributing else None  # the one page that takes a photo
    return layer.Guard(application, max_body=lambda path: contribute.BODY if path == photo_path else MAX_BODY,
                       policy=SITE_POLICY, log=LOG, title=settings.title,
                       language=lambda headers: settings.language)


OWN_PAGE = Environment(autoescape=True).from_string(
    '<form method="post" action="{{ action }}"><input type="hidden" name="action" value="name">\n'
    '<label for="nom">{{ words.name }}</label>\n'
    '<input id="nom" type="text" name="nom" maxlength="80" autocomplete="name" value="{{ name }}">\n'
    '<p><button type="submit" class="second">{{ words.save }}</button></p></form>\n'
    '<p>{{ words.leave }}</p>\n'
    '<form method="post" action="{{ action }}"><input type="hidden" name="action" value="unsubscribe">\n'
    '<button type="submit">{{ words.unsubscribe }}</button></form>')
UNDO = "resubscribe"  # the undo button's action: resubscribe:<when unsubscribed>.<HMAC>
UNDO_MINUTES = 30  # the way back is for a mistaken click, not for a later change of mind (that asks the team)
REASONS = {Means.ONE_CLICK: "one-click (RFC 8058)", Means.PAGE: "unsubscribe page"}  # what the page records


class Unsubscribe:
    """GET shows the page; POST (one-click or the page's buttons) unsubscribes, or subscribes again."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.method not in ALLOWED:  # here, not by the route: else the site's Mount would answer for it
            raise HTTPException(405, headers={"Allow": ", ".join(ALLOWED)})
        response = await (self.post(request) if request.method == "POST" else self.get(request))
        await response(scope, receive, send)

    def _address(self, request: Request) -> str | None:
        token = request.query_params.get(TOKEN_PARAMETER, "")
        return signing.unsubscribe_address(self.settings.secret, token, self.settings.list_id) if token else None

    def _bad_token(self) -> HTMLResponse:
        return page(400, _("Link not valid"), [
            _("This unsubscribe link is incomplete or has been changed."),
            _("Use the “Unsubscribe” link of the last letter you received, whole.")], self.settings.title)

    async def get(self, request: Request) -> Response:
        """The page: who, which list, and a button. Nothing changes."""
        address = self._address(request)
        if address is None:
            return self._bad_token()
        row = await run_in_threadpool(self._status, address)
        if row not in (None, Status.SUBSCRIBED):  # no way back from here: only the page's own undo, just after
            return page(200, _("Your unsubscription is done"), [
                _("The address {address} no longer receives {title}.").format(
                    address=mask(address), title=self.settings.title)], self.settings.title)
        return await self._own_page(request, address)

    async def _own_page(self, request: Request, address: str, said: str = "") -> Response:
        """« Gérer mon abonnement »: the address, the name (theirs to change), the edition (the team's), leave."""
        name, member = await run_in_threadpool(self._own, address)
        edition = (_("You receive the members' edition ({member}): membership is recorded by the team.").format(
                       member=member) if member else _("You receive the public edition."))
        form = Markup(OWN_PAGE.render(action=_action(request), name=name, words={
            "name": _("Your name (the letter greets you with it)"), "save": _("Save my name"),
            "leave": _("To stop receiving it, press the button below."), "unsubscribe": _("Unsubscribe me")}))
        return page(200, _("Manage my subscription"), [
            _("You receive {title} at the address {address}.").format(title=self.settings.title,
                                                                       address=mask(address)),
            edition, *([said] if said else [])], self.settings.title, form=form)

    async def post(self, request: Request) -> Response:
        """RFC 8058's one-click POST or the page's button: unsubscribe (once); or the page's own undo."""
        address = self._address(request)
        if address is None:
            return self._bad_token()
        async with request.form(max_files=0, max_fields=8, max_part_size=1024) as form:
            one_click = form.get("List-Unsubscribe") == "One-Click"
            wanted = "unsubscribe" if one_click else str(form.get("action") or "")
            given_name = _name(str(form.get("nom") or ""))
        letter = request.query_params.get(LETTER_PARAMETER, "")
        letter = letter if re.fullmatch(r"\d{4}-\d{2}-\d{2}", letter) else ""
        if wanted == "unsubscribe":
            return await self._unsubscribe(request, address, one_click, letter)
        if wanted.startswith(UNDO + ":"):
            return await self._undo(address, wanted[len(UNDO) + 1:])
        if wanted == "name":
            return await self._rename(request, address, given_name)
        return page(400, _("Request refused"), [_("This form was not sent by our page.")], self.settings.title)

    async def _unsubscribe(self, request: Request, address: str, one_click: bool, letter: str) -> Response:
        """Subscribed becomes unsubscribed, nothing else does; the way back is offered only for that change."""
        how = Means.ONE_CLICK if one_click else Means.PAGE
        changed = await run_in_threadpool(self._leave, address, how, letter)
        if changed is None:  # already gone, bounced, complained, erased or never here: nothing to undo
            return page(200, _("Your unsubscription is done"), [
                _("The address {address} does not receive {title}: there was nothing to change.").format(
                    address=mask(address), title=self.settings.title)], self.settings.title)
        LOG.info(N_("unsubscribed %s (%s)"), mask(address), REASONS[how])
        gone = _("The address {address} will no longer receive {title}.").format(address=mask(address),
                                                                              title=self.settings.title)
        if not changed:  # it was never on the list (a letter sent to a CSV file): no way onto it from here
            return page(200, _("Your unsubscription is done"), [gone], self.settings.title)
        return page(200, _("Your unsubscription is done"), [
            gone,
            _("A mistake? For {minutes} minutes, the button below subscribes you again.").format(
                minutes=UNDO_MINUTES)], self.settings.title,
            button=Button(f"{UNDO}:{self._undo_proof(address, changed)}", _("It was a mistake: subscribe me again"),
                          second=True), action=_action(request))

    async def _undo(self, address: str, proof: str) -> Response:
        """Subscribe again, only within UNDO_MINUTES of an unsubscribe this page made and nothing since."""
        changed = self._undo_checked(address, proof)
        if changed is not None and await run_in_threadpool(self._come_back, address, changed):
            LOG.info(N_("subscribed again %s (unsubscribe page)"), mask(address))
            return page(200, _("Your subscription is back"), [
                _("The address {address} will receive {title} again.").format(
                    address=mask(address), title=self.settings.title)], self.settings.title)
        return page(200, _("Nothing has changed"), [
            _("This button works only in the {minutes} minutes after an unsubscription made on this page, and if "
              "nothing has changed since.").format(minutes=UNDO_MINUTES),
            _("To receive {title} again, write to us: we will subscribe you again.").format(
                title=self.settings.title)], self.settings.title)

    def _undo_proof(self, address: str, changed: str) -> str:
        """What the undo button carries: when the unsubscribe was recorded, signed for this address and list."""
        return signing.signed(self.settings.secret, signing.UNDO, changed, self.settings.list_id, key_of(address))

    def _undo_checked(self, address: str, proof: str) -> str | None:
        """The unsubscribe time the proof signs, if its signature holds and it is recent; else None."""
        changed = proof.rpartition(".")[0]
        if len(proof) > 200 or not signing.same(self._undo_proof(address, changed), proof):
            return None
        try:
            age = datetime.now(UTC) - datetime.fromisoformat(changed)
        except (ValueError, TypeError):
            return None
        return changed if timedelta(minutes=-1) <= age <= timedelta(minutes=UNDO_MINUTES) else None

    async def _rename(self, request: Request, address: str, name: str) -> Response:
        """The subscriber's own name, changed on their page (a subscribed address only)."""
        if await run_in_threadpool(self._status, address) != Status.SUBSCRIBED:
            return page(200, _("Nothing has changed"), [_("This address does not receive {title}.").format(
                title=self.settings.title)], self.settings.title)
        changed = await run_in_threadpool(self._set_name, address, name)
        if changed:
            LOG.info(N_("name changed by %s on their page"), mask(address))
        said = _("Your name is saved.") if changed else _("Nothing has changed.")
        return await self._own_page(request, address, said)

    def _own(self, address: str) -> tuple[str, str]:
        """The subscriber's name, and the member authority they belong to ('' : none)."""
        with Subscribers(self.settings.store) as store:
            row = store.get(address)
            marked = store.member(address)
        return (row.name if row else ""), marked or self.settings.members.member_of(address)

    def _set_name(self, address: str, name: str) -> bool:
        with Subscribers(self.settings.store) as store:
            return store.set_name(address, name)

    def _status(self, address: str) -> Status | None:
        with Subscribers(self.settings.store) as store:
            row = store.get(address)
        return row.status if row else None

    def _leave(self, address: str, how: Means, letter: str) -> str | None:
        with Subscribers(self.settings.store) as store:
            return store.leave(address, REASONS[how], how, letter=letter)

    def _come_back(self, address: str, changed: str) -> bool:
        with Subscribers(self.settings.store) as store:
            return store.undo_leave(address, changed)


def _action(request: Request) -> str:
    """The form's target: this same path and query (the token), relative so a reverse proxy keeps its own."""
    return f"{request.url.path}?{request.url.query}"


class Site(StaticFiles):
    """The published letters: files under the folder only, of a published kind, no listing, no dotfiles."""

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        """Hidden names, private folders and any file not of a published kind are 404, as if absent; the
        kind is read on the resolved path (a link named .html to a database is a database)."""
        parts = PurePosixPath(path).parts
        if any(p.startswith(".") or p.casefold() in PRIVATE_FOLDERS for p in parts):
            return "", None
        full_path, found = super().lookup_path(path)  # resolved, and refused outside the folder
        if found is None or stat.S_ISDIR(found.st_mode):
            return full_path, found
        if Path(full_path).suffix.casefold() not in SITE_SUFFIXES:
            return "", None
        return full_path, found

    async def get_response(self, path: str, scope: Scope) -> Response:
        """As StaticFiles, but a folder's slash redirect is relative (its last name and a slash): it stays on this
        site whatever the path (`//evil.example/..` is not an address) and holds behind a proxy's prefix."""
        response = await super().get_response(path, scope)
        if isinstance(response, RedirectResponse):
            last = str(scope["path"]).rstrip("/").rsplit("/", 1)[-1]
            return RedirectResponse(quote(last, safe="") + "/", status_code=307)  # ':' quoted: never a scheme
        return response


def settings_from(config_path: Path, site: Path | None) -> Settings:
    """The application's settings from sources.toml (and the secret from its environment variable)."""
    from digest import config
    from digest.mail import identity

    cfg = config.load(config_path)
    path = urlparse(cfg.letter.unsubscribe_url).path or "/"
    joining = subscribe.joining_from(cfg)
    if joining is not None and joining.path == path:
        from digest.errors import DigestError

        raise DigestError(_("{config_path}: [subscribe] url and [letter] unsubscribe_url have the same path "
                            "({path}); give the subscribe form its own, e.g. /inscription").format(
                              config_path=config_path, path=path))
    return Settings(store=cfg.subscribers_path, secret=identity.secret(cfg), list_id=identity.list_id(cfg),
                    title=cfg.letter.title, path=path, site=site.resolve() if site else None,
                    site_path=urlparse(cfg.letter.base_url).path or "/", joining=joining,
                    contributing=contribute.contributing_from(cfg),
                    language=cfg.letter.language, approving=approve.approving_from(cfg), post=_post(cfg),
                    config_path=cfg.path, members=read_members(cfg.members_file), look=cfg.look)


def _post(cfg: Config) -> Post | None:
    """[smtp] for the server's own mails (confirmations, the team's notices) and scheduled sends; None without."""
    from digest.delivery import smtp
    from digest.mail import identity

    if cfg.smtp is None:
        return None
    table, password = smtp.smtp_settings(cfg)
    return Post(table, password, identity.envelope_sender(cfg))


def from_environment() -> layer.Guard:
    """The application each of several uvicorn workers builds (uvicorn --factory), from the variables
    `digest serve` sets; its events go to stderr, one line each."""
    layer.log_to_stderr(LOG)
    site = os.environ.get(SITE_VARIABLE)
    return app(settings_from(Path(os.environ[CONFIG_VARIABLE]), Path(site) if site else None))


def check_port(host: str, port: int) -> None:
    """DigestError (exit 2, one clear line) when the port is taken, before uvicorn tries it."""
    hosts.bind(host, port).close()


def run(config_path: Path, site: Path | None, host: str, port: int, workers: int) -> None:
    """Run the application under uvicorn until stopped (Ctrl-C, SIGTERM); no access log (its lines would
    carry the token, which names the address); the limits of digest.web.layer against slow clients."""
    import uvicorn

    os.environ[CONFIG_VARIABLE] = str(config_path.resolve())
    os.environ["DIGEST_LANG"] = current()  # the workers log in the language this command chose for the team
    if site is not None:
        os.environ[SITE_VARIABLE] = str(site.resolve())
    uvicorn.run("digest.web.public:from_environment", factory=True, host=host, port=port, workers=workers,
                log_level="info", **layer.serving_options())
