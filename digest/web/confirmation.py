"""What the public forms of `digest serve` share: double opt-in by a mailed link, and the rules of a public POST.

A `ConfirmedForm` answers its path:

- GET: the form; POST: the form posted (each form's own `post`);
- GET ?c=TOKEN (the mail's link, which mail scanners open): a page with one button; nothing changes;
- POST ?c=TOKEN (that button): what the token is for is confirmed, once.

The store's work runs in one thread of its own with one connection: SQLite takes one writer at a time anyway,
and a burst of posts waiting in one queue is answered faster than by threads fighting for a lock (and for the
interpreter). The tokens are the store's pending confirmations (digest.store.pendings).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlparse

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from digest.audience.recipients import check_address
from digest.i18n import N_, _
from digest.store import Store
from digest.web.layer import Button, page

LOG = logging.getLogger("digest.serve")
ALLOWED = ("GET", "HEAD", "POST")
TOKEN_PARAMETER = "c"
TRAP = "site_web"  # the trap field: people never see it, form-filling robots fill it
MAX_ADDRESS = 254  # RFC 5321's longest path
T = TypeVar("T")


@dataclass(frozen=True)
class Said:
    """A page's heading and lines (and the confirmation button's words, on the page a link opens)."""

    heading: str
    lines: list[str]
    button: str = ""


class ConfirmedForm(ABC):
    """A public form whose posts are confirmed by a mailed link."""

    def __init__(self, store: Path, title: str, origins: frozenset[str]) -> None:
        self.store_path = store
        self.title = title
        self.origins = origins
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._store: Store | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.method not in ALLOWED:
            raise HTTPException(405, headers={"Allow": ", ".join(ALLOWED)})
        given = request.query_params.get(TOKEN_PARAMETER)
        if request.method == "POST":
            response = await (self.confirm(request, given) if given is not None else self.posted(request))
        else:
            response = await (self.confirm_page(request, given) if given is not None else self.form())
        await response(scope, receive, send)

    async def with_store(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`work(store, *args, **kwargs)` in the store's thread, on its one connection, in this request's context
        (its language)."""
        def run() -> T:
            if self._store is None:
                self._store = Store(self.store_path)
            return work(self._store, *args, **kwargs)
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(self._thread, context.run, run)

    # --- what each form says and does --------------------------------------------------------------------------

    @abstractmethod
    async def form(self) -> Response:
        """The form page."""

    @abstractmethod
    async def post(self, request: Request) -> Response:
        """A form post from an allowed origin."""

    @abstractmethod
    def pending(self, store: Store, given: str) -> Said | None:
        """What the page a link opens says, None when the token confirms nothing. Changes nothing."""

    @abstractmethod
    def confirmed(self, store: Store, given: str, client: str) -> Said | None:
        """Confirm what the token is for; what the page says then, None when the token confirms nothing."""

    @abstractmethod
    def spent(self) -> Said:
        """What a used, expired or forged link's page says."""

    @abstractmethod
    def refused(self) -> list[str]:
        """The lines of the page a post from a site not allowed gets."""

    # --- the flow ----------------------------------------------------------------------------------------------

    async def posted(self, request: Request) -> Response:
        """A POST of the form: from an allowed origin only."""
        refused = self.foreign(request)
        return refused if refused is not None else await self.post(request)

    async def confirm_page(self, request: Request, given: str) -> Response:
        """The mail's link: a page with the one button. A GET (a mail scanner's too) changes nothing."""
        said = await self.with_store(self.pending, given)
        if said is None:
            return self.say(200, self.spent())
        return self.button_page(request, said, "confirm", TOKEN_PARAMETER, given)

    def button_page(self, request: Request, said: Said, action: str, parameter: str, given: str) -> Response:
        """A page with one button that posts `action` back to this path with the link's token."""
        return self.say(200, said, button=Button(action, said.button),
                        action=f"{request.url.path}?{parameter}={quote(given, safe='.-_')}")

    async def confirm(self, request: Request, given: str) -> Response:
        """The button: confirm what the token is for."""
        refused = self.foreign(request)
        if refused is not None:
            return refused
        client = request.client.host if request.client else ""
        said = await self.with_store(self.confirmed, given, client)
        return self.say(200, said if said is not None else self.spent())

    def foreign(self, request: Request) -> Response | None:
        """A 403 page for a POST from a page of a site not allowed; None when the origin is allowed or absent."""
        if origin_allowed(request, self.origins):
            return None
        LOG.warning(N_("%s posted from another site: %s"), request.url.path, request.headers.get("origin", "")[:100])
        return shell_page(403, _("Request refused"), [_("This form cannot be sent from this page."),
                                                      *self.refused()], self.title)

    def later(self) -> Response:
        """The page of a post refused because the forms sent their hour's ceiling of confirmation mails: the
        same for every address, and nothing was sent."""
        return page(503, _("Try again later"), [
            _("The form receives too many requests at the moment: nothing was sent. Try again in an hour.")],
            self.title, headers={"referrer-policy": "same-origin", "retry-after": "3600"})

    def say(self, status: int, said: Said, **options: Any) -> Response:
        """A page of the form's shell."""
        return shell_page(status, said.heading, said.lines, self.title, **options)


def origin_allowed(request: Request, origins: frozenset[str]) -> bool:
    """Whether a public form's POST may be taken: no Origin (a program, which could write any), one of `origins`,
    or the page's own site (the Origin naming the Host the request came to: a same-origin post)."""
    origin = request.headers.get("origin")
    if origin is None or origin in origins:
        return True
    parsed = urlparse(origin)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc) and parsed.netloc == request.headers.get("host")


def shell_page(status: int, heading: str, lines: list[str], title: str, **options: Any) -> Response:
    """The shell's page, sending its Origin on its own forms' posts: with the shell's no-referrer policy a
    browser writes `Origin: null`, which no check can tell from a sandboxed page of another site. Referers
    still leave for no other site."""
    return page(status, heading, lines, title, headers={"referrer-policy": "same-origin"}, **options)


def address(raw: str) -> str | None:
    """An address typed into a form, normalised; None when it is not ASCII, too long or not an address."""
    if not raw or not raw.isascii() or len(raw) > MAX_ADDRESS:
        return None
    try:
        return check_address(raw)
    except ValueError:
        return None
