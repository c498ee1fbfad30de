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

The confirmation mails wait in the store's one queue; the server's courier (digest.web.courier) sends them, each
made by `Subscribe.compose` with a new pending token. The confirmation flow is digest.web.confirmation's.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlparse

from jinja2 import Environment
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from digest.audience.joining import SignUp, Signups, wording_hash
from digest.audience.recipients import _name, check_address
from digest.audience.subscribers import mask
from digest.config import Config, SmtpConfig
from digest.i18n import N_, _, current, speaking
from digest.mail import auto
from digest.store import Store
from digest.store.caps import Limits, Refusal
from digest.store.queue import MailKind, Queued
from digest.web.confirmation import TOKEN_PARAMETER, TRAP, ConfirmedForm, Said, address, shell_page
from digest.web.courier import Courier, Outgoing, Post
from digest.web.layer import linked

LOG = logging.getLogger("digest.serve")

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
    ipv6_prefix: int = 64  # [subscribe] ipv6_prefix: the network a client is counted by
    mails_per_hour: int = 100  # [subscribe] mails_per_hour: both forms' confirmation mails, in all

    def limits(self, per_client_hour: int | None = None) -> Limits:
        """The caps of a form: its own per-client cap (the subscribe form's by default), the shared rest."""
        return Limits(per_client_hour or self.per_ip_hour, self.ipv6_prefix, self.mails_per_hour)

    @property
    def path(self) -> str:
        """Where `digest serve` answers the form: the path of [subscribe] url."""
        return urlparse(self.url).path or "/"

    @property
    def post(self) -> Post:
        """Where the form's mails go out."""
        return Post(self.smtp, self.password, self.envelope)


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
    from digest.mail import identity

    if cfg.smtp is None:
        raise DigestError(_("{path}: {table} url is set but there is no [smtp] table to send the confirmation "
                            "mails; add [smtp] (see docs/subscribe.md)").format(path=cfg.path, table=table_name))
    sub = cfg.subscribe
    table, password = smtp.smtp_settings(cfg)
    own = urlparse(url)
    return Joining(url=url, consent=sub.consent, privacy_url=sub.privacy_url,
                   origins=frozenset((f"{own.scheme}://{own.netloc.lower()}", *allowed)),
                   record_ip=sub.record_ip, pending_days=sub.pending_days, per_ip_hour=sub.per_ip_hour,
                   sender=cfg.letter.sender, envelope=identity.envelope_sender(cfg),
                   smtp=table, password=password, base_url=cfg.letter.base_url, outbox=cfg.outbox,
                   private_dir=cfg.private_dir, language=cfg.letter.language, ipv6_prefix=sub.ipv6_prefix,
                   mails_per_hour=sub.mails_per_hour)


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


class Subscribe(ConfirmedForm):
    """The form's path: GET and POST, with or without a confirmation token."""

    def __init__(self, joining: Joining, store: Path, secret: bytes, list_id: str, title: str,
                 courier: Courier) -> None:
        super().__init__(store, title, joining.origins)
        self.joining = joining
        self.secret = secret
        self.list_id = list_id
        self.courier = courier
        courier.handle((MailKind.SIGNUP_CONFIRM,), self.compose)
        courier.purge(self.purge)
        check_address("warm-up@example.org")  # email_validator loaded now, not during the first post

    async def form(self, *, status: int = 200, email: str = "", name: str = "", alert: str = "") -> Response:
        """The form page."""
        return shell_page(status, _("Subscribe to the letter"), [
            _("Receive {title} every month by e-mail. You can unsubscribe at any time, through the link in every "
              "letter.").format(title=self.title)], self.title,
            form=form_markup(self.joining.consent, self.joining.privacy_url, self.joining.path, email=email,
                             name=name, alert=alert))

    def refused(self) -> list[str]:
        """A post from another site: where to subscribe."""
        return [linked(_("Subscribe at {url}.").format(url=self.joining.url), self.joining.url)]

    async def post(self, request: Request) -> Response:
        """A form post: the same answer for every state of a valid address."""
        async with request.form(max_files=0, max_fields=12, max_part_size=2048) as form:
            fields = {k: str(form.get(k) or "") for k in ("email", "nom", "consentement", "formulation", TRAP)}
        raw, name = fields["email"].strip(), _name(fields["nom"])
        if fields[TRAP]:
            LOG.info(N_("subscribe form: trap field filled, nothing done"))
            return self._check_inbox()
        checked = address(raw)
        if checked is None:
            return await self.form(status=400, email=raw[:254], name=name, alert=(
                _("Check the e-mail address: it is incomplete or holds characters an address cannot have (such "
                  "as accents).")))
        if fields["consentement"] != "oui":
            return await self.form(status=400, email=checked, name=name, alert=(
                _("Tick the box to agree to receive the letter: without your consent we cannot send it to "
                  "you.")))
        client = request.client.host if request.client else ""
        mailed, refusal = await self.with_store(self._ask, checked, name, fields["formulation"],
                                                request.headers.get("origin", "")[:200], client)
        if mailed:
            self.courier.wake()
        if refusal is not None:
            LOG.info(N_("subscribe form: nothing sent to %s (%s cap)"), mask(checked), refusal.value)
        return self.later() if refusal == Refusal.CEILING else self._check_inbox()

    def _ask(self, store: Store, email: str, name: str, version: str, origin: str,
             client: str) -> tuple[bool, Refusal | None]:
        signups = Signups(store)
        wording = _wording_of(signups, version, self.joining.consent)
        return signups.ask(email, name, wording, origin=origin, client=client,
                           ip=client if self.joining.record_ip else "", limits=self.joining.limits())

    def _check_inbox(self) -> Response:
        return self.say(200, Said(_("Check your inbox"), [
            _("If this address can receive the letter, a message has just been sent to it."),
            _("Open it and press “Confirm my subscription”: without this confirmation your subscription is not "
              "made. It may take a few minutes to arrive; look in the spam folder too."),
            ]))

    def pending(self, store: Store, given: str) -> Said | None:
        """The page of the mail's link: whose subscription the button confirms."""
        waiting = Signups(store).look(self.secret, self.list_id, given, self.joining.pending_days)
        if waiting is None:
            return None
        lines = [_("To receive {title} at the address {address}, press the button below.").format(
            title=self.title, address=mask(waiting.email))]
        if waiting.name:  # what the poster typed, shown here (escaped by the page), never in the mail
            lines.append(_("Name given: {name}").format(name=waiting.name))
        lines.append(_("By pressing it, you agree to this: “{wording}”").format(
            wording=waiting.wording or self.joining.consent))
        return Said(_("Confirm your subscription"), lines, _("Confirm my subscription"))

    def confirmed(self, store: Store, given: str, client: str) -> Said | None:
        """The button: subscribe the address the token is for."""
        email = Signups(store).confirm(self.secret, self.list_id, given,
                                       ip=client if self.joining.record_ip else "",
                                       pending_days=self.joining.pending_days)
        if email is None:
            return None
        LOG.info(N_("subscribed %s (form, confirmed)"), mask(email))
        lines = [_("The address {address} will receive {title}. Thank you!").format(address=mask(email),
                                                                                   title=self.title)]
        latest = latest_letter(self.joining)
        if latest:
            lines.append(linked(_("Until the next one, here is the latest letter: {latest}").format(latest=latest),
                                latest))
        return Said(_("Your subscription is confirmed"), lines)

    def spent(self) -> Said:
        """A link used already or expired."""
        return Said(_("This link no longer works"), [
            _("This confirmation link has already been used or has expired."),
            linked(_("If you already pressed “Confirm my subscription”, your subscription is made. Otherwise, "
                     "subscribe again: {url}").format(url=self.joining.url), self.joining.url)])

    # --- for the courier ---------------------------------------------------------------------------------------

    def compose(self, store: Store, mail: Queued) -> Outgoing | None:
        """The confirmation mail of a waiting sign-up, with a new pending token; None when it is gone."""
        signups = Signups(store)
        found = signups.signup(mail.ref)
        if found is None:
            return None
        token = signups.link_token(found.id, timedelta(days=self.joining.pending_days))
        link = f"{self.joining.url}?{TOKEN_PARAMETER}={token}"
        return Outgoing(found.email, confirmation(self.joining, self.title, found, link))

    def purge(self, store: Store) -> None:
        """Delete what waited too long for its confirmation."""
        gone = Signups(store).purge(self.joining.pending_days)
        if gone:
            LOG.info(N_("deleted %d sign-up(s) not confirmed within %d days"), gone, self.joining.pending_days)


def _wording_of(store: Signups, version: str, current: str) -> str:
    """The wording the poster's form showed: the one whose hash it sent when the store knows it (a pasted
    snippet may show an earlier one), else the current one."""
    if version and version != wording_hash(current):
        known = store.wordings().get(version[:32])
        if known is not None:
            return known
        LOG.warning(N_("subscribe form: a page shows a wording the store does not know; paste `digest subscribe-form` "
                    "again there"))
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


def confirmation(joining: Joining, title: str, mail: SignUp, link: str) -> EmailMessage:
    """The confirmation mail, in the letter's language, text and HTML, from the letter's sender."""
    with speaking(joining.language):
        return _confirmation(joining, title, mail, link)


def _confirmation(joining: Joining, title: str, mail: SignUp, link: str) -> EmailMessage:
    message = auto.message(joining.sender, mail.email, _("Confirm your subscription to {title}").format(title=title),
                           joining.envelope, "confirmation")
    words = {
        # Nothing the poster typed (not even the name): the address is not yet proven theirs. The page the link
        # opens shows what was typed.
        "hello": _("Hello,"),
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
