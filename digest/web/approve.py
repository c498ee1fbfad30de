"""The approvers' page of `digest serve` ([send] approval_url, /validation by default): the letter an approver was
asked about, « Valider l'envoi » and « Demander des changements » (with a comment).

- GET ?c=TOKEN shows the letter and the two buttons; it changes nothing (mail scanners open links).
- POST ?c=TOKEN records the answer, once: the token is spent, the answer is the row's approver's (never a value
  the request brings), and about the build the approver was shown; a rebuild since makes the page say so and
  records nothing. The team is mailed (the one mail queue).
The page speaks the team's language (the process's), not the letter's: approvers are the association's people.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlparse

from jinja2 import Environment
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from digest import i18n, letterfolder
from digest.config import Config
from digest.delivery import approval
from digest.delivery.approval import Answer, Approvals
from digest.delivery.approval import Request as Asked
from digest.errors import DigestError
from digest.i18n import N_, _
from digest.mail import auto
from digest.store import Store
from digest.store.queue import MailKind, Queued
from digest.web.confirmation import origin_allowed, shell_page
from digest.web.courier import Courier, Outgoing
from digest.web.layer import page

LOG = logging.getLogger("digest.serve")
ALLOWED = ("GET", "HEAD", "POST")
TOKEN = "c"
POLICY = ("default-src 'none'; img-src https: data:; style-src 'unsafe-inline'; form-action 'self'; "
          "frame-ancestors 'none'; base-uri 'none'")  # the shell's, and the letter's pictures in its frame
FORM = Environment(autoescape=True).from_string(
    '<iframe title="{{ words.frame }}" sandbox srcdoc="{{ letter }}" style="width:100%;height:70vh;'
    'border:1px solid #52606d;border-radius:4px;background:#ffffff"></iframe>\n'
    '<form method="post" action="{{ action }}">\n'
    '<label for="commentaire">{{ words.comment }}</label>\n'
    '<textarea id="commentaire" name="commentaire" maxlength="{{ most }}"></textarea>\n'
    '<p><button type="submit" name="reponse" value="approved">{{ words.approve }}</button>\n'
    '<button type="submit" name="reponse" value="changes" class="second">{{ words.changes }}</button></p>\n'
    '</form>')


@dataclass(frozen=True)
class Approving:
    """What the page needs, read once from sources.toml by `digest serve`."""

    path: str  # the path of the approval page
    outbox: Path
    language: str  # the team's (the process's): the page and the team's mails speak it
    team: str  # where the team's notices go
    sender: str  # [letter] from
    envelope: str  # MAIL FROM of the server's own mails


def approving_from(cfg: Config) -> Approving | None:
    """The page's settings, None without [send] approvers (or without [smtp]: the team could not be told)."""
    from digest.delivery.notice import team_address
    from digest.mail import identity

    if not cfg.send.approvers or cfg.smtp is None:
        return None
    return Approving(path=urlparse(approval.approval_url(cfg)).path or "/", outbox=cfg.outbox,
                     language=i18n.current(), team=team_address(cfg), sender=cfg.letter.sender,
                     envelope=identity.envelope_sender(cfg))


class Approve:
    """GET shows the letter and the buttons; POST records the answer."""

    def __init__(self, settings: Approving, store: Path, title: str, courier: Courier) -> None:
        self.settings, self.store, self.title, self.courier = settings, store, title, courier
        courier.handle((MailKind.APPROVAL_ANSWERED,), self.compose)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.method not in ALLOWED:
            raise HTTPException(405, headers={"Allow": ", ".join(ALLOWED)})
        with i18n.speaking(self.settings.language):
            token = request.query_params.get(TOKEN, "")
            response = await (self.post(request, token) if request.method == "POST" else self.get(request, token))
        await response(scope, receive, send)

    def _opened(self, token: str) -> tuple[Asked, letterfolder.BuiltLetter] | None:
        """The unanswered request the token opens and the letter now in the outbox; None: nothing to answer."""
        with Approvals(self.store) as approvals:
            asked = approvals.opened(token)
        if asked is None:
            return None
        try:
            return asked, letterfolder.read_built(self.settings.outbox, asked.letter)
        except DigestError:
            return None

    def _spent(self) -> Response:
        return shell_page(200, _("This link no longer works"), [
            _("It was used already, it expired, or it is not whole. If the letter still needs your approval, ask "
              "the team to send the request again.")], self.title)

    def _rebuilt(self) -> Response:
        return shell_page(200, _("The letter changed since"), [
            _("The team built the letter again after asking you: your answer would be about a version that will "
              "not leave. Nothing was recorded; a new request will come for the new version.")], self.title)

    async def _current(self, token: str) -> tuple[Asked, letterfolder.BuiltLetter] | Response:
        """The request the token opens and the letter it is about, still the build in the outbox; else the page
        that says why there is nothing to answer."""
        found = await run_in_threadpool(self._opened, token)
        if found is None:
            return self._spent()
        if found[1].fingerprint != found[0].fingerprint:
            return self._rebuilt()
        return found

    async def get(self, request: Request, token: str) -> Response:
        """The letter as it would leave, and the two buttons. Nothing changes."""
        found = await self._current(token)
        return found if isinstance(found, Response) else self._page(request, token, *found)

    def _page(self, request: Request, token: str, asked: Asked, letter: letterfolder.BuiltLetter,
              alert: str = "") -> Response:
        words = {"frame": _("The letter"), "comment": _("Your comment (needed to ask for changes)"),
                 "approve": _("Approve the send"), "changes": _("Ask for changes")}
        shown = letter.members or letter  # the members' edition holds every item of both
        form = Markup(FORM.render(words=words, letter=shown.html, most=approval.MAX_COMMENT,
                                  action=f"{request.url.path}?{TOKEN}={quote(token, safe='.-_')}"))
        lines = [_("The letter of {day}, “{subject}”, waits for your approval before it goes to the list.").format(
                     day=i18n.day(letter.date), subject=letter.subject),
                 _("Asked of {approver} on {when}.").format(approver=asked.approver,
                                                             when=i18n.moment(asked.asked.astimezone())),
                 *([alert] if alert else [])]
        return page(200, _("Approve the letter"), lines, self.title, form=form,
                    headers={"referrer-policy": "same-origin", "content-security-policy": POLICY})

    async def post(self, request: Request, token: str) -> Response:
        """The answer: recorded once, for the build the approver was shown."""
        if not origin_allowed(request, frozenset()):
            return shell_page(403, _("Request refused"), [_("This form cannot be sent from this page.")], self.title)
        async with request.form(max_files=0, max_fields=4, max_part_size=approval.MAX_COMMENT * 4) as form:
            given = str(form.get("reponse") or "")
            comment = " ".join(str(form.get("commentaire") or "").split())[:approval.MAX_COMMENT]
        if given not in (Answer.APPROVED, Answer.CHANGES):
            return shell_page(400, _("Request refused"), [_("This form was not sent by our page.")], self.title)
        found = await self._current(token)
        if isinstance(found, Response):
            return found
        asked, letter = found
        if given == Answer.CHANGES and not comment:
            return self._page(request, token, asked, letter, _("Say what to change in the comment, then press "
                                                                 "« Ask for changes » again."))
        answered = await run_in_threadpool(self._record, token, asked.fingerprint, Answer(given), comment)
        if answered is None:
            return self._spent()
        self.courier.wake()
        LOG.info(N_("approval request %d: approved") if answered.answer == Answer.APPROVED else
                 N_("approval request %d: changes asked"), answered.id)
        if answered.answer == Answer.APPROVED:
            return shell_page(200, _("Send approved"), [
                _("Thank you: the letter of {day} may go to the list. The team is told.").format(
                    day=i18n.day(letter.date))], self.title)
        return shell_page(200, _("Changes asked"), [
            _("Thank you: the team is told what to change. A new request will come for the new version.")],
            self.title)

    def _record(self, token: str, fingerprint: str, answer: Answer, comment: str) -> Asked | None:
        with Approvals(self.store) as approvals:
            return approvals.answer(token, fingerprint, answer, comment, team=True)

    def compose(self, store: Store, mail: Queued) -> Outgoing | None:
        """The team's mail about an answer (in the team's language)."""
        with i18n.speaking(self.settings.language):
            asked = Approvals(store).get(mail.ref)
            if asked is None or asked.answer is None:
                return None
            when = i18n.moment(asked.answered.astimezone()) if asked.answered else ""
            if asked.answer == Answer.APPROVED:
                subject = _("Approved by {who}: the letter of {day}").format(who=asked.approver,
                                                                             day=i18n.day(asked.letter))
                lines = [_("{who} approved “{subject}” on {when}: its list send may go (digest send --list).").format(
                    who=asked.approver, subject=asked.subject, when=when)]
            else:
                subject = _("Changes asked by {who}: the letter of {day}").format(who=asked.approver,
                                                                                  day=i18n.day(asked.letter))
                lines = [_("{who} asked for changes to “{subject}” on {when}:").format(
                    who=asked.approver, subject=asked.subject, when=when), asked.comment,
                    _("Once the letter is built again, ask for approval again (digest send --ask-approval).")]
            message = auto.message(self.settings.sender, self.settings.team, subject, self.settings.envelope,
                                   "approval")
            message.set_content("\n\n".join(lines) + "\n")
            return Outgoing(self.settings.team, message)
