"""The contribution form, on `digest serve` at the path of [contribute] url: member authorities send their news.

- GET: the form (authority, contact, e-mail, title, text, link, date and place, an event's start, one photo with
  its alternative text and the box certifying the right to publish it, a trap field).
- POST: the same answer for every accepted post ("Vérifiez votre boîte de réception"); the contribution waits as
  *unconfirmed* with its picture made fit (digest.contribute.pictures: nothing of the original is kept) and its
  confirmation mail queued. Refused without a change: the trap, a page of a site not allowed, a body over its
  cap, an address over its daily cap, a client over its hourly cap.
- GET ?c=TOKEN (the mail's link): one button; POST ?c=TOKEN (the button): the contribution is *proposed* to the
  team, which decides in the desk or with `digest contributions`.

The mails contributions cause (confirmation, decisions, "the letter is out") wait in the store's one queue; the
server's courier sends them, each made by `Contribute.compose` in the letter's language. The confirmation flow is
digest.web.confirmation's.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlparse

from jinja2 import Environment
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from digest import dates
from digest.audience.subscribers import mask
from digest.config import Config
from digest.contribute import pictures
from digest.contribute.states import State
from digest.contribute.store import MAILS, Contribution, Contributions
from digest.i18n import N_, _, speaking
from digest.mail import auto
from digest.members import Members
from digest.members import read as read_members
from digest.store import Store
from digest.store.caps import Refusal
from digest.store.queue import MailKind, Queued
from digest.text import CONTROL
from digest.web.confirmation import TOKEN_PARAMETER, TRAP, ConfirmedForm, Said, address
from digest.web.courier import Courier, Outgoing
from digest.web.subscribe import Joining, joining_settings

LOG = logging.getLogger("digest.serve")
MAX_FIELD = 300  # a name, a title, a place: one line
WITHDRAW_PARAMETER = "retirer"  # the withdrawal link's token
KEEP = timedelta(days=120)  # a withdrawal link works this long (a contribution waits for a letter or two)
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")  # the bidirectional overrides and isolates
BODY = pictures.MAX_BYTES + 64 * 1024  # one photo and the form's text
FIELDS = ("collectivite", "contact", "email", "titre", "texte", "lien", "date", "lieu", "debut", "alt", "droits",
          TRAP)

FORM = """<form method="post" action="{{ action }}" enctype="multipart/form-data" accept-charset="utf-8">
{% if alert %}<p class="alerte" role="alert">{{ alert }}</p>
{% endif %}{% for name, label, kind, required in fields %}<label for="c-{{ name }}">{{ label }}</label>
{% if kind == "textarea" %}<textarea id="c-{{ name }}" name="{{ name }}" rows="8" maxlength="{{ max_text }}"
{%- if required %} required{% endif %}>{{ values.get(name, "") }}</textarea>
{% else %}<input id="c-{{ name }}" type="{{ kind }}" name="{{ name }}" value="{{ values.get(name, "") }}"
{%- if kind != "file" %} maxlength="300"{% else %} accept="image/jpeg,image/png,image/webp"{% endif %}
{%- if required %} required{% endif %}>
{% endif %}{% endfor %}<p><label class="box" style="font-weight:normal"><input type="checkbox" name="droits"
value="oui"> {{ words.rights }}</label></p>
<div class="piege" aria-hidden="true" style="position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden">
<label for="c-site">{{ words.trap }}</label><input id="c-site" type="text" name="{{ trap }}" tabindex="-1"
autocomplete="off"></div>
<p><button type="submit">{{ words.send }}</button></p>
</form>
"""
_FORMS = Environment(autoescape=True).from_string(FORM)


@dataclass(frozen=True)
class Contributing:
    """What the form needs, read once from sources.toml by `digest serve`."""

    mail: Joining  # the sender, the SMTP settings, the letter's language, the origins allowed
    url: str
    section: str
    members: dict[str, str]  # e-mail domain -> member authority
    max_text: int
    per_ip_hour: int

    @property
    def path(self) -> str:
        """Where `digest serve` answers the form: the path of [contribute] url."""
        return urlparse(self.url).path or "/"


def contributing_from(cfg: Config) -> Contributing | None:
    """The form's settings, None without [contribute] url; DigestError when [smtp] cannot send its mails."""
    table = cfg.contribute
    if table.url is None or table.section is None:
        return None
    mail = joining_settings(cfg, table.url, table.allowed_origins, "[contribute]")
    return Contributing(mail, table.url, table.section, read_members(cfg.members_file).by_domain, table.max_text,
                        table.per_ip_hour)


def clean(value: str) -> str:
    """A field as the form keeps it: no control character (a terminal's escape, a NUL), no bidirectional
    override (a title that reads backwards in the desk)."""
    return BIDI.sub("", CONTROL.sub("", value.replace("\t", " ")))


def checked(values: dict[str, str], photo: bool, max_text: int, members: dict[str, str]) -> tuple[str, dict[str, str]]:
    """What is wrong with a post, in the letter's language ('' when nothing), naming the field and the form it
    expects; and its fields as stored (cleaned, dates as dd/mm/yyyy [hh:mm])."""
    line = {k: " ".join(clean(values[k]).split())[:MAX_FIELD] for k in FIELDS if k != "texte"}
    text = clean(values["texte"].replace("\r\n", "\n").replace("\r", "\n")).strip()
    email = address(line["email"])
    if email is None:
        return _("Check the e-mail address: it is incomplete or holds characters an address cannot have "
                 "(such as accents)."), {}
    if not all(line[k] for k in ("collectivite", "contact", "titre")) or not text:
        return _("Fill in your authority, your name, a title and a text."), {}
    if len(text) > max_text:
        return _("The text has {count} characters: keep it under {most}.").format(count=len(text), most=max_text), {}
    if line["lien"] and urlparse(line["lien"]).scheme not in ("http", "https"):
        return _("The link must be a web address beginning with https://."), {}
    day, start = dates.as_typed(line["date"], with_time=False), dates.as_typed(line["debut"], with_time=True)
    if day is None:
        return _("The date of the action: write it day/month/year, for instance 05/12/2026."), {}
    if start is None:
        return _("The event's start: write it day/month/year hour:minutes, for instance 05/12/2026 14:30."), {}
    if photo and (not line["alt"] or line["droits"] != "oui"):
        return _("With a photo, say what it shows and tick the box certifying the right to publish it."), {}
    return "", {"email": email, "contact": line["contact"], "authority": line["collectivite"],
                "member": member_of(members, email), "title": line["titre"], "text": text, "link": line["lien"],
                "day": day, "place": line["lieu"], "start": start, "alt": line["alt"] if photo else ""}


def member_of(members: dict[str, str], email: str) -> str:
    """The member authority an address's domain (or a parent domain) belongs to, '' when none."""
    return Members(members).member_of(email)


class Contribute(ConfirmedForm):
    """The form's path: GET and POST, with or without a confirmation token."""

    def __init__(self, settings: Contributing, store: Path, secret: bytes, list_id: str, title: str,
                 courier: Courier) -> None:
        super().__init__(store, title, settings.mail.origins)
        self.settings, self.secret, self.list_id, self.courier = settings, secret, list_id, courier
        courier.handle(MAILS, self.compose)
        courier.purge(self.purge)

    async def form(self, *, status: int = 200, values: dict[str, str] | None = None, alert: str = "") -> Response:
        """The form page."""
        return self.say(status, Said(_("Send news for the letter"), [
            _("Member authorities of the association: tell the readers of {title} about your international "
              "action. The team reads each contribution before it goes into a letter.").format(title=self.title)]),
            form=self._markup(values or {}, alert))

    def refused(self) -> list[str]:
        """A post from another site: nothing more to say."""
        return []

    def _markup(self, values: dict[str, str], alert: str) -> Markup:
        fields = [("collectivite", _("Your authority (e.g. Ville de Nancy)"), "text", True),
                  ("contact", _("Your name"), "text", True), ("email", _("Your e-mail address"), "email", True),
                  ("titre", _("Title"), "text", True), ("texte", _("Text"), "textarea", True),
                  ("lien", _("Link to read more (optional)"), "url", False),
                  ("date", _("Date of the action (optional)"), "date", False),
                  ("lieu", _("Place (optional)"), "text", False),
                  ("debut", _("An event's start, for the agenda (optional)"), "datetime-local", False),
                  ("photo", _("One photo (optional: JPEG, PNG or WebP)"), "file", False),
                  ("alt", _("What the photo shows, for those who cannot see it (required with a photo)"), "text",
                   False)]
        words = {"rights": _("I certify that we have the right to publish this photo."),
                 "trap": _("Leave this field empty"), "send": _("Send")}
        return Markup(_FORMS.render(action=self.settings.path, fields=fields, values=values, alert=alert,
                                    words=words, trap=TRAP, max_text=self.settings.max_text))

    async def post(self, request: Request) -> Response:
        """A form post: the cheap checks first (trap, fields, the caps), then its photo made fit, then stored
        unconfirmed with its confirmation mail queued."""
        client = request.client.host if request.client else ""
        limits = self.settings.mail.limits(self.settings.per_ip_hour)
        if await self.with_store(lambda store: Contributions(store).client_over(client, limits)):
            LOG.info(N_("contribution form: a client over its cap, its post not read"))  # (its body: not even parsed)
            return self._check_inbox()
        async with request.form(max_files=1, max_fields=len(FIELDS) + 2,
                                max_part_size=self.settings.max_text * 4 + 1024) as form:
            values = {k: str(form.get(k) or "") for k in FIELDS}
            upload = form.get("photo")
            data = await upload.read(pictures.MAX_BYTES + 1) if isinstance(upload, UploadFile) else b""
        if values[TRAP]:
            LOG.info(N_("contribution form: trap field filled, nothing done"))
            return self._check_inbox()
        problem, fields = checked(values, bool(data), self.settings.max_text, self.settings.members)
        if problem:
            return await self.form(status=400, values=values, alert=problem)
        refusal = await self.with_store(lambda store: Contributions(store).admit(fields["email"], client, limits))
        if refusal is not None:  # before the photo is decoded: a capped client costs nothing more
            LOG.info(N_("contribution form: nothing sent to %s (%s cap)"), mask(fields["email"]), refusal.value)
            return self.later() if refusal == Refusal.CEILING else self._check_inbox()
        picture = None
        if data:
            try:
                picture = await run_in_threadpool(pictures.process, data)
            except pictures.PictureRefused as exc:
                return await self.form(status=400, values=values, alert=_("The photo: {why}.").format(
                    why=exc.message))
            finally:
                data = b""  # the original goes as soon as its copies are made
        number = await self.with_store(lambda store: Contributions(store).receive(fields, picture, limits))
        if number is not None:
            self.courier.wake()
        return self._check_inbox()

    def _check_inbox(self) -> Response:
        return self.say(200, Said(_("Check your inbox"), [
            _("Thank you. To send your contribution to the team, open the message we have just sent to your "
              "address and press “Confirm my contribution”.")]))

    def pending(self, store: Store, given: str) -> Said | None:
        """The page of the mail's link: which contribution the button sends."""
        found = Contributions(store).by_token(self.secret, self.list_id, given)
        if found is None or found.status != State.UNCONFIRMED:
            return None
        return Said(_("Confirm your contribution"), [
            _("“{title}”, sent by {contact} ({authority}).").format(title=found.title, contact=found.contact,
                                                                   authority=found.authority)],
            _("Confirm my contribution"))

    def confirmed(self, store: Store, given: str, client: str) -> Said | None:
        """The button: the contribution goes to the team."""
        found = Contributions(store).confirm(self.secret, self.list_id, given)
        if found is None:
            return None
        LOG.info(N_("contribution %d confirmed by %s"), found.id, mask(found.email))
        return Said(_("Your contribution is with the team"), [
            _("Thank you: the team reads it and will write to you when it decides.")])

    def spent(self) -> Said:
        """A link used already or not valid."""
        return Said(_("This link no longer works"), [
            _("This confirmation link has already been used or is not valid.")])

    # --- for the courier ---------------------------------------------------------------------------------------

    def compose(self, store: Store, mail: Queued) -> Outgoing | None:
        """The mail a contribution causes; None when the contribution or its address is gone."""
        contributions = Contributions(store)
        found = contributions.get_contribution(mail.ref)
        if found is None or not found.email:
            return None
        link, withdraw = found.published, ""
        if mail.kind == MailKind.CONTRIBUTION_CONFIRM:
            token = contributions.link_token(found.id, timedelta(days=self.settings.mail.pending_days))
            link = f"{self.settings.url}?{TOKEN_PARAMETER}={token}"
            withdraw = f"{self.settings.url}?{WITHDRAW_PARAMETER}={contributions.withdrawal_token(found.id, KEEP)}"
        return Outgoing(found.email, message(self.settings, self.title, mail.kind, found, link, withdraw))

    # --- withdrawing ----------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        given = request.query_params.get(WITHDRAW_PARAMETER)
        if given is None or request.method not in ("GET", "HEAD", "POST"):
            await super().__call__(scope, receive, send)
            return
        response = await (self.withdrawn(request, given) if request.method == "POST" else
                          self.withdrawal_page(request, given))
        await response(scope, receive, send)

    async def withdrawal_page(self, request: Request, given: str) -> Response:
        """The mail's withdrawal link: what the button withdraws. A GET changes nothing."""
        found = await self.with_store(lambda store: Contributions(store).withdrawable(given))
        if found is None:
            return self.say(200, Said(_("This link no longer works"), [
                _("This contribution can no longer be withdrawn: the team has decided, or it was withdrawn "
                  "already.")]))
        said = Said(_("Withdraw your contribution"), [
            _("“{title}”, sent by {contact} ({authority}).").format(title=found.title, contact=found.contact,
                                                                   authority=found.authority),
            _("Withdrawn, it will not be published, and its photo is deleted.")], _("Withdraw my contribution"))
        return self.button_page(request, said, "withdraw", WITHDRAW_PARAMETER, given)

    async def withdrawn(self, request: Request, given: str) -> Response:
        """The button: the contribution is withdrawn, if the team has not decided yet."""
        refused = self.foreign(request)
        if refused is not None:
            return refused
        found = await self.with_store(lambda store: Contributions(store).withdraw(given))
        if found is None:
            return await self.withdrawal_page(request, given)
        LOG.info(N_("contribution %d withdrawn by %s"), found.id, mask(found.email))
        return self.say(200, Said(_("Your contribution is withdrawn"), [
            _("It will not be published. Thank you for writing to us.")]))

    def purge(self, store: Store) -> None:
        """Delete the contributions never confirmed."""
        Contributions(store).purge_unconfirmed(self.settings.mail.pending_days)


# --- the mails ------------------------------------------------------------------------------------------------


SUBJECTS = {MailKind.CONTRIBUTION_CONFIRM: "confirm", MailKind.CONTRIBUTION_ACCEPTED: "accepted",
            MailKind.CONTRIBUTION_REFUSED: "refused", MailKind.CONTRIBUTION_PUBLISHED: "published"}


def message(settings: Contributing, title: str, kind: MailKind, found: Contribution, link: str,
            withdraw: str = "") -> EmailMessage:
    """The mail a contribution causes (its confirmation, a decision), in the letter's language."""
    with speaking(settings.mail.language):
        subjects = {"confirm": _("Confirm your contribution to {title}"),
                    "accepted": _("Your contribution will be in {title}"),
                    "refused": _("Your contribution to {title}"),
                    "published": _("Your contribution is in {title}")}
        bodies = {
            # Nothing the poster typed: the address is not yet proven theirs (a stranger's inbox, the association's
            # domain). What they sent shows on the page the link opens.
            "confirm": _("To send your contribution to the team of {title}, open this link and press “Confirm my "
                         "contribution”:\n{link}\n\nIf it was not you, do nothing: nothing will be sent.\n\n"
                         "To withdraw it later, as long as the team has not accepted it:\n{withdraw}"),
            "accepted": (_("The team of {title} has accepted “{item}”: it will be in the letter of {month}.")
                         if found.letter else
                         _("The team of {title} has accepted “{item}”: it will be in the next letter.")),
            "refused": _("The team of {title} will not publish “{item}”.\n\n{note}"),
            "published": _("{title} has gone out with “{item}”. Read it on the web: {link}"),
        }
        which = SUBJECTS[kind]
        message_ = auto.message(settings.mail.sender, found.email, subjects[which].format(title=title),
                                settings.mail.envelope, "contribution")
        confirming = kind == MailKind.CONTRIBUTION_CONFIRM
        hello = _("Hello,") if confirming else _("Hello {name},").format(name=found.contact)
        month = dates.month_year(date.fromisoformat(f"{found.letter}-01"), settings.mail.language) \
            if found.letter else ""
        body = bodies[which].format(title=title, item=found.title, link=link, note=found.note, month=month,
                                    withdraw=withdraw).strip()
        message_.set_content(f"{hello}\n\n{body}\n")
        return message_
