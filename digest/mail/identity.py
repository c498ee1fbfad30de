"""Who the mails come from: the secret from the environment, the list's id, the sender's domain."""

from __future__ import annotations

import os
from email.utils import parseaddr

from digest.config import Config
from digest.errors import DigestError
from digest.i18n import _

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


def sender_domain(sender: str) -> str:
    """The domain of a From address ('CUF <lettre@cites-unies-france.org>' → 'cites-unies-france.org')."""
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


def list_id(cfg: Config) -> str:
    """The list's id: [smtp] list_id, else 'lettre.<sender's domain>'."""
    if cfg.smtp and cfg.smtp.list_id:
        return cfg.smtp.list_id
    return f"lettre.{sender_domain(cfg.letter.sender)}"


def envelope_sender(cfg: Config) -> str:
    """MAIL FROM of the server's own mails: [smtp] return_path, else the sender's address."""
    return (cfg.smtp.return_path if cfg.smtp else None) or parseaddr(cfg.letter.sender)[1]
