"""`digest serve` for a benchmark: started from this interpreter on a free port of 127.0.0.1, once it answers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.send_support import SECRET
from tests.smtp_sink import free_port


@contextmanager
def serving(config: Path, path: str, *options: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The server for `config` (its process and base URL) once `path` answers; stopped afterwards."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-m", "digest", "serve", "-c", str(config), "--port", str(port),
                                *options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "DIGEST_SECRET": SECRET})
    try:
        for _ in range(300):
            try:
                httpx.get(base + path)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield process, base
    finally:
        process.terminate()
        process.wait(timeout=20)
