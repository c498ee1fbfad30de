"""Where an address stands and how it got there, as types (light: the command line's options list them)."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Where an address stands."""

    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"


STATUSES = tuple(Status)


class Means(StrEnum):
    """How a change came: recorded with it, so that nothing reads it back from the words of its reason."""

    ONE_CLICK = "one-click"  # the List-Unsubscribe-Post of a mail program (RFC 8058)
    PAGE = "page"  # the unsubscribe page's button
    MAIL = "mail"  # an unsubscribe mail proved by its token
    BOUNCE = "bounce"
    COMPLAINT = "complaint"
    IMPORT = "import"
    ADD = "subscribers add"
    REMOVE = "subscribers remove"
    FORM = "form"  # the subscribe form, confirmed
    UNLISTED = "unlisted"  # the unsubscribe page, for an address the store did not have (a letter sent to a CSV)
