"""A real SMTP server for the send tests: aiosmtpd on 127.0.0.1, recording what it accepts, with scripted faults."""

from __future__ import annotations

import asyncio
import email
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port() -> int:
    """A port nothing listens on now (aiosmtpd's Controller needs a number before it starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Received:
    """One accepted message: the envelope recipient and the bytes as they arrived."""

    rcpt: str
    raw: bytes
    mail_from: str = ""  # the envelope sender: where a bounce of this copy goes (VERP)

    @property
    def message(self) -> EmailMessage:
        """The message parsed with the modern email API."""
        parsed = email.message_from_bytes(self.raw, policy=default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Recorder:
    """The handler: records messages; scripted answers and faults for the tests.

    rcpt_replies: address -> answers to give its RCPT, one per attempt ("450 ...", "550 ...", None = accept).
    drop_after: close the connection, once, at the MAIL after this many messages were accepted.
    refuse_after: like drop_after, then refuse every new connection while `refusing` stays True.
    lose_data_of: addresses whose DATA is read and then dropped: the connection closes with no answer.
    delay: seconds to wait in DATA after recording the message (a slow server).
    hold_at: after recording this many messages, withhold DATA's answer (`holding` set) until `release` is set: a
    client killed meanwhile has sent a message it never heard was accepted.
    """

    rcpt_replies: dict[str, list[str | None]] = field(default_factory=dict)
    drop_after: int | None = None
    refuse_after: int | None = None
    lose_data_of: set[str] = field(default_factory=set)
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    refusing: bool = False
    entered_data: threading.Event = field(default_factory=threading.Event)
    hold_at: int | None = None
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def counts(self) -> Counter[str]:
        """How many messages each recipient got."""
        with self.lock:
            return Counter(r.rcpt for r in self.received)

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str,
                          responses: list[str]) -> list[str]:
        self.connections += 1
        if self.refusing:
            assert server.transport is not None
            server.transport.close()
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          options: list[str]) -> str:
        accepted = len(self.received)
        if self.drop_after is not None and accepted >= self.drop_after:
            self.drop_after = None
            assert server.transport is not None
            server.transport.close()
            return "421 4.3.2 closing (test)"
        if self.refuse_after is not None and accepted >= self.refuse_after:
            self.refuse_after = None
            self.refusing = True
            assert server.transport is not None
            server.transport.close()
            return "421 4.3.2 going away (test)"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          options: list[str]) -> str:
        script = self.rcpt_replies.get(address)
        if script:
            reply = script.pop(0)
            if reply is not None:
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        rcpt = envelope.rcpt_tos[0]
        if rcpt in self.lose_data_of:
            self.lose_data_of.discard(rcpt)
            assert server.transport is not None
            server.transport.close()
            return "451 lost (test)"
        with self.lock:
            content = envelope.original_content or b""
            self.received.append(Received(rcpt, content, envelope.mail_from or ""))
        self.entered_data.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.hold_at is not None and len(self.received) >= self.hold_at and not self.release.is_set():
            self.holding.set()
            await asyncio.to_thread(self.release.wait)
        return "250 2.0.0 queued"


class Sink:
    """aiosmtpd running in a thread on 127.0.0.1 with a Recorder; a context manager."""

    def __init__(self, recorder: Recorder | None = None, **smtp: Any) -> None:
        self.recorder = recorder or Recorder()
        self.port = free_port()
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port, **smtp)

    def __enter__(self) -> Sink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
