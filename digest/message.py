"""The ready-to-send .eml of a letter: multipart/alternative, text first, with one-click unsubscribe. Pure."""

from __future__ import annotations

import hashlib
from datetime import datetime, time
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from zoneinfo import ZoneInfo

from digest.model import Letter, Rendered

SEND_HOUR = time(8, 0)  # the Date of a built (not yet sent) letter: 8 a.m. on its date, so builds repeat


def build_message(letter: Letter, rendered: Rendered, unsubscribe_mailto: str | None = None) -> bytes:
    """The .eml bytes: same inputs, same bytes (Date, Message-ID and boundary derive from the content)."""
    fingerprint = hashlib.sha256((rendered.html + rendered.text).encode("utf-8")).hexdigest()
    message = EmailMessage(policy=SMTP)
    message["From"] = letter.sender
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(datetime.combine(letter.date, SEND_HOUR, ZoneInfo(letter.timezone)))
    message["Message-ID"] = f"<{letter.date.isoformat()}.{fingerprint[:20]}@{_domain(letter.sender)}>"
    message["MIME-Version"] = "1.0"
    message.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    message.set_boundary(f"==digest-{fingerprint[20:44]}==")
    return _with_unsubscribe(message.as_bytes(), letter.unsubscribe_url, unsubscribe_mailto)


def _with_unsubscribe(raw: bytes, url: str, mailto: str | None) -> bytes:
    """Prepend List-Unsubscribe (RFC 2369) and List-Unsubscribe-Post (RFC 8058), unfolded.

    The email package folds a long header into encoded-words, which Gmail ignores for this header;
    a header line may run to 998 characters, so it is written as is.
    """
    targets = f"<{url}>" + (f", <{mailto}>" if mailto else "")
    headers = f"List-Unsubscribe: {targets}\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    return headers.encode("ascii") + raw


def _domain(sender: str) -> str:
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"
