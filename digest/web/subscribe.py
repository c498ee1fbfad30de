"""The way in: the subscribe form of `digest serve`, at the path of [subscribe] url, with double opt-in.

- GET: the form (address, name, an unticked consent box with the wording, the privacy notice, a trap field).
- POST: the same answer ("Vérifiez votre boîte de réception"), same status, for every state of the address; the
  store does the same work for each (digest.audience.joining.Signups.ask). A new or returning address gets one
  confirmation mail, queued in the store: the request never waits on SMTP.
- GET ?c=TOKEN (the mail's link, which mail scanners open): a page with one button; nothing changes.
- POST ?c=TOKEN (that button): the address is subscribed; the page links the latest published letter.

What the form trusts (docs/subscribe.md): the Origin header a browser sets (only this page's site and
[subscribe] allowed_origins may post), the client address uvicorn gives (X-Forwarded-For only from the reverse
proxy on loopback: uvicorn's forwarded_allow_ips), nothing else a request says.

The `Courier` sends the queued mails: one asyncio task per server process, woken by a post of that process and
every few seconds; each mail is claimed in an immediate transaction, so that with --workers N it goes once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import smtplib
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

from jinja2 import Environment
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from digest.audience.joining import Mail, Signups, token, wording_hash
from digest.audience.recipients import _name, check_address
from digest.audience.subscribers import mask
from digest.config import Config, SmtpConfig
from digest.i18n import _, current, speaking
from digest.web.layer import Button, page

LOG = logging.getLogger("digest.serve")
ALLOWED = ("GET", "HEAD", "POST")
TOKEN_PARAMETER = "c"
POLL_SECONDS = 5.0  # the courier looks at the queue this often (another worker's leftovers, retries)
SETTLE_SECONDS = 0.3  # after a wake-up, the courier waits this long before sending
PURGE_SECONDS = 3600.0  # and purges unconfirmed sign-ups this often
MAX_ADDRESS = 254  # RFC 5321's longest path
TRAP = "site_web"  # the trap field: people never see it, form-filling robots fill it

FORM = """<form method="post" action="{{ action }}" accept-charset="utf-8" class="lettre-inscription">
{% if alert %}<p class="alerte" role="alert">{{ alert }}</p>
{% endif %}<label for="lettre-email">{{ words.email }}</label>
<input id="lettre-email" type="email" name="email" required maxlength="254" autocomplete="email" value="{{ email }}">
<label for="lettre-nom">{{ words.name }}</label>
<input id="lettre-nom" type="text" name="nom" maxlength="80" autocomplete="name" value="{{ name }}">
<div class="piege" aria-hidden="true" style="position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden">
<label for="lettre-site">{{ words.trap }}</label>
<input id="lettre-site" type="text" name="{{ trap }}" tabindex="-1" autocomplete="off"></div>
<p><label class="box" style="font-weight:normal"><input type="checkbox" name="consentement" value="oui" required>
{{ consent }}</label></p>
<input type="hidden" name="formulation" value="{{ version }}">
{% if privacy_url %}<p><a href="{{ privacy_url }}">{{ words.privacy }}</a></p>
{% endif %}<p><button type="submit">{{ words.button }}</button></p>
</form>
"""
_FORMS = Environment(autoescape=True).from_string(FORM)


@dataclass(frozen=True)
class Joining:
    """What the form needs, read once from sources.toml by `digest serve`."""

    url: str  # [subscribe] url: the form's public address
    consent: str
    privacy_url: str | None
    origins: frozenset[str]  # the form's own site and [subscribe] allowed_origins
    record_ip: bool
    pending_days: int
    per_ip_hour: int
    sender: str  # [letter] from
    envelope: str  # MAIL FROM: [smtp] return_path, else the sender's address
    smtp: SmtpConfig
    password: str | None
    base_url: str
    outbox: Path
    private_dir: Path
    language: str = "fr"  # [letter] language: the form's pages and mails speak it

    @property
    def path(self) -> str:
        """Where `digest serve` answers the form: the path of [subscribe] url."""
        return urlparse(self.url).path or "/"


def joining_from(cfg: Config) -> Joining | None:
    """The form's settings, None without [subscribe] url; DigestError when [smtp] cannot send its mails."""
    sub = cfg.subscribe
    if sub.url is None:
        return None
    return joining_settings(cfg, sub.url, sub.allowed_origins, "[subscribe]")


def joining_settings(cfg: Config, url: str, allowed: tuple[str, ...], table_name: str) -> Joining:
    """A public form's settings at `url` (its own site and `allowed` may post it), mailing through [smtp];
    DigestError without [smtp]."""
    from digest.delivery import smtp
    from digest.errors import DigestError

    if cfg.smtp is None:
        raise DigestError(_("{path}: {table} url is set but there is no [smtp] table to send the confirmation "
                            "mails; add [smtp] (see docs/subscribe.md)").format(path=cfg.path, table=table_name))
    sub = cfg.subscribe
    table, password = smtp.smtp_settings(cfg)
    own = urlparse(url)
    return Joining(url=url, consent=sub.consent, privacy_url=sub.privacy_url,
                   origins=frozenset((f"{own.scheme}://{own.netloc.lower()}", *allowed)),
                   record_ip=sub.record_ip, pending_days=sub.pending_days, per_ip_hour=sub.per_ip_hour,
                   sender=cfg.letter.sender, envelope=table.return_path or parseaddr(cfg.letter.sender)[1],
                   smtp=table, password=password, base_url=cfg.letter.base_url, outbox=cfg.outbox,
                   private_dir=cfg.private_dir, language=cfg.letter.language)


def form_markup(consent: str, privacy_url: str | None, action: str, *, email: str = "", name: str = "",
                alert: str = "") -> Markup:
    """The form's HTML (the page's and the snippet's): every value escaped."""
    words = {"email": _("Email address"), "name": _("Name (optional)"), "trap": _("Leave this field empty"),
             "privacy": _("How we use your data (privacy policy)"), "button": _("Subscribe me")}
    return Markup(_FORMS.render(action=action, email=email, name=name, alert=alert, trap=TRAP, consent=consent,
                                version=wording_hash(consent), privacy_url=privacy_url, words=words))


def snippet(url: str, consent: str, privacy_url: str | None) -> str:
    """The form as a paste-able HTML snippet for another site's page, posting to [subscribe] url."""
    return str(form_markup(consent, privacy_url, url))


class Subscribe:
    """The form's path: GET and POST, with or without a confirmation token."""

    def __init__(self, joining: Joining, store: Path, secret: bytes, list_id: str, title: str) -> None:
        self.joining = joining
        self.store_path = store
        self.secret = secret
        self.list_id = list_id
        self.title = title
        self.courier = Courier(joining, store, secret, list_id, title)
        # The store's work, in one thread of its own with one connection: SQLite takes one writer at a time
        # anyway, and a burst of posts waiting in one queue is answered faster than by threads fighting for a
        # lock (and for the interpreter).
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="signups")
        self._store: Signups | None = None
        check_address("warm-up@example.org")  # email_validator loaded now, not during the first post

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.method not in ALLOWED:
            raise HTTPException(405, headers={"Allow": ", ".join(ALLOWED)})
        given = request.query_params.get(TOKEN_PARAMETER)
        if request.method == "POST":
            response = await (self.confirm(request, given) if given is not None else self.post(request))
        else:
            response = await (self.confirm_page(request, given) if given is not None else self.form())
        await response(scope, receive, send)

    async def _with_store(self, work: Any, *args: Any, **kwargs: Any) -> Any:
        """`work(store, *args, **kwargs)` in the store's thread."""
        def run() -> Any:
            if self._store is None:
                self._store = Signups(self.store_path)
            return work(self._store, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._thread, run)

    async def form(self, *, status: int = 200, email: str = "", name: str = "", alert: str = "") -> Response:
        """The form page."""
        return _page(status, _("Subscribe to the letter"), [
            _("Receive {title} every month by e-mail. You can unsubscribe at any time, through the link in every "
              "letter.").format(title=self.title)], self.title,
            form=form_markup(self.joining.consent, self.joining.privacy_url, self.joining.path, email=email,
                             name=name, alert=alert))

    def _foreign(self, request: Request) -> Response | None:
        """A 403 page for a POST from a page of a site not allowed; None when the origin is allowed or absent
        (a program, which could write any Origin anyway). Allowed: [subscribe] url's site, allowed_origins,
        and this page's own site (the Origin naming the Host the request came to: a same-origin post)."""
        origin = request.headers.get("origin")
        if origin is None or origin in self.joining.origins:
            return None
        parsed = urlparse(origin)
        if parsed.scheme in ("http", "https") and parsed.netloc and parsed.netloc == request.headers.get("host"):
            return None
        return _page(403, _("Request refused"), [
            _("This form cannot be sent from this page."),
            _("Subscribe at {url}.").format(url=self.joining.url)], self.title)

    async def post(self, request: Request) -> Response:
        """A form post: the same answer for every state of a valid address."""
        refused = self._foreign(request)
        if refused is not None:
            LOG.warning("subscribe form posted from another site: %s", request.headers.get("origin", "")[:100])
            return refused
        async with request.form(max_files=0, max_fields=12, max_part_size=2048) as form:
            fields = {k: str(form.get(k) or "") for k in ("email", "nom", "consentement", "formulation", TRAP)}
        raw, name = fields["email"].strip(), _name(fields["nom"])
        if fields[TRAP]:
            LOG.info("subscribe form: trap field filled, nothing done")
            return self._check_inbox()
        address = _address(raw)
        if address is None:
            return await self.form(status=400, email=raw[:MAX_ADDRESS], name=name, alert=(
                _("Check the e-mail address: it is incomplete or holds characters an address cannot have (such "
                  "as accents).")))
        if fields["consentement"] != "oui":
            return await self.form(status=400, email=address, name=name, alert=(
                _("Tick the box to agree to receive the letter: without your consent we cannot send it to "
                  "you.")))
        client = request.client.host if request.client else ""
        mailed = await self._with_store(self._ask, address, name, fields["formulation"],
                                         request.headers.get("origin", "")[:200], client)
        if mailed:
            self.courier.wake()
        return self._check_inbox()

    def _ask(self, store: Signups, address: str, name: str, version: str, origin: str, client: str) -> bool:
        wording = _wording_of(store, version, self.joining.consent)
        return store.ask(address, name, wording, origin=origin, client=client,
                         ip=client if self.joining.record_ip else "", per_ip_hour=self.joining.per_ip_hour)

    def _check_inbox(self) -> Response:
        return _page(200, _("Check your inbox"), [
            _("If this address can receive the letter, a message has just been sent to it."),
            _("Open it and press “Confirm my subscription”: without this confirmation your subscription is not "
              "made. It may take a few minutes to arrive; look in the spam folder too."),
            ], self.title)

    async def confirm_page(self, request: Request, given: str) -> Response:
        """The mail's link: a page with the one button. A GET (a mail scanner's too) changes nothing."""
        email = await self._with_store(Signups.look, self.secret, self.list_id, given,
                                        self.joining.pending_days)
        if email is None:
            return self._spent()
        return _page(200, _("Confirm your subscription"), [
            _("To receive {title} at the address {address}, press the button below.").format(
                title=self.title, address=mask(email))],
            self.title, button=Button("confirm", _("Confirm my subscription")),
            action=f"{request.url.path}?{TOKEN_PARAMETER}={quote(given, safe='.')}")

    async def confirm(self, request: Request, given: str) -> Response:
        """The button: subscribe the address the token is for."""
        refused = self._foreign(request)
        if refused is not None:
            return refused
        client = request.client.host if request.client else ""
        email = await self._with_store(Signups.confirm, self.secret, self.list_id, given,
                                        ip=client if self.joining.record_ip else "",
                                        pending_days=self.joining.pending_days)
        if email is None:
            return self._spent()
        LOG.info("subscribed %s (form, confirmed)", mask(email))
        lines = [_("The address {address} will receive {title}. Thank you!").format(address=mask(email),
                                                                                   title=self.title)]
        latest = await run_in_threadpool(latest_letter, self.joining)
        if latest:
            lines.append(_("Until the next one, here is the latest letter: {latest}").format(latest=latest))
        return _page(200, _("Your subscription is confirmed"), lines, self.title)

    def _spent(self) -> Response:
        return _page(200, _("This link no longer works"), [
            _("This confirmation link has already been used or has expired."),
            _("If you already pressed “Confirm my subscription”, your subscription is made. Otherwise, subscribe "
              "again: {url}").format(url=self.joining.url)], self.title)


def _page(status: int, heading: str, lines: list[str], title: str, **options: Any) -> Response:
    """The shell's page, sending its Origin on its own forms' posts: with the shell's no-referrer policy a
    browser writes `Origin: null`, which no check can tell from a sandboxed page of another site. Referers
    still leave for no other site."""
    return page(status, heading, lines, title, headers={"referrer-policy": "same-origin"}, **options)


def _address(raw: str) -> str | None:
    """The address normalised, or None when it is not ASCII, too long or not an address."""
    if not raw or not raw.isascii() or len(raw) > MAX_ADDRESS:
        return None
    try:
        return check_address(raw)
    except ValueError:
        return None


def _wording_of(store: Signups, version: str, current: str) -> str:
    """The wording the poster's form showed: the one whose hash it sent when the store knows it (a pasted
    snippet may show an earlier one), else the current one."""
    if version and version != wording_hash(current):
        known = store.wordings().get(version[:32])
        if known is not None:
            return known
        LOG.warning("subscribe form: a page shows a wording the store does not know; paste `digest subscribe-form` "
                    "again there")
    return current


def latest_letter(joining: Joining) -> str | None:
    """The web address of the newest published letter (`digest publish` notes it), or None."""
    from digest import letterfolder

    for day, _folder in reversed(letterfolder.dated(joining.outbox)):
        try:
            log = json.loads((joining.private_dir / day.isoformat() / letterfolder.LOG).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(log, dict) and log.get("published"):
            return joining.base_url.rstrip("/") + "/" + letterfolder.web_path(day)
    return None


# --- the confirmation mails ----------------------------------------------------------------------------------


def confirmation(joining: Joining, title: str, mail: Mail, link: str) -> EmailMessage:
    """The confirmation mail, in the letter's language, text and HTML, from the letter's sender."""
    with speaking(joining.language):
        return _confirmation(joining, title, mail, link)


def _confirmation(joining: Joining, title: str, mail: Mail, link: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = joining.sender
    message["To"] = mail.email
    message["Subject"] = _("Confirm your subscription to {title}").format(title=title)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid("confirmation", domain=joining.envelope.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation reply to it
    words = {
        "hello": _("Hello {name},").format(name=mail.name) if mail.name else _("Hello,"),
        "asked": _("Someone, no doubt you, asked to receive {title} at this address.").format(title=title),
        "open": _("To confirm your subscription, open this link and press “Confirm my subscription”:"),
        "button": _("Confirm my subscription"),
        "not_you": _("If it was not you, do nothing: you will not be subscribed and will receive nothing more "
                     "from us."),
        "subject": message["Subject"],
    }
    message.set_content(f"{words['hello']}\n\n{words['asked']}\n\n{words['open']}\n{link}\n\n{words['not_you']}\n")
    html = _MAIL.render(words=words, link=link, lang=current())
    message.add_alternative(html, subtype="html")
    return message


_MAIL = Environment(autoescape=True).from_string("""<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ words.subject }}</title></head>
<body style="font-family:Arial,Helvetica,sans-serif;color:#1f2933;font-size:16px;line-height:1.5">
<p>{{ words.hello }}</p>
<p>{{ words.asked }}</p>
<p><a href="{{ link }}" style="display:inline-block;background:#1b4f8f;color:#ffffff;padding:12px 20px;
border-radius:4px;text-decoration:none">{{ words.button }}</a></p>
<p>{{ words.not_you }}</p>
</body></html>
""")


class Courier:
    """Sends the queued confirmation mails of this server process, one at a time, through [smtp]."""

    def __init__(self, joining: Joining, store: Path, secret: bytes, list_id: str, title: str) -> None:
        self.joining = joining
        self.store = store
        self.secret = secret
        self.list_id = list_id
        self.title = title
        self._wake: asyncio.Event | None = None
        self._purged = 0.0

    def wake(self) -> None:
        """A mail was queued by this process: send it now."""
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        """Until cancelled: send what is due, then wait for a wake-up or POLL_SECONDS."""
        self._wake = asyncio.Event()
        while True:
            self._wake.clear()
            try:
                await asyncio.to_thread(self.drain)
            except Exception as exc:  # a broken store or a bug: say it, keep serving the pages
                LOG.error("confirmation mails: %s: %s", type(exc).__name__, exc)
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
                # Woken by a post: let the posts of a burst be answered first (building a mail takes the
                # interpreter a millisecond or two that their answers would wait for), then send them all.
                await asyncio.sleep(SETTLE_SECONDS)

    def drain(self) -> int:
        """Send every due mail (one SMTP connection for them all); purge now and then; how many were sent."""
        from digest.delivery.smtp import Connection

        count = 0
        connection: Connection | None = None
        with self._open() as store:
            if time.monotonic() - self._purged > PURGE_SECONDS or not self._purged:
                self._purged = time.monotonic()
                self._purge(store)
            try:
                while (mail := store.claim()) is not None:
                    connection = connection or Connection(self.joining.smtp, self.joining.password,
                                                          backoff=(0.0, 1.0, 2.0))
                    count += self._send(store, connection, mail)
            finally:
                if connection is not None:
                    connection.close()
        return count

    def _open(self) -> Any:
        """The store the queued mails are in."""
        return Signups(self.store)

    def _purge(self, store: Any) -> None:
        """Delete what waited too long for its confirmation."""
        gone = store.purge(self.joining.pending_days)
        if gone:
            LOG.info("deleted %d sign-up(s) not confirmed within %d days", gone, self.joining.pending_days)

    def _send(self, store: Any, connection: Any, mail: Any) -> int:
        from digest.delivery.smtp import LOST
        from digest.errors import SendError

        link = f"{self.joining.url}?{TOKEN_PARAMETER}=" + token(self.secret, self.list_id, mail.pending,
                                                                 mail.nonce, mail.key)
        wire = confirmation(self.joining, self.title, mail, link).as_bytes(policy=SMTP_POLICY)
        try:
            connection.client().sendmail(self.joining.envelope, [mail.email], wire)
        except smtplib.SMTPRecipientsRefused as exc:
            code = next(iter(exc.recipients.values()))[0]
            return self._failed(store, mail, code >= 500, f"{code}")
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            return self._failed(store, mail, exc.smtp_code >= 500, f"{exc.smtp_code}")
        except (SendError, *LOST, smtplib.SMTPException) as exc:
            connection.drop()
            return self._failed(store, mail, False, type(exc).__name__)
        store.sent(mail)
        LOG.info("confirmation mail sent to %s", mask(mail.email))
        return 1

    def _failed(self, store: Signups, mail: Mail, permanent: bool, why: str) -> int:
        kept = store.retry(mail, permanent)
        LOG.warning("confirmation mail to %s failed (%s): %s", mask(mail.email), why,
                    "tried again later" if kept else "dropped")
        return 0


def lifespan(*couriers: Courier) -> Any:
    """Starlette's lifespan: the couriers run as long as the server process."""
    @asynccontextmanager
    async def running(_app: object) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(courier.run()) for courier in couriers]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with suppress(asyncio.CancelledError):
                    await task
    return running
