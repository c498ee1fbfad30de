"""Reading a source's bytes: a local file, or an http(s) address with timeouts."""

from __future__ import annotations

from pathlib import Path

from digest import __version__
from digest.collectors.base import Fetched
from digest.config import SourceConfig
from digest.errors import SourceError

USER_AGENT = f"digest/{__version__} (newsletter builder; +https://cites-unies-france.org/)"
MAX_BYTES = 10 * 1024 * 1024


def fetch(source: SourceConfig) -> Fetched:
    """The body of a source; raises SourceError with a plain reason when it cannot be read."""
    if source.location.startswith(("http://", "https://")):
        return _fetch_http(source)
    return _read_file(Path(source.location))


def _read_file(path: Path) -> Fetched:
    try:
        body = path.read_bytes()
    except FileNotFoundError:
        raise SourceError(f"file not found: {path}; check the source's url in sources.toml") from None
    except IsADirectoryError:
        raise SourceError(f"{path} is a folder, not a file") from None
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}") from None
    return Fetched(body=body, url=path.as_uri())


def _fetch_http(source: SourceConfig) -> Fetched:
    import httpx  # imported here: an offline build from files does not pay for it

    timeout = httpx.Timeout(source.timeout, connect=min(source.timeout, 5.0))
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True, max_redirects=5,
                          headers={"User-Agent": USER_AGENT}) as client:
            response = client.get(source.location)
    except httpx.TimeoutException:
        raise SourceError(f"no answer from {source.location} within {source.timeout:g} s") from None
    except httpx.TooManyRedirects:
        raise SourceError(f"too many redirects from {source.location}") from None
    except httpx.HTTPError as exc:
        raise SourceError(f"cannot reach {source.location}: {exc}") from None
    if response.status_code >= 400:
        raise SourceError(f"the server answered {response.status_code} {response.reason_phrase} "
                          f"for {source.location}")
    if len(response.content) > MAX_BYTES:
        raise SourceError(f"the body is larger than {MAX_BYTES // (1024 * 1024)} MB")
    return Fetched(body=response.content, url=str(response.url),
                   content_type=response.headers.get("content-type"))
