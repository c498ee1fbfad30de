"""A mail to the team ([send] team, else the letter's From address): a scheduled send began, ended or was held.
Sent at once through [smtp]; a failure is logged, never raised (the send matters more than its notice)."""

from __future__ import annotations

import logging
from email.utils import parseaddr

from digest.config import Config
from digest.i18n import N_

LOG = logging.getLogger("digest.serve")


def team_address(cfg: Config) -> str:
    """Where the team's notices go: [send] team, else the address of [letter] from."""
    return cfg.send.team or parseaddr(cfg.letter.sender)[1]


def team(cfg: Config, subject: str, lines: list[str]) -> bool:
    """Mail `lines` to the team; whether the server took it."""
    from digest.delivery import smtp
    from digest.mail import auto, identity

    if cfg.smtp is None:
        return False
    envelope = identity.envelope_sender(cfg)
    message = auto.message(cfg.letter.sender, team_address(cfg), subject, envelope, "notice")
    message.set_content("\n\n".join(lines) + "\n")
    connection = smtp.connection_for(cfg)
    try:
        connection.client().send_message(message, from_addr=envelope,
                                         to_addrs=[team_address(cfg)])
        return True
    except Exception as exc:
        LOG.warning(N_("notice to the team not sent: %s"), type(exc).__name__)
        return False
    finally:
        connection.close()
