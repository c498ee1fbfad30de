"""`digest check --links`: fetch every link and image of the letter at once, and list the broken ones."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx
import lxml.html

from digest import __version__
from digest.i18n import _
from digest.review.check import Finding

REFUSED = (405, 501)  # HEAD not allowed / not implemented: ask again with GET
USER_AGENT = f"digest/{__version__} (link check; +https://cites-unies-france.org)"


Policy = Callable[[str], bool]  # is this IP address one the link check may connect to?


def is_public(address: str) -> bool:
    """True for an address on the public internet: not loopback, private, link-local (the cloud metadata
    service at 169.254.169.254), shared, reserved or multicast."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class PrivateAddress(Exception):
    """A link's host name leads to an address the check must not reach (a server on the reader's network)."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} is {address}" if host != address else address)
        self.address = address


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the policy allows: the name is resolved here, every address it gives is
    checked, and the connection goes to a checked address, so neither a redirect nor a DNS answer that
    changes between two lookups (DNS rebinding) reaches a private server."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        """Resolve `host`, refuse it if any of its addresses is not allowed, else connect to the first."""
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:  # a name that does not resolve: a finding on that link, as httpx's own backend says
            raise httpcore.ConnectError(_("cannot resolve {host}").format(host=host)) from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:
            if not self.policy(address):
                raise PrivateAddress(host, address)
        if not addresses:
            raise httpcore.ConnectError(_("no address for {host}").format(host=host))
        return await self.inner.connect_tcp(addresses[0], port, timeout, local_address, socket_options)

    async def sleep(self, seconds: float) -> None:
        """As the inner backend."""
        await self.inner.sleep(seconds)


def guarded_transport(policy: Policy, connections: int) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose connections go through GuardedBackend (TLS still checks the host's name)."""
    transport = httpx.AsyncHTTPTransport()
    transport._pool = httpcore.AsyncConnectionPool(  # httpx's public API takes no network backend
        ssl_context=httpx.create_ssl_context(), max_connections=connections,
        max_keepalive_connections=connections, network_backend=GuardedBackend(policy))
    return transport


@dataclass(frozen=True)
class Target:
    """An address of the letter to fetch, and what points at it ('link “Lire”', 'image')."""

    url: str
    label: str


@dataclass(frozen=True)
class LinkResult:
    """What fetching one address gave: the final status, or the error, and how long it took."""

    target: Target
    status: int | None = None
    error: str | None = None
    method: str = "HEAD"
    seconds: float = 0.0
    private: bool = False  # not fetched: it leads to a private or local address

    @property
    def ok(self) -> bool:
        """True when the address answered below 400."""
        return self.error is None and self.status is not None and self.status < 400


def targets(html: str) -> list[Target]:
    """Every http(s) link and image address of the HTML, once each, in the order met."""
    document = lxml.html.document_fromstring(html.encode("utf-8"))
    seen: dict[str, Target] = {}
    for element in document.iter("a", "img"):
        url = (element.get("href") if element.tag == "a" else element.get("src")) or ""
        url = url.strip()
        if not url.lower().startswith(("http://", "https://")) or url in seen:
            continue
        link = element.tag == "a"
        text = " ".join((element.text_content() if link else element.get("alt", "")).split())[:50]
        named = (_("link “{text}”") if link else _("image “{text}”")).format(text=text)
        seen[url] = Target(url, named if text else _("link") if link else _("image"))
    return list(seen.values())


async def fetch_all(items: Iterable[Target], timeout: float = 10.0, concurrency: int = 16,
                    policy: Policy | None = is_public) -> list[LinkResult]:
    """Fetch every target with at most `concurrency` requests in flight; results in the targets' order.

    Only addresses the policy allows are connected to, redirects included (None: any address).
    """
    limit = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    transport = guarded_transport(policy, concurrency) if policy is not None else None
    # Guarded, no proxy from the environment: a proxy would connect to addresses digest never sees.
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=True, max_redirects=10, limits=limits,
                                 headers={"User-Agent": USER_AGENT}, transport=transport,
                                 trust_env=policy is None) as client:

        async def one(target: Target) -> LinkResult:
            async with limit:
                return await fetch(client, target, timeout)

        return list(await asyncio.gather(*(one(t) for t in items)))


async def fetch(client: httpx.AsyncClient, target: Target, timeout: float) -> LinkResult:
    """HEAD the address, then GET it when the server refuses HEAD; the body of a GET is not read."""
    began = time.perf_counter()
    method = "HEAD"
    try:
        response = await client.head(target.url)
        if response.status_code in REFUSED:
            method = "GET"
            async with client.stream("GET", target.url) as streamed:
                response = streamed
        return LinkResult(target, response.status_code, None, method, time.perf_counter() - began)
    except PrivateAddress as exc:
        return LinkResult(target, None, _("not fetched: {exc}, a private or local address").format(exc=exc), method,
                          time.perf_counter() - began, private=True)
    except httpx.TimeoutException:
        error = _("no answer within {timeout:g} s").format(timeout=timeout)
    except httpx.TooManyRedirects:
        error = _("too many redirects (a redirect loop?)")
    except httpx.ConnectError as exc:
        error = _("cannot connect: {reason}").format(reason=_reason(exc))
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {_reason(exc)}"
    except OSError as exc:  # a socket error no layer wrapped: still one link's finding, never a traceback
        error = _("cannot connect: {reason}").format(reason=_reason(exc))
    return LinkResult(target, None, error, method, time.perf_counter() - began)


def _reason(exc: Exception) -> str:
    """The cause in plain words: httpx wraps the socket error that says what happened."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return _("connection refused")
        if isinstance(cause, socket.gaierror):
            return _("unknown host name")
        cause = cause.__cause__ or cause.__context__
    return str(exc) or type(exc).__name__


def check(html: str, timeout: float = 10.0, concurrency: int = 16,
          allow_private: bool = False) -> tuple[list[LinkResult], list[Finding]]:
    """Fetch every link and image of the HTML; the results and a finding (an error) per broken one.

    Links to loopback, private, link-local or metadata addresses are not fetched unless allow_private.
    """
    results = asyncio.run(fetch_all(targets(html), timeout, concurrency, None if allow_private else is_public))
    return results, findings(results)


def findings(results: Iterable[LinkResult]) -> list[Finding]:
    """An error for each address that did not answer, or answered 400 or more."""
    found = []
    for result in results:
        if result.ok:
            continue
        if result.private:
            found.append(Finding("warning", "private-link", _("{error}; check it by hand, or run again with "
                                                              "--allow-private: {url}").format(
                                                                error=result.error,
                                                                url=result.target.url), result.target.label))
            continue
        what = result.error or f"answers {result.status} {_phrase(result.status)} to {result.method}"
        found.append(Finding("error", "broken-link", f"{what}: {result.target.url}", result.target.label))
    return found


def _phrase(status: int | None) -> str:
    return httpx.codes.get_reason_phrase(status) if status else ""
