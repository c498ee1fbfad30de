"""The mails digest writes on its own (confirmations, decisions, the team's notices): their headers, one way."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from digest.message import sender_domain


def message(sender: str, to: str, subject: str, envelope: str, kind: str) -> EmailMessage:
    """An automatic mail: From `sender`, To `to`, its subject, dated now, a Message-ID of the envelope's domain
    (`kind` in its left part) and Auto-Submitted (RFC 3834: no vacation reply to it). The body is the caller's."""
    made = EmailMessage()
    made["From"] = sender
    made["To"] = to
    made["Subject"] = subject
    made["Date"] = format_datetime(datetime.now(UTC))
    made["Message-ID"] = make_msgid(kind, domain=sender_domain(envelope))
    made["Auto-Submitted"] = "auto-generated"
    return made
