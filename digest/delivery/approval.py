"""Approval before the list send: with `[send] approvers`, a letter leaves only once an approver approved the exact
build that leaves (its fingerprint). A rebuild after the approval voids it.

`digest send --ask-approval` (or the desk's button) mails each approver the letter headed by a banner whose link
opens a page of `digest serve` (digest.web.approve): the letter, « Valider l'envoi » and « Demander des
changements » with a comment. The link's token is the store's pending confirmation (digest.store.pendings, kind
"approval"): random, single use, expiring after LIFETIME, naming one row of this part, which holds the approver
and the fingerprint they were shown. What the request carries is never believed: the approver is the row's.

The rows are the journal of who was asked about what, and who approved what, when (`digest letters`, the desk,
the send journal's notes).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from urllib.parse import urlparse

from digest import i18n
from digest.config import Config
from digest.i18n import _
from digest.letterfolder import BuiltLetter
from digest.store import Part, now
from digest.store.pendings import Pendings
from digest.store.queue import MailKind, MailQueue

KIND = "approval"  # the pending confirmations' kind
LIFETIME = timedelta(days=7)
MAX_COMMENT = 2000  # characters of a request for changes


class Answer(StrEnum):
    """What an approver answered."""

    APPROVED = "approved"
    CHANGES = "changes"


class Standing(StrEnum):
    """Where a letter's approval stands for the build in the outbox."""

    NOT_NEEDED = "not-needed"  # no [send] approvers
    NOT_ASKED = "not-asked"
    WAITING = "waiting"  # asked, no answer yet
    APPROVED = "approved"
    CHANGES = "changes"  # changes asked
    VOIDED = "voided"  # approved, but for an earlier build


@dataclass(frozen=True)
class Request:
    """One approver asked about one build of one letter, and their answer."""

    id: int
    letter: date
    fingerprint: str
    subject: str
    approver: str
    asked: datetime
    answer: Answer | None = None
    comment: str = ""
    answered: datetime | None = None


@dataclass(frozen=True)
class Approval:
    """A letter's approval: its standing, and who answered, when, what they said (the last answer that counts)."""

    standing: Standing
    who: str = ""
    when: datetime | None = None
    comment: str = ""


def _request(row: tuple[object, ...]) -> Request:
    rid, letter, fingerprint, subject, approver, asked, answer, comment, answered = row
    return Request(int(str(rid)), date.fromisoformat(str(letter)), str(fingerprint), str(subject), str(approver),
                   datetime.fromisoformat(str(asked)), Answer(str(answer)) if answer else None, str(comment),
                   datetime.fromisoformat(str(answered)) if answered else None)


COLUMNS = "id, letter, fingerprint, subject, approver, asked, answer, comment, answered"


class Approvals(Part):
    """The approval requests in the store."""

    def ask(self, letter: date, fingerprint: str, subject: str, approver: str) -> tuple[Request, str]:
        """A new request to `approver` about this build, and the token of its link."""
        with self._transaction() as db:
            rid = db.execute("INSERT INTO approval (letter, fingerprint, subject, approver, asked) VALUES "
                             "(?, ?, ?, ?, ?)", (letter.isoformat(), fingerprint, subject, approver, now())).lastrowid
        token = Pendings(self.store).add(KIND, int(rid or 0), LIFETIME)
        found = self.get(int(rid or 0))
        assert found is not None
        return found, token

    def get(self, rid: int) -> Request | None:
        """The request with this number."""
        row = self._db.execute(f"SELECT {COLUMNS} FROM approval WHERE id=?", (rid,)).fetchone()
        return _request(row) if row else None

    def of_letter(self, letter: date) -> list[Request]:
        """Every request about the letter of `letter`, oldest first."""
        return [_request(r) for r in self._db.execute(f"SELECT {COLUMNS} FROM approval WHERE letter=? ORDER BY id",
                                                     (letter.isoformat(),))]

    def opened(self, token: str) -> Request | None:
        """The unanswered request a token (not expired, not spent) opens; changes nothing."""
        rid = Pendings(self.store).look(KIND, token)
        found = self.get(rid) if rid is not None else None
        return found if found and found.answer is None else None

    def answer(self, token: str, fingerprint: str, answer: Answer, comment: str, team: bool) -> Request | None:
        """Record an approver's answer, once: the token spent, the request answered if it is about `fingerprint`
        (the build in the outbox now), a mail to the team queued when `team`; the request, or None when the
        token opens nothing or the letter was built again since (then nothing is recorded and the token stays)."""
        pendings, queue = Pendings(self.store), MailQueue(self.store)
        with self._transaction() as db:
            rid = pendings.look_in(db, KIND, token)
            row = db.execute(f"SELECT {COLUMNS} FROM approval WHERE id=?", (rid,)).fetchone() if rid else None
            if row is None or row[6] or row[2] != fingerprint:
                return None
            pendings.spend(db, KIND, token)
            db.execute("UPDATE approval SET answer=?, comment=?, answered=? WHERE id=?",
                       (answer.value, comment[:MAX_COMMENT], now(), rid))
            if team:
                queue.put(db, MailKind.APPROVAL_ANSWERED, int(rid or 0))
        return self.get(int(rid or 0))


def standing(requests: list[Request], fingerprint: str, approvers: tuple[str, ...]) -> Approval:
    """The approval of the build `fingerprint`: the last answer of a current approver about it decides."""
    if not approvers:
        return Approval(Standing.NOT_NEEDED)
    allowed = {a.casefold() for a in approvers}
    current = [r for r in requests if r.approver.casefold() in allowed]
    answered = sorted((r for r in current if r.answer and r.fingerprint == fingerprint),
                      key=lambda r: (r.answered or r.asked, r.id))
    if answered:
        last = answered[-1]
        chosen = Standing.APPROVED if last.answer == Answer.APPROVED else Standing.CHANGES
        return Approval(chosen, last.approver, last.answered, last.comment)
    waiting = [r for r in current if r.fingerprint == fingerprint]
    if waiting:
        return Approval(Standing.WAITING, ", ".join(dict.fromkeys(r.approver for r in waiting)), waiting[-1].asked)
    earlier = [r for r in current if r.answer == Answer.APPROVED]
    if earlier:
        return Approval(Standing.VOIDED, earlier[-1].approver, earlier[-1].answered)
    return Approval(Standing.NOT_ASKED)


def of_letter(cfg: Config, letter: BuiltLetter) -> Approval:
    """The approval of the letter built in the outbox (the store opened and closed)."""
    if not cfg.send.approvers:
        return Approval(Standing.NOT_NEEDED)
    if not cfg.subscribers_path.exists():
        return Approval(Standing.NOT_ASKED)
    with Approvals(cfg.subscribers_path) as approvals:
        return standing(approvals.of_letter(letter.date), letter.fingerprint, cfg.send.approvers)


def described(approval: Approval) -> str:
    """The approval in the team's words: « en attente de validation », « validée par … le … »…"""
    when = i18n.moment(approval.when.astimezone()) if approval.when else ""
    if approval.standing == Standing.WAITING:
        return _("waiting for approval (asked of {who})").format(who=approval.who)
    if approval.standing == Standing.APPROVED:
        return _("approved by {who} on {when}").format(who=approval.who, when=when)
    if approval.standing == Standing.CHANGES:
        return _("changes asked by {who} on {when}: {comment}").format(who=approval.who, when=when,
                                                                      comment=approval.comment)
    if approval.standing == Standing.VOIDED:
        return _("approved by {who} on {when}, but built again since: to ask again").format(who=approval.who,
                                                                                             when=when)
    if approval.standing == Standing.NOT_ASKED:
        return _("not approved yet")
    return ""


def notes(approval: Approval, fingerprint: str) -> dict[str, str]:
    """What the send journal keeps of an approval: who, when, which build (empty when none was needed)."""
    if approval.standing != Standing.APPROVED or approval.when is None:
        return {}
    return {"approved_by": approval.who, "approved_at": approval.when.isoformat(timespec="seconds"),
            "approved_build": fingerprint}


def refusal(cfg: Config, approval: Approval) -> str | None:
    """Why a list send of this build may not go (one line naming the approvers and --ask-approval); None: it may."""
    if approval.standing in (Standing.NOT_NEEDED, Standing.APPROVED):
        return None
    named = ", ".join(cfg.send.approvers)
    if approval.standing == Standing.VOIDED:
        why = _("the approval by {who} was for an earlier build: the letter was built again since").format(
            who=approval.who)
    elif approval.standing == Standing.CHANGES:
        why = _("{who} asked for changes: {comment}").format(who=approval.who, comment=approval.comment)
    elif approval.standing == Standing.WAITING:
        why = _("no approver has answered yet")
    else:
        why = _("no approver was asked")
    return _("this letter is not approved ({why}); [send] approvers ({named}) must approve it: ask them with "
             "`digest send --ask-approval`").format(why=why, named=named)


def approval_url(cfg: Config) -> str:
    """The page of `digest serve` the approvers' links open: [send] approval_url, else /validation on the
    unsubscribe page's site."""
    if cfg.send.approval_url:
        return cfg.send.approval_url
    own = urlparse(cfg.letter.unsubscribe_url)
    return f"{own.scheme}://{own.netloc}/validation"


def link(cfg: Config, token: str) -> str:
    """The approver's link: the page's address and the token."""
    return f"{approval_url(cfg)}?c={token}"


BANNER = ('<div style="background:#fff4e5;border:2px solid #e0592a;padding:16px;margin:0 0 16px;'
          'font:16px/1.5 Arial,Helvetica,sans-serif;color:#1f2933">'
          '<p style="margin:0 0 8px;font-weight:bold">{heading}</p><p style="margin:0 0 12px">{line}</p>'
          '<p style="margin:0"><a href="{url}" style="display:inline-block;background:#1b4f8f;color:#ffffff;'
          'padding:10px 16px;border-radius:4px;text-decoration:none;font-weight:bold">{button}</a></p></div>')


def for_approver(letter: BuiltLetter, url: str, expires: datetime, both: bool = False) -> BuiltLetter:
    """The letter an approver receives: the same, headed by a banner (HTML and text) with the link to answer, and
    its subject marked. With `both`, `letter` is the members' edition, which holds every item of the two."""
    heading = _("This letter waits for your approval before it goes to the list.")
    line = _("Read it below, then approve it or ask for changes (the link works once, until {when}).").format(
        when=i18n.moment(expires.astimezone()))
    if both:
        line += " " + _("This is the members' edition: the public one is the same without the items for members "
                        "only.")
    button = _("Approve or ask for changes")
    banner = BANNER.format(heading=html.escape(heading), line=html.escape(line), url=html.escape(url),
                           button=html.escape(button))
    body = re.search(r"<body[^>]*>", letter.html, re.IGNORECASE)
    at = body.end() if body else 0
    page = letter.html[:at] + banner + letter.html[at:]
    text = "\n".join((heading, line, _("{label}: {url}").format(label=button, url=url), "", ""))
    return replace(letter, html=page, text=text + letter.text,
                   subject=_("[TO APPROVE] {subject}").format(subject=letter.subject))


def expires_at() -> datetime:
    """When a link made now stops working."""
    return datetime.now(UTC) + LIFETIME


def ask(cfg: Config, letter: BuiltLetter) -> list[tuple[str, bool]]:
    """Ask each [send] approver about this build: a request and its token in the store, then the letter headed by
    the banner mailed through [smtp]; each approver with whether the server took the mail."""
    from digest.audience.recipients import Recipient
    from digest.delivery import personalize, smtp
    from digest.mail import identity

    secret, list_id = identity.secret(cfg), identity.list_id(cfg)
    done = []
    with Approvals(cfg.subscribers_path) as approvals:
        for approver in cfg.send.approvers:
            _asked, token = approvals.ask(letter.date, letter.fingerprint, letter.subject, approver)
            shown = for_approver(letter.members or letter, link(cfg, token), expires_at(), both=bool(letter.members))
            personalizer = personalize.Personalizer(shown, secret, list_id, return_path=identity.envelope_sender(cfg))
            report = smtp.send_test(personalizer, [Recipient(approver)], smtp.connection_for(cfg))
            done.append((approver, report.sent == 1))
    return done
