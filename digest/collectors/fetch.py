"""Reading a source's bytes: a local file, or an http(s) address.

Web requests have a connect and a read timeout, follow redirects up to a limit (a loop is named as such), cap the
body while it streams (after decompression, so a gzip bomb stops at the cap), retry with backoff only after a
timeout or a 5xx, and ask with If-None-Match / If-Modified-Since when a cached copy exists. Every failure is a
`FetchFailure` whose message says the cause in plain words.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import tempfile
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from digest import __version__
from digest.collectors.base import Fetched
from digest.collectors.cache import Cache, Entry, Meta, Pending
from digest.collectors.formats import BY_NAME
from digest.config import FetchConfig, SourceConfig
from digest.errors import SourceError
from digest.i18n import _

if TYPE_CHECKING:
    import httpx

USER_AGENT = f"digest/{__version__} (newsletter builder; +https://cites-unies-france.org/)"
OUTPUT_CHUNK = 64 * 1024  # decompress at most this much at a time: a bomb never sits whole in memory
BACKOFF = 0.5  # seconds before the first retry, doubled for each next one


class FetchFailure(SourceError):
    """A web source could not be fetched; `status` is the HTTP status when there was an answer."""

    def __init__(self, message: str, status: int | None = None, retry: bool = False,
                 wait: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry = retry
        self.wait = wait  # seconds the server asked to wait before trying again (Retry-After)


@dataclass
class Progress:
    """Where a source's fetch stands, to say why it was cut off when the deadline passes."""

    phase: str = "queued"  # queued, waiting, reading, retrying, parsing
    received: int = 0
    last_error: str | None = None
    status: int | None = None


@dataclass
class Download:
    """A web answer: a new body in a pending cache file, or a 304 confirming the cached copy."""

    status: int
    final_url: str
    pending: Pending | None = None


def is_web(source: SourceConfig) -> bool:
    """True when the source is an http(s) address rather than a file."""
    return source.location.startswith(("http://", "https://"))


def megabytes(size: int) -> str:
    """'10 MB', '1.5 MB', '300 KB': a size for a message."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.3g} MB"
    return f"{max(1, round(size / 1024))} KB"


def fetch(source: SourceConfig) -> Fetched:
    """The body of one source, read on its own (no cache kept); raises SourceError with a plain reason."""
    if not is_web(source):
        return read_file(Path(source.location))
    return asyncio.run(_fetch_alone(source, FetchConfig()))


async def _fetch_alone(source: SourceConfig, settings: FetchConfig) -> Fetched:
    with tempfile.TemporaryDirectory(prefix="digest-fetch-") as folder:
        clients = Clients(settings)
        try:
            async with clients.lend(source.location) as client:
                download = await fetch_http(clients, client, source, settings, Cache(Path(folder)), None, Progress(),
                                            time.monotonic() + settings.deadline)
        finally:
            await clients.aclose()
        assert download.pending is not None  # no cached copy was offered, so no 304 is accepted
        try:
            return fetched_from(download.pending.body(), download.final_url, download.pending.meta.content_type,
                                source)
        finally:
            download.pending.discard()


def read_file(path: Path) -> Fetched:
    """A local source file's bytes."""
    try:
        body = path.read_bytes()
    except FileNotFoundError:
        raise SourceError(_("file not found: {path}; check the source's url in sources.toml").format(
            path=path)) from None
    except IsADirectoryError:
        raise SourceError(_("{path} is a folder, not a file").format(path=path)) from None
    except OSError as exc:
        raise SourceError(_("cannot read {path}: {strerror}").format(path=path, strerror=exc.strerror)) from None
    return Fetched(body=body, url=path.as_uri())


def fetched_from(body: bytes, url: str, content_type: str | None, source: SourceConfig) -> Fetched:
    """A web body for a collector, once checked to be the kind of document expected."""
    check_content(body, content_type, source.format)
    return Fetched(body=body, url=url, content_type=content_type)


def check_content(body: bytes, content_type: str | None, fmt: str) -> None:
    """Refuse what is plainly not the document expected: an empty body, an HTML page (an error or login page)."""
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not head:
        raise SourceError(_("empty body: the server answered with nothing"))
    looks_html = head.startswith((b"<!doctype html", b"<html"))
    # Markup served as text/html that is not a feed (a page starting with a comment or a <head>, say).
    said_html = "html" in (content_type or "").lower() and head.startswith(b"<") and not any(
        tag in head for tag in (b"<rss", b"<feed", b"<rdf:rdf", b"<?xml"))
    if looks_html or said_html:
        what = BY_NAME[fmt].what if fmt in BY_NAME else _("the data expected")
        raise SourceError(_("an HTML page, not {what}: the address may have moved or now shows an error page; "
                            "check the url").format(what=what))


class Clients:
    """HTTP clients of one connection each, lent to one source at a time: at most `per_host` to one site, at
    most `concurrency` in all.

    This is the concurrency bound: polite to each site, fast for many sources on many sites. One client per
    connection rather than one shared pool: httpcore scans its whole pool for every request, which grows with the
    square of the connections (a second with 100 of them). Each client keeps its connection alive for the next
    source on the same host.
    """

    def __init__(self, settings: FetchConfig) -> None:
        self.settings = settings
        self.slots = asyncio.Semaphore(settings.concurrency)
        self.hosts: dict[str, asyncio.Semaphore] = {}
        self.free: dict[str, list[httpx.AsyncClient]] = {}
        self.made: list[httpx.AsyncClient] = []
        # One TLS context for every client; its CA bundle (20 to 50 ms to load) loads in a thread at the first
        # https:// request, which waits for it (see ready_for): a build of http:// sources never loads it.
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificates and host names
        self._loading: asyncio.Future[None] | None = None

    @contextlib.asynccontextmanager
    async def lend(self, url: str) -> AsyncIterator[httpx.AsyncClient]:
        """A client for `url`'s site once both its site and the whole have a free slot (the site's first)."""
        from urllib.parse import urlsplit

        host = (urlsplit(url).hostname or "").lower()
        site = self.hosts.setdefault(host, asyncio.Semaphore(self.settings.per_host))
        async with site, self.slots:
            idle = self.free.setdefault(host, [])
            client = idle.pop() if idle else self._make()
            try:
                yield client
            finally:
                idle.append(client)

    async def ready_for(self, url: str) -> None:
        """Wait, before an https request, until the CA bundle is loaded (http requests need not wait)."""
        if not url.startswith("https:"):
            return
        if self._loading is None:
            self._loading = asyncio.ensure_future(asyncio.to_thread(_load_certificates, self._tls))
        await asyncio.shield(self._loading)

    def _make(self) -> httpx.AsyncClient:
        import httpx  # imported here: a build from local files does not pay for it

        client = httpx.AsyncClient(headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
                                   limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                                   follow_redirects=False, verify=self._tls)
        self.made.append(client)
        return client

    async def aclose(self) -> None:
        """Close every client made."""
        for client in self.made:
            await client.aclose()
        if self._loading is not None:
            await self._loading


def _load_certificates(context: ssl.SSLContext) -> None:
    """The CA bundle httpx would use: SSL_CERT_FILE or SSL_CERT_DIR when set, else certifi's."""
    import certifi

    if os.environ.get("SSL_CERT_FILE"):
        context.load_verify_locations(cafile=os.environ["SSL_CERT_FILE"])
    elif os.environ.get("SSL_CERT_DIR"):
        context.load_verify_locations(capath=os.environ["SSL_CERT_DIR"])
    else:
        context.load_verify_locations(cafile=certifi.where())


async def fetch_http(clients: Clients, client: httpx.AsyncClient, source: SourceConfig, settings: FetchConfig,
                     cache: Cache, cached: Entry | None, progress: Progress, deadline_at: float,
                     backoff: float = BACKOFF) -> Download:
    """Fetch one web source, retrying after a timeout or a 5xx; raises FetchFailure saying why it failed."""
    tries = 0
    while True:
        tries += 1
        try:
            return await _fetch_once(clients, client, source, settings, cache, cached, progress)
        except FetchFailure as exc:
            delay = exc.wait if exc.wait is not None else backoff * 2 ** (tries - 1)
            progress.last_error, progress.status = str(exc), exc.status
            if exc.retry and exc.wait is not None and time.monotonic() + delay >= deadline_at:
                raise FetchFailure(_("{exc}; the server asked to try again in {delay:g} s, after the collection's "
                                     "deadline").format(exc=exc, delay=delay), exc.status) from None
            if not exc.retry or tries > settings.retries or time.monotonic() + delay >= deadline_at:
                if tries > 1:
                    raise FetchFailure(_("{exc} (after {tries} tries)").format(
                        exc=exc, tries=tries), exc.status) from None
                raise
            progress.phase = "retrying"
            await asyncio.sleep(delay)


async def _fetch_once(clients: Clients, client: httpx.AsyncClient, source: SourceConfig, settings: FetchConfig,
                      cache: Cache, cached: Entry | None, progress: Progress) -> Download:
    import httpx

    timeout = httpx.Timeout(source.timeout, connect=min(source.timeout, settings.connect_timeout))
    headers = {}
    if cached and cached.meta.etag:
        headers["If-None-Match"] = cached.meta.etag
    if cached and cached.meta.last_modified:
        headers["If-Modified-Since"] = cached.meta.last_modified
    request = client.build_request("GET", source.location, headers=headers, timeout=timeout)
    visited = [source.location]
    progress.phase, progress.received = "waiting", 0
    try:
        for _attempt in range(settings.max_redirects + 1):
            await clients.ready_for(str(request.url))
            response = await client.send(request, stream=True)
            try:
                if response.next_request is None:
                    return await _answer(response, source, settings, cache, cached, progress)
                request = response.next_request
            finally:
                await response.aclose()
            target = str(request.url)
            if target in visited:
                raise FetchFailure(_("redirect loop: ") + " → ".join([*visited[visited.index(target):], target]),
                                   response.status_code)
            visited.append(target)
    except httpx.HTTPError as exc:
        message, retry = describe(exc, source, settings, progress)
        raise FetchFailure(message, retry=retry) from None
    raise FetchFailure(_("more than {max_redirects} redirects (last to {visited})").format(
                           max_redirects=settings.max_redirects, visited=visited[-1]), 301)


async def _answer(response: httpx.Response, source: SourceConfig, settings: FetchConfig, cache: Cache,
                  cached: Entry | None, progress: Progress) -> Download:
    status = response.status_code
    progress.status = status
    if status == 304:
        if cached is None:
            raise FetchFailure(_("HTTP 304 Not Modified, though digest holds no copy to reuse"), status)
        return Download(status, str(response.url))
    if 300 <= status < 400:
        raise FetchFailure(_("HTTP {status} {reason_phrase}, with no Location to follow").format(
                               status=status, reason_phrase=response.reason_phrase), status)
    if status >= 400 or status < 200 or status in (204, 205):
        phrase = response.reason_phrase or ""
        hint = _("; the feed was removed: take it out of sources.toml") if status == 410 else ""
        wait = retry_after(response.headers.get("retry-after")) if status in (429, 503) else None
        raise FetchFailure(f"HTTP {status} {phrase}".rstrip() + hint, status, retry=status >= 500 or status == 429,
                           wait=wait)
    meta = Meta(url=source.location, final_url=str(response.url),
                content_type=response.headers.get("content-type"), etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"))
    return Download(status, str(response.url), await _read_body(response, source, settings, cache, meta, progress))


MAX_RETRY_AFTER = 600.0  # seconds: a longer wait is as good as "not today"


def retry_after(value: str | None) -> float | None:
    """The seconds a Retry-After header asks for (RFC 9110 10.2.3: seconds or an HTTP date), or None."""
    from email.utils import parsedate_to_datetime

    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return min(max(moment.timestamp() - time.time(), 0.0), MAX_RETRY_AFTER)


async def _read_body(response: httpx.Response, source: SourceConfig, settings: FetchConfig, cache: Cache,
                     meta: Meta, progress: Progress) -> Pending:
    """Stream the body into a pending cache file, decompressing in bounded steps and stopping at the cap."""
    cap = settings.max_bytes
    too_big = _("body larger than {limit} (the [fetch] max_bytes limit)").format(limit=megabytes(cap))
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    announced = response.headers.get("content-length", "")
    if encoding == "identity" and announced.isdigit() and int(announced) > cap:
        raise FetchFailure(_("{too_big}: the server announces {announced}").format(
                               too_big=too_big, announced=megabytes(int(announced))), response.status_code)
    decoder = Decoder(encoding, response.status_code)
    pending = cache.start(source.name, meta)
    wire = 0
    try:
        progress.phase = "reading"
        async for raw in response.aiter_raw():
            wire += len(raw)
            progress.received = wire
            for piece in decoder.feed(raw):
                pending.write(piece)
                if pending.size > cap:
                    raise FetchFailure(too_big, response.status_code)
        for piece in decoder.flush():
            pending.write(piece)
        if pending.size > cap:
            raise FetchFailure(too_big, response.status_code)
        if pending.size == 0:
            raise FetchFailure(_("empty body: the server answered with nothing"), response.status_code)
    except BaseException:
        pending.discard()  # never leave a partial file, whatever stopped the read (cancelled at the deadline too)
        raise
    return pending


class Decoder:
    """gzip / deflate decoding with a bounded output per step (httpx's decoder inflates a whole chunk at once)."""

    def __init__(self, encoding: str, status: int) -> None:
        self.status = status
        self.encoding = encoding
        if encoding in ("identity", ""):
            self.inflater = None
        elif encoding in ("gzip", "x-gzip"):
            self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self.inflater = zlib.decompressobj()
            self.raw_deflate_checked = False
        else:
            raise FetchFailure(_("the body is compressed with '{encoding}', which digest did not ask for").format(
                                   encoding=encoding), status)

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded pieces of `data`, each at most OUTPUT_CHUNK bytes."""
        if self.inflater is None:
            yield data
            return
        try:
            if self.encoding == "deflate" and not self.raw_deflate_checked:
                self.raw_deflate_checked = True
                if not _zlib_header(data):  # some servers send raw deflate, without the zlib wrapper
                    self.inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            piece = self.inflater.decompress(data, OUTPUT_CHUNK)
            yield piece
            while self.inflater.unconsumed_tail:
                yield self.inflater.decompress(self.inflater.unconsumed_tail, OUTPUT_CHUNK)
        except zlib.error:
            raise FetchFailure(_("the {encoding} body is corrupt").format(
                encoding=self.encoding), self.status) from None

    def flush(self) -> Iterator[bytes]:
        """Whatever the decompressor still holds."""
        if self.inflater is not None:
            with contextlib.suppress(zlib.error):
                yield self.inflater.flush()


def _zlib_header(data: bytes) -> bool:
    """True when data starts with a zlib header (RFC 1950): method 8, and the two bytes a multiple of 31."""
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


def describe(exc: Exception, source: SourceConfig, settings: FetchConfig, progress: Progress) -> tuple[str, bool]:
    """A plain-words cause for an httpx error, and whether trying again may help."""
    import httpx

    connect = min(source.timeout, settings.connect_timeout)
    if isinstance(exc, httpx.ConnectTimeout):
        return _("no connection within {connect:g} s").format(connect=connect), True
    if isinstance(exc, httpx.TimeoutException):
        return _("no answer within {timeout:g} s").format(timeout=source.timeout), True
    if isinstance(exc, httpx.ConnectError):
        return _connect_cause(exc, source), False
    if isinstance(exc, httpx.RemoteProtocolError):
        if progress.phase == "reading":
            return _("the connection closed before the whole body arrived (truncated)"), True
        return _("the server's answer is not valid HTTP"), False
    if isinstance(exc, httpx.UnsupportedProtocol):
        return _("redirected to an address that is not http(s)"), False
    if isinstance(exc, httpx.NetworkError):
        return _("the connection failed: {reason}").format(reason=exc or type(exc).__name__), True
    return _("cannot fetch: {reason}").format(reason=exc or type(exc).__name__), False


def _connect_cause(exc: Exception, source: SourceConfig) -> str:
    from urllib.parse import urlparse

    causes = list(_causes(exc))
    host = urlparse(source.location).hostname or source.location
    if any(isinstance(c, socket.gaierror) for c in causes):
        return _("DNS lookup failed: no address found for {host}").format(host=host)
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return _("connection refused by {host}: nothing answers at that address and port").format(host=host)
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return _("the site's certificate is not trusted ({reason})").format(
                       reason=cause.verify_message or 'not valid')
        if isinstance(cause, ssl.SSLError):
            return _("the secure connection failed: {reason}").format(reason=cause.reason or cause)
    if "Name or service not known" in str(exc) or "nodename nor servname" in str(exc):
        return _("DNS lookup failed: no address found for {host}").format(host=host)
    return _("cannot connect to {host}: {reason}").format(host=host, reason=exc or type(exc).__name__)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what caused it, and the members of any exception group, depth first."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
        stack.extend(c for c in (current.__cause__, current.__context__) if c is not None)
