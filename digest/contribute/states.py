"""Where a contribution stands, as a type (light: the command line's options list them)."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """Where a contribution stands."""

    UNCONFIRMED = "unconfirmed"
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"  # by its contact, before the team accepted it


STATUSES = tuple(State)
