"""The public forms' caps, counted in the store so that they hold across worker processes, under keyed hashes (no
address is kept), per hour, forgotten after a day.

What is counted is what an attacker cannot multiply for free:

- a client is its **network**: an IPv4 address, or the /64 (by default) an IPv6 address is in — one home or one
  server holds a whole /64, and 258 addresses of it are one client;
- an address is its **mailbox**: case folded, its `+tag` removed, its dots removed where the provider ignores them
  (Gmail) — `Victim+1@example.org` and `victim+2@example.org` reach one inbox;
- and the confirmation mails of every form together have a **ceiling** per hour (the association's domain's
  reputation is one).
"""

from __future__ import annotations

import enum
import ipaddress
import sqlite3
from dataclasses import dataclass
from datetime import timedelta

from digest.store import Part, now
from digest.store.queue import since

MAILS_SCOPE = "confirmation mails"  # every form's confirmation mails, for the hourly ceiling
DOTLESS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}  # providers that ignore dots (and alias)


@dataclass(frozen=True)
class Limits:
    """A form's caps, from [subscribe] and the form's own table."""

    per_client_hour: int  # posts one client network may make in an hour
    ipv6_prefix: int = 64
    mails_per_hour: int = 100  # the ceiling of every form's confirmation mails together


class Refusal(enum.Enum):
    """Why a form post does nothing: the answer a person sees is the same for the first two."""

    CLIENT = "client"  # its network is over its hourly cap
    MAILBOX = "mailbox"  # its mailbox was mailed enough today
    CEILING = "ceiling"  # the hourly ceiling of confirmation mails is reached: « réessayez plus tard »


def network(client: str, ipv6_prefix: int = 64) -> str:
    """The network a client's address is counted under: IPv4 the address, IPv6 its /`ipv6_prefix`."""
    try:
        parsed = ipaddress.ip_address(client.strip())
    except ValueError:
        return client.strip().casefold()[:100]  # not an address (a test client, a Unix socket): as given
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    if isinstance(parsed, ipaddress.IPv4Address):
        return str(parsed)
    return str(ipaddress.ip_network(f"{parsed}/{ipv6_prefix}", strict=False))


def mailbox(email: str) -> str:
    """The inbox an address reaches: folded, without its `+tag`, without dots where the provider ignores them."""
    local, _at, domain = email.strip().casefold().rpartition("@")
    local = local.split("+", 1)[0] or local
    domain = DOTLESS.get(domain, domain)
    if domain in DOTLESS.values():
        local = local.replace(".", "")
    return f"{local}@{domain}"


class Caps(Part):
    """Counts per hour under keyed hashes: form posts per client network, mails per mailbox, mails in all."""

    def add(self, db: sqlite3.Connection, scope: str, value: str) -> None:
        """Count one of `value` in `scope` this hour, inside the caller's transaction."""
        db.execute("INSERT INTO client (hash, hour, count) VALUES (?, ?, 1) "
                   "ON CONFLICT (hash, hour) DO UPDATE SET count = count + 1", (self._hash(scope, value), now()[:13]))

    def recent(self, db: sqlite3.Connection, scope: str, value: str, hours: int = 1) -> int:
        """How many of `value` in `scope` were counted in the last `hours` hours (this one included)."""
        start = since(timedelta(hours=hours - 1))[:13]
        found = db.execute("SELECT COALESCE(SUM(count), 0) FROM client WHERE hash=? AND hour >= ?",
                           (self._hash(scope, value), start)).fetchone()[0]
        return int(found)

    def count(self, db: sqlite3.Connection, scope: str, client: str) -> int:
        """Count one post of `client` to the form `scope`; its posts this hour."""
        self.add(db, scope, client)
        return self.recent(db, scope, client)

    def ceiling_reached(self, db: sqlite3.Connection, per_hour: int) -> bool:
        """Whether every form together sent `per_hour` confirmation mails this hour already."""
        return self.recent(db, MAILS_SCOPE, "") >= per_hour

    def mailed(self, db: sqlite3.Connection, scope: str, email: str) -> None:
        """Count a confirmation mail queued for `email`: against its mailbox in `scope`, and against the ceiling."""
        self.add(db, scope, mailbox(email))
        self.add(db, MAILS_SCOPE, "")

    def mailbox_today(self, db: sqlite3.Connection, scope: str, email: str) -> int:
        """How many confirmation mails of `scope` went to `email`'s mailbox in the last 24 hours."""
        return self.recent(db, scope, mailbox(email), hours=24)

    def purge(self, db: sqlite3.Connection) -> None:
        """Forget the counts older than a day."""
        db.execute("DELETE FROM client WHERE hour < ?", (since(timedelta(days=1))[:13],))

    def _hash(self, scope: str, value: str) -> str:
        return self.store.keyed_hash(f"{scope} {value}".strip().casefold())
