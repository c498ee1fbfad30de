"""`digest preview`: the editorial desk, a local web page where the team makes the month's letter.

The page lists every candidate item with its actions, the subject, preheader, editorial and section order; each
change is written at once to issues/<YYYY-MM>.toml (digest.edit.issueedit) and the letter beside it rebuilds.
Served by uvicorn on loopback; safe on a shared machine (digest.web.layer): the desk opens only for the one who
started it (the URL `digest preview` prints carries a one-time key that becomes an HttpOnly, SameSite=Strict
cookie; without it every page is a 403), only requests whose Host is the address served are answered (DNS
rebinding), every change carries the page's token and no other origin, the page sends a Content-Security-Policy
and X-Frame-Options, and the letter shows in a sandboxed frame whose own policy forbids scripts.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import re
import secrets
import tempfile
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import date
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import anyio.to_thread
import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from digest import hosts, i18n, letterfolder
from digest.config import Config
from digest.edit import issueedit
from digest.errors import DigestError
from digest.i18n import _, ngettext
from digest.review import deskview
from digest.review.preview import Preview, Snapshot, dark
from digest.web import layer, style

LOG = logging.getLogger("digest.preview")
LOOPBACK = hosts.LOOPBACK
MAX_FORM_BYTES = 256 * 1024  # an editorial is a few KB: anything larger is refused unread
LANGUAGE_COOKIE = "digest_lang"  # the desk's language switch (fr or en), remembered for a year
MAX_FIELDS = 64  # the largest form (Ajouter un article) has a dozen fields
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: http: data:; "
               "frame-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
# The letter: no script at all (the frame's sandbox forbids them too), shown only inside the desk.
LETTER_POLICY = ("default-src 'none'; img-src 'self' https: http: data: cid:; style-src 'unsafe-inline'; "
                 "font-src https: data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'")
TEXT_TYPES = {"letter.html": "text/html", "letter-dark.html": "text/html", "letter.txt": "text/plain",
              "letter-members.html": "text/html"}
MAX_TEST_ADDRESSES = 5  # typed addresses a test send takes: a test, not a way to mail strangers
TESTS_PER_MINUTE = 5


class Desk:
    """The desk's state: the letter under review, the session's token and the addresses it answers to."""

    def __init__(self, preview: Preview) -> None:
        self.preview = preview
        # The page's token against cross-site posts, made anew each session: a page of an older session cannot
        # post. It is in the page, which only the holder of the login cookie gets; the login key never is.
        self.token = secrets.token_urlsafe(32)
        # Cookies know no port: another listener of this machine (a link to 127.0.0.1:<its port> in a
        # contribution) would receive a cookie scoped to "/". The desk lives under a random path of this session,
        # its cookie scoped to that path, which no other listener's address starts with.
        self.prefix = f"/{secrets.token_urlsafe(12)}/"
        self.login = layer.Login("digest preview", path=self.prefix)
        self.hosts: set[str] = set()
        self.origins: set[str] = set()
        self.tests: deque[float] = deque()  # when the last test sends went, for the per-minute limit

    def serve_at(self, host: str, port: int) -> None:
        """Answer requests for this address only (Host header), and changes from its own pages (Origin)."""
        self.hosts = hosts.host_names(host, port)
        self.origins = {f"http://{h}" for h in self.hosts}

    @property
    def config(self) -> Config | None:
        """The configuration the last build read."""
        return self.preview.config


async def _form(request: Request, desk: Desk) -> dict[str, str]:
    """The posted form, once its size and the page's token are checked (the Origin is the Guard's); DeskRefusal
    otherwise."""
    if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
        raise DeskRefusal(413, _("Form too long."))
    data = await request.body()
    if len(data) > MAX_FORM_BYTES:
        raise DeskRefusal(413, _("Form too long."))
    try:
        fields = parse_qs(data.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise DeskRefusal(413, _("Form too long.")) from None
    form = {key: values[-1] for key, values in fields.items()}
    if not hmac.compare_digest(form.get("token", ""), desk.token):
        raise DeskRefusal(403, _("The page's session key is missing or out of date: reload the page."))
    return form


class DeskRefusal(Exception):
    """A request the desk refuses, with its HTTP status and a message in the interface language."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --- changes to the issue file -----------------------------------------------------------------------------


def change_for(form: Mapping[str, str], current_order: list[str]) -> issueedit.Change:
    """The issue-file change a posted form asks for; DeskRefusal for an unknown one."""
    op, name = form.get("op", ""), form.get("name", "")
    needs_name = {"exclude", "include", "pin", "feature", "move-up", "move-down", "override", "audience"}
    if op in needs_name and not name:
        raise DeskRefusal(400, _("No article given."))
    if op == "exclude":
        return issueedit.exclude(name)
    if op == "include":
        return issueedit.include(name)
    if op in ("pin", "feature"):
        return issueedit.toggle("pin" if op == "pin" else "featured", name)
    if op in ("move-up", "move-down") and form.get("key") in ("pin", "featured"):
        return issueedit.move(form["key"], name, op.removeprefix("move-"))
    if op == "override":
        return issueedit.override(name, form)
    if op == "audience" and form.get("audience") in ("members", "all"):
        return issueedit.audience(name, form["audience"] == "members")
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
    raise DeskRefusal(400, _("Unknown action: {op!r}.").format(op=op))


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
            raise DeskRefusal(409, _("The configuration does not load: correct sources.toml first."))
        if form.get("op") == "look":  # the letter's look lives in sources.toml, not in the issue file
            return _save_look(desk, cfg.path, form)
        if form.get("op") in ("contrib-accept", "contrib-refuse"):
            return _decide(desk, cfg, snapshot, form)
        if form.get("op") in ("proposal-accept", "proposal-dismiss"):
            return _propose(desk, cfg, snapshot, form)
        gone = deskview.gone(cfg, desk_day(desk, snapshot))
        if gone is not None:  # the letter went out: what it says can no longer change
            raise DeskRefusal(409, gone)
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
        return rebuilt(desk), _("Article added.") if form.get("op") == "add" else _("Saved.")


def rebuilt(desk: Desk) -> Snapshot:
    """The letter rebuilt after a change made in the desk: on show at once, its report made when the page asks
    for it (`state`, after showing the letter)."""
    return desk.preview.rebuild(check_later=True)


def _decide(desk: Desk, cfg: Config, snapshot: Snapshot, form: Mapping[str, str]) -> tuple[Snapshot, str]:
    """A contribution accepted into the issue file of the next letter whose list send has not begun (with the
    team's changes), or refused with a message."""
    from digest import dates
    from digest.contribute import moderate
    from digest.delivery import journal

    number = form.get("name", "")
    if not number.isdigit():
        raise DeskRefusal(400, _("No contribution given."))
    try:
        if form.get("op") == "contrib-refuse":
            if not form.get("note", "").strip():
                raise DeskRefusal(422, _("Write the message the contact will receive."))
            moderate.refuse(cfg, int(number), form["note"])
            return rebuilt(desk), _("Contribution refused; its contact will receive your message.")
        agenda = next((s.id for s in cfg.sections if s.kind == "agenda"), None)
        shown = desk_day(desk, snapshot)
        day = moderate.letter_for(cfg, shown, journal.sends(cfg))  # never a letter that went out
        here = (day.year, day.month) == (shown.year, shown.month)
        when = moderate.form_day(form["date"]) if form.get("date", "").strip() else None
        moderate.accept(cfg, day, int(number), title=form.get("title", ""), text=form.get("text", ""), when=when,
                        version=form.get("version", "") if here else None, agenda=agenda)
    except DigestError as exc:
        if isinstance(exc, issueedit.Conflict):
            desk.preview.rebuild_if_changed()
        conflict = isinstance(exc, (issueedit.Conflict, moderate.NotProposed))  # else the team's input: 422
        raise DeskRefusal(409 if conflict else 422, exc.message) from None
    month = dates.month_year(day, i18n.current())
    if here:
        return rebuilt(desk), _("Contribution accepted into the letter of {month}; its contact will be "
                                "told.").format(month=month)
    return rebuilt(desk), _("This letter has gone out: the contribution is accepted into the letter of "
                            "{month}; its contact will be told.").format(month=month)


def _propose(desk: Desk, cfg: Config, snapshot: Snapshot, form: Mapping[str, str]) -> tuple[Snapshot, str]:
    """A member's article accepted into the next letter whose list send has not begun, or dismissed for good."""
    from digest import dates, proposals
    from digest.contribute import moderate
    from digest.delivery import journal

    number = form.get("name", "")
    if not number.isdigit():
        raise DeskRefusal(400, _("No proposal given."))
    try:
        if form.get("op") == "proposal-dismiss":
            proposals.dismiss(cfg, int(number))
            return rebuilt(desk), _("Dismissed: it will not be proposed again.")
        shown = desk_day(desk, snapshot)
        day = moderate.letter_for(cfg, shown, journal.sends(cfg))  # never a letter that went out
        here = (day.year, day.month) == (shown.year, shown.month)
        proposals.accept(cfg, day, int(number), version=form.get("version", "") if here else None)
    except DigestError as exc:
        if isinstance(exc, issueedit.Conflict):
            desk.preview.rebuild_if_changed()
        conflict = isinstance(exc, (issueedit.Conflict, proposals.NotWaiting, issueedit.Refused))
        raise DeskRefusal(409 if conflict else 422, exc.message) from None
    month = dates.month_year(day, i18n.current())
    if here:
        return rebuilt(desk), _("Accepted into the letter of {month}.").format(month=month)
    return rebuilt(desk), _("This letter has gone out: the article is accepted into the letter of "
                            "{month}.").format(month=month)


def desk_day(desk: Desk, snapshot: Snapshot) -> date:
    """The date of the letter the desk shows (its last build's, even a failed one's)."""
    cfg = desk.preview.config
    if snapshot.letter_date:
        return date.fromisoformat(snapshot.letter_date)
    return desk.preview.letter_day(cfg) if cfg else date.today()


def _save_look(desk: Desk, path: Path, form: Mapping[str, str]) -> tuple[Snapshot, str]:
    """One [look] colour written into sources.toml (tomlkit: comments kept), then the letter rebuilt."""
    from digest.edit import lookedit

    try:
        changed = lookedit.set_colour(path, form.get("key", ""), form.get("value", ""))
    except issueedit.Refused as exc:
        raise DeskRefusal(422, exc.message) from None
    return rebuilt(desk), _("Colour saved in sources.toml.") if changed else _("Nothing has changed.")


# --- the test send ------------------------------------------------------------------------------------------


def test_send(desk: Desk, typed: str) -> tuple[bool, str]:
    """Send the letter on show to the typed addresses (else [preview] test_to): whether all went, and what
    happened, in the interface language."""
    from digest.delivery import personalize, smtp

    snapshot, cfg = desk.preview.snapshot, desk.preview.config
    if snapshot.built is None or cfg is None:
        return False, _("No letter to send: the build failed.")
    addresses = [a.strip() for a in typed.replace(";", ",").split(",") if a.strip()] or list(cfg.preview.test_to)
    if not addresses:
        return False, _("Give at least one address (or [preview] test_to in sources.toml).")
    refused = _test_refused(desk, addresses if typed.strip() else [])
    if refused:
        return False, refused
    built = snapshot.built
    try:
        recipients = personalize.recipients_of(addresses)
        # The letter on show, written to a private temporary folder (never the public outbox) for the sender.
        with tempfile.TemporaryDirectory(prefix="digest-test-") as folder:
            letterfolder.write_letter(Path(folder), built.letter, built.rendered, built.eml)
            job = smtp.load_job(cfg, built.letter.date, Path(folder), test=True)
            report = smtp.send_test(job.personalizer, recipients, smtp.connection_for(cfg))
    except DigestError as exc:
        return False, _("Test not sent: {reason}").format(reason=exc.format_message())
    if report.sent == len(recipients):
        return True, _("Test sent to {addresses} (subject “[TEST] {subject}”).").format(
            addresses=", ".join(r.email for r in recipients), subject=built.rendered.subject)
    failed = [*(e for e, _why in report.failed), *(e for e, _why in report.deferred), *report.unknown]
    return False, ngettext("Test sent to {sent} address of {count}; failed for: {failed}.",
                           "Test sent to {sent} addresses of {count}; failed for: {failed}.", report.sent).format(
        sent=report.sent, count=len(recipients), failed=", ".join(failed))


def ask_approval(desk: Desk) -> tuple[bool, str]:
    """Ask [send] approvers to approve the letter built in the outbox for this month (the one that will leave):
    whether every approver was mailed, and what happened, in the interface language."""
    from digest.delivery import approval

    snapshot, cfg = desk.preview.snapshot, desk.preview.config
    if cfg is None or not cfg.send.approvers:
        return False, _("No [send] approvers in sources.toml: nobody to ask.")
    state = deskview.standing(cfg, desk_day(desk, snapshot))
    if state is None or state.began:
        return False, _("Build the letter first (digest build): the approval is for the letter that will leave.")
    refused = _test_refused(desk, [])
    if refused:
        return False, refused
    try:
        asked = approval.ask(cfg, state.letter)
    except DigestError as exc:
        return False, _("Approval not asked: {reason}").format(reason=exc.format_message())
    mailed = [a for a, sent in asked if sent]
    if len(mailed) == len(asked):
        return True, _("Approval asked of {approvers}.").format(approvers=", ".join(mailed))
    return False, _("Approval asked of {approvers}; the server refused the mail to {failed}.").format(
        approvers=", ".join(mailed) or "—", failed=", ".join(a for a, sent in asked if not sent))


def _test_refused(desk: Desk, typed: list[str]) -> str | None:
    """Why a test send is refused (too many typed addresses, too many sends this minute), else None."""
    if len(typed) > MAX_TEST_ADDRESSES:
        return _("Test not sent: at most {most} addresses per test send ({count} given).").format(
            most=MAX_TEST_ADDRESSES, count=len(typed))
    now = time.monotonic()
    while desk.tests and now - desk.tests[0] > 60:
        desk.tests.popleft()
    if len(desk.tests) >= TESTS_PER_MINUTE:
        return _("Test not sent: at most {most} test sends a minute; try again in a moment.").format(
            most=TESTS_PER_MINUTE)
    desk.tests.append(now)
    return None


# --- the app -----------------------------------------------------------------------------------------------


def create_app(desk: Desk) -> ASGIApp:
    """The desk's ASGI application (Starlette), wrapped in its Host check and security headers."""
    Endpoint = Callable[[Request], Awaitable[Response]]

    async def checked() -> Snapshot:
        """The snapshot on show once its letter is checked: the page's report and badges are never half known."""
        return await anyio.to_thread.run_sync(desk.preview.checked)

    async def home(request: Request) -> Response:
        snapshot = await checked()
        return Response(deskview.page(desk.config, snapshot, desk.token), media_type="text/html")

    async def state(request: Request) -> Response:
        snapshot, cfg = await checked(), desk.config
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
            html = _letter_html(desk, snapshot)
            body = (_members_edition(desk.config, snapshot) if name == "letter-members.html" else
                    {"letter.html": html, "letter-dark.html": dark(html), "letter.txt": snapshot.text}[name])
            return Response(body, media_type=TEXT_TYPES[name],
                            headers={"Content-Security-Policy": LETTER_POLICY, "X-Frame-Options": "SAMEORIGIN"})
        return endpoint

    async def report(request: Request) -> Response:
        snapshot = await checked()
        return JSONResponse({
            "version": snapshot.version, "error": snapshot.error,
            "built_at": snapshot.built_at.isoformat() if snapshot.built_at else "",
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
            return _refusal_page(desk, refusal)
        if not wants_json:
            return RedirectResponse(desk.prefix, status_code=303)  # a form posted without script: back to the page
        # The new letter comes with the answer: the page puts it on show without asking for it again.
        return JSONResponse({"ok": True, "message": message, "version": snapshot.version,
                             "issue_version": snapshot.issue_version, "letter": _letter_html(desk, snapshot)})

    async def send_test(request: Request) -> Response:
        try:
            form = await _form(request, desk)
        except DeskRefusal as refusal:
            return JSONResponse({"ok": False, "message": refusal.message}, status_code=refusal.status)
        ok, message = await anyio.to_thread.run_sync(test_send, desk, form.get("to", ""))
        return JSONResponse({"ok": ok, "message": message})

    async def approval_asked(request: Request) -> Response:
        try:
            await _form(request, desk)
        except DeskRefusal as refusal:
            return JSONResponse({"ok": False, "message": refusal.message}, status_code=refusal.status)
        ok, message = await anyio.to_thread.run_sync(ask_approval, desk)
        return JSONResponse({"ok": ok, "message": message})

    async def language(request: Request) -> Response:
        try:
            form = await _form(request, desk)
        except DeskRefusal as refusal:
            return _refusal_page(desk, refusal)
        answer = RedirectResponse(desk.prefix, status_code=303)
        if form.get("lang") in i18n.LANGUAGES:  # remembered for a year; read by the Guard on every request
            answer.set_cookie(LANGUAGE_COOKIE, form["lang"], max_age=365 * 86400, httponly=True,
                              samesite="strict", path="/")
        return answer

    async def events(request: Request) -> Response:
        return StreamingResponse(_stream(desk), media_type="text/event-stream")

    async def picture(request: Request) -> Response:
        from digest.contribute.moderate import images_dir

        name, cfg = request.path_params["name"], desk.config
        path = images_dir(cfg) / name if cfg is not None and PICTURE_NAME.fullmatch(name) else None
        if path is None or not path.is_file():
            return PlainTextResponse(_("not found") + "\n", status_code=404)
        return Response(path.read_bytes(), media_type="image/jpeg")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        kinds = {"desk.css": "text/css", "desk.js": "text/javascript"}
        if name == "digest.css":  # digest's one stylesheet, in the [look] the desk shows now
            cfg = desk.config
            return Response(style.sheet(cfg.look if cfg else None), media_type="text/css")
        if name not in kinds:
            return PlainTextResponse(_("not found") + "\n", status_code=404)
        return Response((deskview.STATIC / name).read_text(encoding="utf-8"), media_type=kinds[name])

    async def favicon(request: Request) -> Response:
        return layer.favicon(desk.config.letter.title if desk.config else "digest")

    routes = [
        Route("/", home), Route("/state", state), Route("/report.json", report),
        *(Route(f"/{name}", letter(name)) for name in TEXT_TYPES),
        Route("/action", action, methods=["POST"]), Route("/test-send", send_test, methods=["POST"]),
        Route("/ask-approval", approval_asked, methods=["POST"]),
        Route("/events", events), Route("/static/{name}", static), Route("/images/{name}", picture),
        Route("/language", language, methods=["POST"]), Route("/favicon.ico", favicon),
    ]
    application = Starlette(routes=[Mount(desk.prefix.rstrip("/"), routes=routes), Route("/favicon.ico", favicon)],
                            exception_handlers=layer.error_handlers("", LOG))
    application.router.redirect_slashes = False
    return layer.Guard(LoggedIn(application, desk.login), max_body=MAX_FORM_BYTES, policy=PAGE_POLICY, log=LOG,
                       hosts=lambda: desk.hosts, no_store=True, language=desk_language)


def _refusal_page(desk: Desk, refusal: DeskRefusal) -> Response:
    """A refused form posted without the page's script: the shell's page, with the way back to the desk."""
    title = desk.config.letter.title if desk.config else "digest"
    return layer.page(refusal.status, _("Not saved"), [refusal.message], title, form=layer.linked_back(
        _("Back to the desk"), desk.prefix))


def desk_language(headers: Headers) -> str:
    """The desk's language: the one its switch remembered in a cookie, else the interface's."""
    chosen = SimpleCookie(headers.get("cookie", "")).get(LANGUAGE_COOKIE)
    return chosen.value if chosen is not None and chosen.value in i18n.LANGUAGES else i18n.current()


class LoggedIn:
    """Every page and action for the holder of the login cookie only; the printed URL's key sets it."""

    def __init__(self, app: ASGIApp, login: layer.Login) -> None:
        self.app = app
        self.login = login

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("path") == "/favicon.ico":  # the letter's initial: nothing a stranger may not see
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        answer = self.login.visit(request)
        if answer is None and not self.login.logged_in(request):
            answer = self.login.refused(request.headers)
        if answer is not None:
            await answer(scope, receive, send)
            return
        await self.app(scope, receive, send)


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


PICTURE_NAME = re.compile(r"[0-9a-f]{16}(-vignette)?\.jpg")  # a contributed picture, named by its content


def local_pictures(cfg: Config | None, html: str) -> str:
    """The letter with its contributed pictures (base_url's images/) shown from this machine's copies: they are
    on the web only once published, and the desk never shows a broken picture."""
    from urllib.parse import urljoin

    from digest.contribute.moderate import IMAGES

    if cfg is None:
        return html
    return html.replace(urljoin(cfg.letter.base_url, f"{IMAGES}/"), f"{IMAGES}/")


def _letter_html(desk: Desk, snapshot: Snapshot) -> str:
    """The letter on show as the desk's frames show it (letter.html)."""
    return local_pictures(desk.config, snapshot.html) if snapshot.html else _no_letter(snapshot)


def _members_edition(cfg: Config | None, snapshot: Snapshot) -> str:
    """The members' edition of the letter on show, or a page saying the letter has one edition."""
    from html import escape

    members = snapshot.built.members if snapshot.built else None
    if members is not None:
        return local_pictures(cfg, members.rendered.html)
    line = escape(_("This letter has one edition: no item is for members only (« Reserved for members » on an "
                    "item, or audience = \"members\" on a source or a section, makes a members' edition)."))
    return f"<!doctype html><meta charset=utf-8><p>{line}</p>"


def _no_letter(snapshot: Snapshot) -> str:
    from html import escape

    message = escape(snapshot.error or _("build under way…"))
    title, line = escape(_("No letter")), escape(_("No letter built yet."))
    return (f"<!doctype html><meta charset=utf-8><title>{title}</title><p>{line}</p>"
            f'<pre style="white-space:pre-wrap">{message}</pre>')


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


bind = hosts.bind


class Running:
    """A desk served in a background thread (for tests and benchmarks): its url, and stop()."""

    def __init__(self, preview: Preview, host: str = LOOPBACK, port: int = 0) -> None:
        self.desk = Desk(preview)
        self.sock = bind(host, port)
        bound = self.sock.getsockname()[1]
        self.desk.serve_at(host, bound)
        self.url = f"http://{host}:{bound}{self.desk.prefix}"  # the plain URL: without the login cookie, a 403
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

    def login_url(self) -> str:
        """The URL with a fresh one-time key, as `digest preview` prints it."""
        return self.desk.login.url(self.url)

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.desk.preview.stopping.set()
        with self.desk.preview.changed:
            self.desk.preview.changed.notify_all()
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


def opener(url: str) -> Path:
    """A page only this user can read that forwards the browser to `url` and its one-time key (Jupyter's way):
    the browser is started on this file, so the key never sits on a command line, which every user of the
    machine reads in /proc. Its folder (0700) is the caller's to remove."""
    from html import escape

    folder = Path(tempfile.mkdtemp(prefix="digest-desk-"))
    path = folder / "bureau.html"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    title, link = escape(_("The editorial desk")), escape(_("Open the desk"))
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(f'<!doctype html><html lang="{i18n.current()}"><meta charset="utf-8">'
                  f'<meta http-equiv="refresh" content="0;url={escape(url)}"><title>{title}</title>'
                  f'<p><a href="{escape(url)}">{link}</a></p></html>\n')
    return path


def serve(preview: Preview, host: str, port: int, on_ready: Callable[[str], None]) -> None:
    """Build, serve until Ctrl-C, then stop cleanly (event streams closed, port released)."""
    sock = bind(host, port)
    layer.log_to_stderr(LOG)  # refusals (another user without the key, another Host) show in the terminal
    desk = Desk(preview)
    bound = sock.getsockname()[1]
    desk.serve_at(host, bound)
    server = Server(desk, create_app(desk))
    preview.start_watching()
    on_ready(desk.login.url(f"http://{f'[{host}]' if ':' in host else host}:{bound}{desk.prefix}"))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn raises Ctrl-C again once it has stopped: the stop is the expected end
    finally:
        preview.stop()
        sock.close()
