"""The one courier of `digest serve`: sends what waits in the store's mail queue (digest.store.queue).

Each form says which kinds of mail it makes (`handle`) and what it keeps clean (`purge`); the courier, one
asyncio task per server process, wakes when a post of its process queued a mail and every POLL_SECONDS (another
worker's leftovers, retries), claims one mail at a time (so that with --workers N each goes once), asks the
mail's maker for the message, and sends it through [smtp] on one connection for the round.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import Any

from digest.audience.subscribers import mask
from digest.config import SmtpConfig
from digest.i18n import N_
from digest.store import Store
from digest.store.queue import MailKind, MailQueue, Queued

LOG = logging.getLogger("digest.serve")
POLL_SECONDS = 5.0  # the courier looks at the queue this often (another worker's leftovers, retries)
SETTLE_SECONDS = 0.3  # after a wake-up, the courier waits this long before sending
PURGE_SECONDS = 3600.0  # and purges what waited too long this often


@dataclass(frozen=True)
class Outgoing:
    """A message made for a queued mail, and the one address it goes to."""

    to: str
    message: EmailMessage


Compose = Callable[[Store, Queued], Outgoing | None]  # None: nothing left to say (the row is gone)
Purge = Callable[[Store], None]


@dataclass(frozen=True)
class Post:
    """Where the server's own mails go out: the [smtp] server, its password, the envelope sender."""

    smtp: SmtpConfig
    password: str | None
    envelope: str


class Courier:
    """Sends the queued mails of this server process, one at a time, through [smtp]."""

    def __init__(self, post: Post, store: Path) -> None:
        self.post = post
        self.store = store
        self.makers: dict[MailKind, Compose] = {}
        self.purges: list[Purge] = []
        self._wake: asyncio.Event | None = None
        self._purged = 0.0

    def handle(self, kinds: tuple[MailKind, ...], compose: Compose) -> None:
        """Let `compose` make the mails of these kinds."""
        self.makers.update(dict.fromkeys(kinds, compose))

    def purge(self, purge: Purge) -> None:
        """Run `purge` at start, then every PURGE_SECONDS."""
        self.purges.append(purge)

    def wake(self) -> None:
        """A mail was queued by this process: send it now."""
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        """Until cancelled: send what is due, then wait for a wake-up or POLL_SECONDS."""
        self._wake = asyncio.Event()
        while True:
            self._wake.clear()
            try:
                await asyncio.to_thread(self.drain)
            except Exception as exc:  # a broken store or a bug: say it, keep serving the pages
                LOG.error(N_("the mail queue failed: %s: %s"), type(exc).__name__, exc)
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
                # Woken by a post: let the posts of a burst be answered first (building a mail takes the
                # interpreter a millisecond or two that their answers would wait for), then send them all.
                await asyncio.sleep(SETTLE_SECONDS)

    def drain(self) -> int:
        """Send every due mail (one SMTP connection for them all); purge now and then; how many were sent."""
        from digest.delivery.smtp import Connection

        count = 0
        connection: Connection | None = None
        with Store(self.store) as store:
            if time.monotonic() - self._purged > PURGE_SECONDS or not self._purged:
                self._purged = time.monotonic()
                for purge in self.purges:
                    purge(store)
            queue = MailQueue(store)
            try:
                while (mail := queue.claim()) is not None:
                    outgoing = self._compose(store, queue, mail)
                    if outgoing is None:
                        continue
                    connection = connection or Connection(self.post.smtp, self.post.password,
                                                          backoff=(0.0, 1.0, 2.0))
                    count += self._send(queue, connection, mail, outgoing)
            finally:
                if connection is not None:
                    connection.close()
        return count

    def _compose(self, store: Store, queue: MailQueue, mail: Queued) -> Outgoing | None:
        """The message for a claimed mail; None when there is none to send (put back, or dropped)."""
        maker = self.makers.get(mail.kind)
        if maker is None:  # a form no longer served made it: kept a while, in case it comes back
            queue.retry(mail, permanent=False)
            return None
        outgoing = maker(store, mail)
        if outgoing is None:
            queue.done(mail)
        return outgoing

    def _send(self, queue: MailQueue, connection: Any, mail: Queued, outgoing: Outgoing) -> int:
        from digest.delivery.smtp import LOST
        from digest.errors import SendError

        wire = outgoing.message.as_bytes(policy=SMTP_POLICY)
        try:
            connection.client().sendmail(self.post.envelope, [outgoing.to], wire)
        except smtplib.SMTPRecipientsRefused as exc:
            code = next(iter(exc.recipients.values()))[0]
            return self._failed(queue, mail, outgoing, code >= 500, f"{code}")
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            return self._failed(queue, mail, outgoing, exc.smtp_code >= 500, f"{exc.smtp_code}")
        except (SendError, *LOST, smtplib.SMTPException) as exc:
            connection.drop()
            return self._failed(queue, mail, outgoing, False, type(exc).__name__)
        queue.done(mail)
        LOG.info(N_("mail (%s) sent to %s"), mail.kind.value, mask(outgoing.to))
        return 1

    def _failed(self, queue: MailQueue, mail: Queued, outgoing: Outgoing, permanent: bool, why: str) -> int:
        kept = queue.retry(mail, permanent)
        LOG.warning(N_("mail (%s) to %s failed (%s): %s"), mail.kind.value, mask(outgoing.to), why,
                    "tried again later" if kept else "dropped")
        return 0


def lifespan(*runs: Callable[[], Coroutine[Any, Any, None]]) -> Any:
    """Starlette's lifespan: each of `runs` (the courier's, the clock's) runs as long as the server process."""
    @asynccontextmanager
    async def running(_app: object) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(run()) for run in runs]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with suppress(asyncio.CancelledError):
                    await task
    return running
