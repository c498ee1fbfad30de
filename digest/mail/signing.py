"""The one signing service: every proof digest puts in a mail or a link is an HMAC-SHA256 of the secret over a
purpose and its fields, so that a token made for one purpose is worth nothing for another.

| purpose | what it proves | shape |
|---|---|---|
| digest-unsubscribe-v3 | the unsubscribe link and mailto of a copy, its address sealed (AES-SIV), list bound | sealed |
| digest-unsubscribe-v2 | the same, in letters sent by digest 0.2 and before (still accepted) | address.mac |
| digest-unsubscribe-v1 | the same, in letters sent before tokens named their list (still accepted) | address.mac |
| digest-verp-v1 | the recipient of a bounce (the envelope sender's +id) | 20 base32 characters |
| mid | the recipient of a copy, from its Message-ID | 24 hex digits |
| digest-undo-v1 | the unsubscribe page's "subscribe me again" button | time.mac |
| digest-confirm-v1, digest-contribution-v1 | links mailed before the pending tokens (still accepted) | n.mac |

Each purpose's bytes are those digest has always signed: every link in letters already sent keeps working.
A v3 unsubscribe token names nobody: its address is encrypted (AES-SIV, deterministic and authenticated, with a
key derived from the secret), so a proxy's log, a link scanner or a forwarded letter learns no address from it;
no store is needed to read it back (a letter may go to addresses of a CSV file, never in the store).
The pending confirmations of the forms use random tokens instead (digest.store.pendings).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

MAX_TOKEN = 1024  # an address is at most 254 characters: a longer token is not ours, and is not decoded
UNSUBSCRIBE_SEALED = "digest-unsubscribe-v3"
UNSUBSCRIBE = "digest-unsubscribe-v2"
UNSUBSCRIBE_BEFORE_LISTS = "digest-unsubscribe-v1"
VERP = "digest-verp-v1"
MESSAGE_ID = "mid"
UNDO = "digest-undo-v1"
CONFIRM_SIGNUP = "digest-confirm-v1"
CONFIRM_CONTRIBUTION = "digest-contribution-v1"


def mac(secret: bytes, purpose: str, *fields: str, size: int = 16) -> bytes:
    """HMAC-SHA256 of the purpose and its fields (one per line), cut to `size` bytes."""
    signed = "\n".join((purpose, *fields)).encode("utf-8")
    return hmac.new(secret, signed, hashlib.sha256).digest()[:size]


def same(expected: str, given: str) -> bool:
    """Whether a token given is the one expected, in constant time (anything not ASCII is simply not)."""
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8", "replace"))


def b64(data: bytes) -> str:
    """URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signed(secret: bytes, purpose: str, value: str, *fields: str) -> str:
    """`value.mac`: a value (a number, a time) with its signature over the purpose, the fields and the value."""
    return f"{value}.{b64(mac(secret, purpose, *fields, value))}"


def _ascii_lower(email: str) -> str:
    # Tokens have always lowered the address's bytes: ASCII letters only.
    return email.encode("utf-8").lower().decode("utf-8")


def unsubscribe_token(secret: bytes, email: str, list_id: str | None = None) -> str:
    """The unsubscribe token of a copy: its address sealed with AES-SIV under the list (base64url, no dot)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESSIV

    sealed = AESSIV(_seal_key(secret)).encrypt(email.encode("utf-8"), [UNSUBSCRIBE_SEALED.encode(),
                                                                         (list_id or "").encode("utf-8")])
    return b64(sealed)


def legacy_unsubscribe_token(secret: bytes, email: str, list_id: str | None = None) -> str:
    """The unsubscribe token as digest 0.2 and before made it: the address (base64url) and a MAC of it and of
    the list (when given). Still accepted; no longer made."""
    fields = (list_id, _ascii_lower(email)) if list_id else (_ascii_lower(email),)
    purpose = UNSUBSCRIBE if list_id else UNSUBSCRIBE_BEFORE_LISTS
    return f"{b64(email.encode('utf-8'))}.{b64(mac(secret, purpose, *fields))}"


def unsubscribe_address(secret: bytes, token: str, list_id: str | None = None) -> str | None:
    """The address a token was made for, or None if it was not made with `secret`.

    With `list_id`, a token of that list and a token made before tokens named their list are both accepted.
    Anything else (forged, truncated, not ASCII, too long) gives None, never an exception.
    """
    if not token.isascii() or len(token) > MAX_TOKEN:
        return None
    if "." not in token:
        return _unsealed(secret, token, list_id)
    encoded, _sep, signature = token.partition(".")
    try:
        email = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    if not signature:
        return None
    expected = [legacy_unsubscribe_token(secret, email, list_id)] if list_id else []
    expected.append(legacy_unsubscribe_token(secret, email))
    return email if any(same(e, token) for e in expected) else None


def _unsealed(secret: bytes, token: str, list_id: str | None) -> str | None:
    """The address a v3 token seals, when it was sealed with `secret` for `list_id` (or for no list)."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESSIV

    try:
        sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        return None
    if len(sealed) <= 16:
        return None
    siv = AESSIV(_seal_key(secret))
    for lists in dict.fromkeys((list_id or "", "")):
        try:
            email = siv.decrypt(sealed, [UNSUBSCRIBE_SEALED.encode(), lists.encode("utf-8")]).decode("utf-8")
        except (InvalidTag, UnicodeDecodeError):
            continue
        return email
    return None


def _seal_key(secret: bytes) -> bytes:
    """The AES-SIV key (512 bits: two AES-256 keys) derived from the secret for the unsubscribe tokens only."""
    return hmac.new(secret, UNSUBSCRIBE_SEALED.encode(), hashlib.sha512).digest()


def verp_id(secret: bytes, list_id: str, email: str) -> str:
    """A recipient's short opaque id for a VERP envelope sender (20 characters: local parts stop at 64)."""
    return base64.b32encode(mac(secret, VERP, list_id, email.casefold(), size=12)).decode("ascii").lower().rstrip("=")


def message_id_mac(secret: bytes, day: str, email: str, nonce: str = "") -> str:
    """What a copy's Message-ID signs: the letter's date, the recipient and a test send's nonce (24 hex digits)."""
    return mac(secret, MESSAGE_ID, day, email.lower(), nonce, size=12).hex()


def legacy_confirmation(secret: bytes, purpose: str, list_id: str, number: int, nonce: str, key: str) -> str:
    """A confirmation link's token as mailed before the pending tokens (`n.mac`)."""
    return f"{number}.{b64(mac(secret, purpose, list_id, str(number), nonce, key))}"


def legacy_number(given: str) -> int | None:
    """The row a token of the `n.mac` shape names, or None when it is not of that shape."""
    number, dot, signature = given.partition(".")
    if not dot or not number.isdigit() or len(number) > 12 or not 1 <= len(signature) <= 32 or not given.isascii():
        return None
    return int(number)
