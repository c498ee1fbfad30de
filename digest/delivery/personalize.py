"""Each recipient's copy of an already-built letter: signed unsubscribe link, greeting name, own headers.

The letter is rendered and inlined once by `digest build`; here its HTML and text are cut, once, around the
places that differ per recipient (the unsubscribe URL, the greeting's name marker), and every copy is a join of
precomputed bytes (see digest.message.MessageTemplate). Pure: the clock and the secret come in as arguments.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, formataddr, parseaddr

from digest.audience.recipients import Recipient
from digest.errors import DigestError
from digest.i18n import _
from digest.letterfolder import HTML, BuiltLetter
from digest.mail import signing
from digest.mail.links import mailto_with_token, unsubscribe_link, verp_sender
from digest.message import MessageTemplate, Piece, Slot, header_line, list_unsubscribe, raw_header_line, sender_domain

# A template marks where the greeting's name goes with this empty span: invisible in the web version.
NAME_MARK = '<span class="digest-name"></span>'
TEST_PREFIX = "[TEST] "


@dataclass(frozen=True)
class PersonalCopy:
    """One recipient's message: the bytes and its Message-ID."""

    raw: bytes
    message_id: str


class Personalizer:
    """Makes each recipient's copy of one built letter from parts cut and encoded once."""

    def __init__(self, letter: BuiltLetter, secret: bytes, list_id: str, *,
                 unsubscribe_mailto: str | None = None, test: bool = False, return_path: str | None = None,
                 verp: bool = False) -> None:
        if not secret:
            raise DigestError(_("the unsubscribe secret is empty; export a long random value in its variable"))
        self.letter = letter
        self.secret = secret
        self.mailto = unsubscribe_mailto
        self.domain = sender_domain(letter.sender)
        self.test = test
        self.envelope_sender = return_path or parseaddr(letter.sender)[1]
        self.list_id = list_id
        self.verp = verp and bool(return_path)
        subject = (TEST_PREFIX if test else "") + letter.subject
        self.fingerprint = letter.fingerprint  # what the send journal and an approval name this build by
        fingerprint = self.fingerprint.partition(":")[0]
        headers = b"".join([
            header_line("From", letter.sender),
            header_line("Subject", subject),
            header_line("List-Id", f"{letter.title} <{list_id}>"),
            b"MIME-Version: 1.0\r\n",
        ])
        self.template = MessageTemplate(headers, [
            ("plain", cut_text(letter.text, letter.unsubscribe_url, greeting_of(letter.html))),
            ("html", cut_html(letter.html, letter.unsubscribe_url)),
        ], boundary=f"==digest-{fingerprint[20:44]}==")

    def copy(self, recipient: Recipient, now: datetime, *, nonce: str = "", wire: bool = False) -> PersonalCopy:
        """The recipient's message; `now` is its Date. wire=True gives the dot-stuffed form for SMTP DATA."""
        url = unsubscribe_link(self.letter.unsubscribe_url, self.secret, recipient.email, self.list_id,
                               self.letter.date)
        message_id = self.message_id(recipient.email, nonce)
        mailto = self.mailto and mailto_with_token(self.mailto, signing.unsubscribe_token(
            self.secret, recipient.email, self.list_id))
        headers = b"".join([
            raw_header_line("Date", format_datetime(now)),
            raw_header_line("Message-ID", message_id),
            _to_line(recipient),
            list_unsubscribe(url, mailto or None),
        ])
        name = recipient.name
        values = {
            "url_text": url, "url_html": html.escape(url),
            "name_text": f" {name}" if name else "", "name_html": f" {html.escape(name)}" if name else "",
        }
        return PersonalCopy(self.template.render(headers, values, wire=wire), message_id)

    def sender_for(self, email: str) -> str:
        """The envelope sender (MAIL FROM) of this recipient's copy: where its bounce goes."""
        if self.verp:
            return verp_sender(self.envelope_sender, self.secret, self.list_id, email)
        return self.envelope_sender

    def message_id(self, email: str, nonce: str = "") -> str:
        """The same for a recipient on every run of one issue (so a resent copy can be recognised as the
        same message), different across recipients; a test send adds a nonce so each test is new."""
        mac = signing.message_id_mac(self.secret, str(self.letter.date), email, nonce)
        return f"<{self.letter.date.isoformat()}.{mac}@{self.domain}>"


def _to_line(recipient: Recipient) -> bytes:
    """To: with the name, RFC 2047-encoded when not ASCII; kept on one line (the name is at most 80 characters)."""
    return b"To: " + formataddr((recipient.name, recipient.email), "utf-8").encode("ascii") + b"\r\n"


def cut_html(page: str, unsubscribe_url: str) -> list[Piece]:
    """The HTML cut around every link to the unsubscribe page and the greeting's name mark."""
    link = f'href="{html.escape(unsubscribe_url)}"'
    if link not in page:
        raise DigestError(_("{HTML} has no link to the unsubscribe page ({unsubscribe_url}); the template must "
                            "link {{{{ letter.unsubscribe_url }}}}: bulk mail without one is refused by Gmail").format(
                              HTML=HTML, unsubscribe_url=unsubscribe_url))
    pieces: list[Piece] = []
    for number, chunk in enumerate(page.split(link)):
        if number:
            pieces += ['href="', Slot("url_html"), '"']
        named = chunk.split(NAME_MARK)
        for index, part in enumerate(named):
            if index:
                pieces += ['<span class="digest-name">', Slot("name_html"), "</span>"]
            pieces.append(part)
    return pieces


def greeting_of(page: str) -> tuple[str, str] | None:
    """The words around the name mark in the HTML ('Bonjour', ','), to find the same greeting in the text."""
    match = re.search(r">([^<>]*)" + re.escape(NAME_MARK) + r"([^<>]*)<", page)
    if not match:
        return None
    return html.unescape(match.group(1)).strip(), html.unescape(match.group(2)).strip()


def cut_text(text: str, unsubscribe_url: str, greeting: tuple[str, str] | None) -> list[Piece]:
    """The text cut around the unsubscribe URL and, on the greeting line, where the name goes."""
    pieces: list[Piece] = []
    url = re.compile(re.escape(unsubscribe_url) + r"(?![\w/?#&=%.~+-])")
    greeting_line = greeting and re.compile(rf"(?m)^({re.escape(greeting[0])})({re.escape(greeting[1])})$")
    position = 0
    marks = [(m.start(), m.end(), "url_text", "") for m in url.finditer(text)]
    if greeting_line and (found := greeting_line.search(text)):
        marks.append((found.end(1), found.end(1), "name_text", ""))
    for start, end, slot, _kind in sorted(marks):
        pieces += [text[position:start], Slot(slot)]
        position = end
    pieces.append(text[position:])
    return [p for p in pieces if p != ""]


def recipients_of(addresses: Sequence[str]) -> list[Recipient]:
    """Recipients for a test send from `--to` addresses; ValueError naming a bad one."""
    from digest.audience.recipients import check_address

    found = []
    for address in addresses:
        try:
            found.append(Recipient(check_address(address)))
        except ValueError as exc:
            raise DigestError(_("--to {address}: {exc}").format(address=address, exc=exc)) from None
    return found
