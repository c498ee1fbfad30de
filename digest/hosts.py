"""Addresses a server listens on and answers to: the one loopback check of digest (the web layer and the SMTP
sender use it), the Host names a local server answers to, and binding with a clear error for a busy port.

Light on purpose (standard library only): `digest send` imports it without loading the web stack.
"""

from __future__ import annotations

import ipaddress
import socket

from digest.errors import DigestError
from digest.i18n import _

LOOPBACK = "127.0.0.1"


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_unspecified(host: str) -> bool:
    """True for 0.0.0.0 and ::, every interface."""
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def host_names(host: str, port: int) -> set[str]:
    """The Host header values a server listening on host:port answers to (never another site's name)."""
    names = {host}
    if is_loopback(host):
        names |= {"localhost", LOOPBACK}
    elif is_unspecified(host):  # every interface: the machine's own name and loopback, never another name
        names |= {"localhost", LOOPBACK, socket.gethostname()}
    shown = {f"[{n}]" if ":" in n else n for n in names}
    return {f"{n}:{port}" for n in shown}


def bind(host: str, port: int) -> socket.socket:
    """The listening socket (port 0: any free port); a clear error when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not left to the default 0: asyncio turns Nagle off (TCP_NODELAY) only on connections
    # whose socket says TCP; with it on, an answer written in two parts waited 40 ms for the browser's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise DigestError(_("cannot listen on {host}:{port}: {reason}; pass another --port "
                              "(0 picks a free one)").format(
                              host=host, port=port, reason=exc.strerror or exc)) from None
    sock.listen(64)
    sock.setblocking(False)
    return sock
