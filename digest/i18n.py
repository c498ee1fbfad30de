"""The interface language: every sentence a person reads (CLI, desk, pages, reports) goes through `_`.

Messages are written in English in the code and translated by gettext catalogues kept in `digest/locale/`
(`.po` in the repository, `.mo` compiled into the package). The language is chosen once per process with
`use()`; until then French, the team's language. A catalogue is read only when a message is first translated, so
commands that print nothing pay nothing.
"""

from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path

DOMAIN = "digest"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("fr", "en")
DEFAULT = "fr"

_chosen = [DEFAULT]  # a list, not a global statement: one mutable cell


def use(language: str) -> None:
    """Speak `language` (one of LANGUAGES) from now on in this process."""
    _chosen[0] = language if language in LANGUAGES else DEFAULT


def current() -> str:
    """The language messages are translated into."""
    return _chosen[0]


@cache
def _catalogue(language: str) -> gettext.NullTranslations:
    # fallback: a missing catalogue shows the English source rather than failing the command
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True)


def _(message: str) -> str:
    """`message` in the interface language."""
    return _catalogue(_chosen[0]).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The singular or plural form for `count`, in the interface language."""
    return _catalogue(_chosen[0]).ngettext(singular, plural, count)


def N_(message: str) -> str:
    """Mark `message` for extraction without translating it now (a constant translated where it is shown)."""
    return message
