"""The ready-to-send .eml of a letter: multipart/alternative, text first, with one-click unsubscribe. Pure."""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from zoneinfo import ZoneInfo

from digest.errors import ConfigError
from digest.i18n import _
from digest.model import Letter, Rendered

MAX_LINE = 998  # characters in a header line (RFC 5322 2.1.1)
# What `digest send` adds to the unsubscribe URL: "&t=" and the token of an address of up to ~120 characters.
TOKEN_ROOM = 200
SEND_HOUR = time(8, 0)  # the Date of a built (not yet sent) letter: 8 a.m. on its date, so builds repeat


def build_message(letter: Letter, rendered: Rendered, unsubscribe_mailto: str | None = None) -> bytes:
    """The .eml bytes: same inputs, same bytes (Date, Message-ID and boundary derive from the content)."""
    fingerprint = hashlib.sha256((rendered.html + rendered.text).encode("utf-8")).hexdigest()
    message = EmailMessage(policy=SMTP)
    message["From"] = letter.sender
    # The list's addresses go in the envelope, not the header (RFC 5322 group syntax); without any To,
    # SpamAssassin adds MISSING_HEADERS (0.9 points). `digest send` writes each recipient's own To.
    message["To"] = "undisclosed-recipients:;"
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(datetime.combine(letter.date, SEND_HOUR, ZoneInfo(letter.timezone)))
    message["Message-ID"] = f"<{letter.date.isoformat()}.{fingerprint[:20]}@{sender_domain(letter.sender)}>"
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
    length = len(f"List-Unsubscribe: {targets}") + TOKEN_ROOM * (2 if mailto else 1)  # the mailto has one too
    if length > MAX_LINE:
        keys = "unsubscribe_url and unsubscribe_mailto" if mailto else "unsubscribe_url"
        raise ConfigError([_("[letter] {keys}: with a subscriber's token the List-Unsubscribe header would be "
                             "{length} characters long, and a header line may have at most {MAX_LINE}: use a "
                             "shorter address").format(keys=keys, length=length, MAX_LINE=MAX_LINE)])
    return list_unsubscribe(url, mailto) + raw


def list_unsubscribe(url: str, mailto: str | None) -> bytes:
    """List-Unsubscribe (RFC 2369) to the page and the mailto, and List-Unsubscribe-Post (RFC 8058), unfolded:
    the letter's .eml and every recipient's copy carry these two lines."""
    targets = f"<{url}>" + (f", <{mailto}>" if mailto else "")
    return raw_header_line("List-Unsubscribe", targets) + raw_header_line("List-Unsubscribe-Post",
                                                                          "List-Unsubscribe=One-Click")


def sender_domain(sender: str) -> str:
    """The domain of a From address ('CUF <lettre@cites-unies-france.org>' → 'cites-unies-france.org')."""
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


@dataclass(frozen=True)
class Slot:
    """A place in a part's text that each recipient's copy fills (an unsubscribe link, a name)."""

    name: str


Piece = str | Slot
CRLF = b"\r\n"
SOFT_BREAK = b"=\r\n"


class MessageTemplate:
    """A multipart/alternative message encoded once; each copy only fills its slots with bytes.

    Every part is quoted-printable (lines of at most 76 characters). A slot sits between two soft line
    breaks, so the text around it is encoded once and a recipient's value is encoded alone: a copy is a
    join of precomputed bytes, never a re-render nor a re-encoding of the letter. The SMTP form of the
    static bytes (dot-stuffed, RFC 5321 4.5.2) is precomputed too, for the same reason.
    """

    def __init__(self, headers: bytes, parts: Sequence[tuple[str, Sequence[Piece]]], boundary: str) -> None:
        chunks: list[bytes | Slot] = [headers + b"Content-Type: multipart/alternative;\r\n boundary=\"" +
                                      boundary.encode("ascii") + b"\"\r\n\r\n"]
        for subtype, pieces in parts:
            chunks.append(f"--{boundary}\r\nContent-Type: text/{subtype}; charset=\"utf-8\"\r\n"
                          "Content-Transfer-Encoding: quoted-printable\r\n\r\n".encode("ascii"))
            chunks.extend(_encode_pieces(pieces))
            chunks.append(CRLF)
        chunks.append(f"--{boundary}--\r\n".encode("ascii"))
        self._plain = _merge(chunks)
        self._wire = [c if isinstance(c, Slot) else _dot_stuff(c) for c in self._plain]
        self.slots = frozenset(c.name for c in self._plain if isinstance(c, Slot))

    def render(self, headers: bytes, values: Mapping[str, str], *, wire: bool = False) -> bytes:
        """The copy: `headers` (CRLF-ended lines) first, then the message with every slot filled.

        wire=True gives the SMTP DATA form: dot-stuffed, ready to be followed by '.' CRLF.
        """
        encoded = {name: qp_piece(values[name]) for name in self.slots}
        if wire:
            encoded = {name: _dot_stuff(value) for name, value in encoded.items()}
        return headers + b"".join(encoded[c.name] if isinstance(c, Slot) else c
                                  for c in (self._wire if wire else self._plain))


def qp_piece(text: str) -> bytes:
    """`text` quoted-printable with CRLF line ends, its last line closed by a soft break (unless it ends one).

    binascii's encoder is C: a few microseconds for a URL, which keeps one copy per recipient cheap.
    """
    if not text:
        return b""
    encoded = binascii.b2a_qp(text.replace("\r\n", "\n").encode("utf-8")).replace(b"\n", CRLF)
    if encoded.endswith(CRLF):
        return encoded
    head, _sep, last = encoded.rpartition(CRLF)
    if len(last) >= 76:  # a soft break must fit in the 76 columns: move the last character(s) down
        cut = 75 if last[73:74] != b"=" and last[74:75] != b"=" else last.rindex(b"=", 0, 75)
        last = last[:cut] + SOFT_BREAK + last[cut:]
    return (head + CRLF if head else b"") + last + SOFT_BREAK


def _encode_pieces(pieces: Sequence[Piece]) -> list[bytes | Slot]:
    return [piece if isinstance(piece, Slot) else qp_piece(piece) for piece in pieces]


def _merge(chunks: list[bytes | Slot]) -> list[bytes | Slot]:
    """Adjacent byte chunks joined, so a copy joins as few pieces as possible."""
    merged: list[bytes | Slot] = []
    for chunk in chunks:
        if merged and isinstance(chunk, bytes) and isinstance(merged[-1], bytes):
            merged[-1] += chunk
        else:
            merged.append(chunk)
    return merged


def _dot_stuff(chunk: bytes) -> bytes:
    """Double a dot that starts a line (every chunk starts at a line's start)."""
    stuffed = chunk.replace(b"\r\n.", b"\r\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


def header_line(name: str, value: str) -> bytes:
    """One header, folded and RFC 2047-encoded as needed (non-ASCII subject, sender name)."""
    folded: str = SMTP.header_factory(name, value).fold(policy=SMTP)
    return folded.encode("ascii")


def raw_header_line(name: str, value: str) -> bytes:
    """One header written as is, unfolded (List-Unsubscribe: Gmail ignores it once folded into encoded-words).

    A header line may run to 998 characters (RFC 5322 2.1.1); the value must be ASCII.
    """
    line = f"{name}: {value}\r\n".encode("ascii")
    if len(line) > 1000:
        raise ValueError(_("{name} is {count} characters long; a header line may have at most 998").format(
                             name=name, count=len(line)))
    return line
