"""The links a copy of the letter carries to its reader's own unsubscribe, and the addresses its returns come to."""

from __future__ import annotations

from datetime import date

from digest.mail import signing

TOKEN_PARAMETER = "t"
LETTER_PARAMETER = "l"
MAILTO_WORD = "unsubscribe-"  # the mailto's subject: this word and the recipient's token


def unsubscribe_link(base: str, secret: bytes, email: str, list_id: str | None = None,
                     letter: date | None = None) -> str:
    """The recipient's own unsubscribe URL: the configured page with `t=<token>` added (and `l=<date>`, the
    letter, so that `digest serve` counts unsubscribes per letter)."""
    joiner = "&" if "?" in base else "?"
    issue = f"{LETTER_PARAMETER}={letter.isoformat()}&" if letter else ""
    return f"{base}{joiner}{issue}{TOKEN_PARAMETER}={signing.unsubscribe_token(secret, email, list_id)}"


def mailto_with_token(mailto: str, token: str) -> str:
    """The unsubscribe mailto of one copy: its subject carries the recipient's token, so that the mail it
    makes proves whose copy it answers (`digest bounces` trusts no From)."""
    base, _sep, query = mailto.partition("?")
    params = [p for p in query.split("&") if p and not p.lower().startswith("subject=")]
    return f"{base}?" + "&".join([*params, f"subject={MAILTO_WORD}{token}"])


def verp_sender(return_path: str, secret: bytes, list_id: str, email: str) -> str:
    """return_path with the recipient's id after a '+': local+<id>@domain."""
    local, _sep, domain = return_path.rpartition("@")
    return f"{local}+{signing.verp_id(secret, list_id, email)}@{domain}"
