"""Who the mails come from: the secret from the environment, the list's id (the sender's domain is
digest.message.sender_domain, which the letter's .eml uses too)."""

from __future__ import annotations

import os
from email.utils import parseaddr

from digest.config import Config
from digest.errors import DigestError
from digest.i18n import _
from digest.message import sender_domain

MIN_SECRET = 16  # characters


def secret(cfg: Config) -> bytes:
    """The secret, from the environment variable [smtp] secret_env names (DIGEST_SECRET by default)."""
    name = cfg.smtp.secret_env if cfg.smtp else "DIGEST_SECRET"
    value = os.environ.get(name, "")
    if len(value) < MIN_SECRET:
        raise DigestError(_("the environment variable {name} must hold the secret that signs unsubscribe links (16 "
                            "characters or more); e.g. export {name}=$(python3 -c 'import secrets; "
                            "print(secrets.token_urlsafe(32))') and keep it: the unsubscribe page needs the same "
                            "one").format(name=name))
    return value.encode("utf-8")


def list_id(cfg: Config) -> str:
    """The list's id: [smtp] list_id, else 'lettre.<sender's domain>'."""
    if cfg.smtp and cfg.smtp.list_id:
        return cfg.smtp.list_id
    return f"lettre.{sender_domain(cfg.letter.sender)}"


def envelope_sender(cfg: Config) -> str:
    """MAIL FROM of the server's own mails: [smtp] return_path, else the sender's address."""
    return (cfg.smtp.return_path if cfg.smtp else None) or parseaddr(cfg.letter.sender)[1]
