"""Sending 10 000 personalised copies of the default letter to an SMTP sink on 127.0.0.1.

Targets: building the 10 000 copies alone at 5 000 per second or more; the whole send (SMTP over one connection,
the SQLite journal with its durable "before" row per message) at 500 per second or more.

The sink is aiosmtpd in its own process (the machine has two cores: one sends, one receives). Its stock DATA
loop awaits once per 76-column line, about 4 ms for a 70 KB letter, which would measure aiosmtpd rather than
digest; so the sink's DATA reads the message in large chunks. Its other commands are aiosmtpd's own. The stock
sink's figure is printed too, for information, on 1 000 messages.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime
from multiprocessing.connection import Connection as Pipe
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest import config  # noqa: E402
from digest.audience.recipients import Recipient  # noqa: E402
from digest.cli import main  # noqa: E402
from digest.delivery import smtp  # noqa: E402

COUNT = 10_000
BUILD_TARGET = 5_000.0
SEND_TARGET = 500.0
DAY = date(2025, 11, 20)
END = b"\r\n.\r\n"


class Count:
    """The sink's handler: how many messages each recipient got."""

    def __init__(self) -> None:
        self.got: Counter[str] = Counter()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        for rcpt in envelope.rcpt_tos:
            self.got[rcpt] += 1
        return "250 2.0.0 queued"


class ChunkedData(SMTP):
    """aiosmtpd's SMTP with a DATA that reads 128 KB at a time instead of one await per line."""

    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed():
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        data = bytearray()
        while not data.endswith(END):
            chunk = await self._reader.read(1 << 17)
            if not chunk:
                return
            data += chunk
        self.envelope.original_content = bytes(data[: -len(END) + 2]).replace(b"\r\n..", b"\r\n.")
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push(status)


class ChunkedController(Controller):
    def factory(self) -> SMTP:
        return ChunkedData(self.handler, **self.SMTP_kwargs)


def sink(port: int, chunked: bool, pipe: Pipe) -> None:
    """Run the sink until told to stop; send back (messages, distinct recipients, most copies to one)."""
    handler = Count()
    kind = ChunkedController if chunked else Controller
    controller = kind(handler, hostname="127.0.0.1", port=port, data_size_limit=None)
    controller.start()
    pipe.send("ready")
    pipe.recv()
    controller.stop()
    got = handler.got
    pipe.send((sum(got.values()), len(got), max(got.values(), default=0)))


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def build(folder: Path, port: int) -> Path:
    """The default letter built from the samples, with an [smtp] table for the sink; the config's path."""
    text = (ROOT / "sources.toml").read_text(encoding="utf-8").replace('url = "samples/', f'url = "{ROOT}/samples/')
    path = folder / "sources.toml"
    path.write_text(text + f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["build", "-c", str(path), "--date", DAY.isoformat()])
    if result.exit_code != 0:
        raise SystemExit(f"build failed:\n{result.output}")
    return path


def people(count: int, prefix: str) -> list[Recipient]:
    names = ["Anne", "Zoé", "", "Jean-Paul Lefèvre", "Mairie de Saint-Denis"]
    return [Recipient(f"{prefix}{i:05d}@example.org", names[i % len(names)]) for i in range(count)]


def measure_build(job: smtp.Job, recipients: list[Recipient]) -> float:
    now = datetime.now(UTC)
    began = time.perf_counter()
    size = 0
    for recipient in recipients:
        size += len(job.personalizer.copy(recipient, now, wire=True).raw)
    seconds = time.perf_counter() - began
    rate = len(recipients) / seconds
    print(f"build copies: {len(recipients)} in {seconds:.2f} s = {rate:,.0f} messages/s "
          f"({size / len(recipients) / 1024:.1f} KB each; target {BUILD_TARGET:,.0f}/s)")
    return rate


def measure_send(cfg_path: Path, port: int, count: int, chunked: bool, prefix: str) -> tuple[float, bool]:
    """Send `count` copies through a fresh sink; (messages per second, every recipient exactly once)."""
    return send_through_sink(cfg_path, port, people(count, prefix), chunked)


def send_through_sink(cfg_path: Path, port: int, recipients: list[Recipient], chunked: bool = True
                      ) -> tuple[float, bool]:
    """The list send of the built letter to `recipients` through a fresh sink in its own process; (messages per
    second, every recipient exactly once)."""
    count = len(recipients)
    here, there = multiprocessing.Pipe()
    process = multiprocessing.Process(target=sink, args=(port, chunked, there), daemon=True)
    process.start()
    assert here.recv() == "ready"
    cfg = config.load(cfg_path)
    job = smtp.load_job(cfg, DAY, cfg.root / "outbox")
    began = time.perf_counter()
    report = smtp.send_to_list(job, recipients, smtp.connection_for(cfg))
    seconds = time.perf_counter() - began
    here.send("stop")
    messages, distinct, most = here.recv()
    process.join(10)
    once = report.sent == count and messages == count and distinct == count and most == 1
    return count / seconds, once


def main_() -> int:
    """Print the figures; 1 when a target is missed."""
    os.environ.setdefault("DIGEST_SECRET", "benchmark-secret-0123456789abcdef")
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        cfg_path = build(Path(folder), port)
        cfg = config.load(cfg_path)
        job = smtp.load_job(cfg, DAY, cfg.root / "outbox")
        build_rate = measure_build(job, people(COUNT, "copy"))
        send_rate, once = measure_send(cfg_path, port, COUNT, chunked=True, prefix="user")
        print(f"whole send:   {COUNT} in {COUNT / send_rate:.1f} s = {send_rate:,.0f} messages/s, journal included "
              f"(target {SEND_TARGET:,.0f}/s); each recipient exactly once: {'yes' if once else 'NO'}")
        stock_port = free_port()
        cfg_path.write_text(cfg_path.read_text().replace(f"port = {port}", f"port = {stock_port}"))
        stock_rate, stock_once = measure_send(cfg_path, stock_port, 1_000, chunked=False, prefix="stock")
        print(f"for information, stock aiosmtpd sink: {stock_rate:,.0f} messages/s on 1 000 "
              f"(exactly once: {'yes' if stock_once else 'NO'})")
    ok = build_rate >= BUILD_TARGET and send_rate >= SEND_TARGET and once
    print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main_())
