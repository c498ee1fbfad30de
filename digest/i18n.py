"""The interface language: every sentence a person reads (CLI, desk, pages, reports) goes through `_`.

Messages are written in English in the code and translated by gettext catalogues kept in `digest/locale/`
(`.po` in the repository, `.mo` compiled into the package by `make i18n`, `make setup` and the wheel's build).
The language is chosen once per process (`choose`, then `use`); a web request speaking another language (the
pages subscribers reach follow the letter's language) sets it for itself alone with `speaking`. A catalogue is
read only when a message is first translated, so commands that print nothing pay nothing.
"""

from __future__ import annotations

import gettext
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from pathlib import Path

DOMAIN = "digest"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("fr", "en")
DEFAULT = "fr"
PSEUDO = "qps"  # a developer's language (DIGEST_LANG=qps): every translated sentence between ⟦ and ⟧
NAMES = {"fr": "Français", "en": "English"}

_process: list[str | None] = [None]  # the process's language once chosen: a list, not a global statement
_request: ContextVar[str | None] = ContextVar("digest_language", default=None)


def use(language: str) -> None:
    """Speak `language` (one of LANGUAGES, or the pseudo-language) from now on in this process."""
    _process[0] = language if language in (*LANGUAGES, PSEUDO) else DEFAULT


def current() -> str:
    """The language messages are translated into here (this request's, else the process's; in a process that
    never chose, as the environment says)."""
    return _request.get() or _process[0] or _from_environment()


@cache
def _from_environment() -> str:
    return choose(None, os.environ, None, None)


def said_in(language: str, message: str) -> str:
    """`message` in `language` (one digest speaks, else the current one), whatever this request speaks: the
    letter's words for its readers, a log line for the team."""
    return _catalogue(language if language in (*LANGUAGES, PSEUDO) else current()).gettext(message)


def team(message: str) -> str:
    """`message` in the team's language (the process's), whatever the request being answered speaks: a line of
    `digest serve`'s log, read by the team in its terminal or journal."""
    return said_in(_process[0] or _from_environment(), message)


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """Translate into `language` inside the block only (one web request, one e-mail to a subscriber)."""
    chosen = language if language in (*LANGUAGES, PSEUDO) else current()
    token = _request.set(chosen)
    try:
        yield
    finally:
        _request.reset(token)


def _from_locale(environ: Mapping[str, str]) -> str | None:
    """The language of the user's locale, as POSIX reads it (LC_ALL, then LC_MESSAGES, then LANG)."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            code = value.split(".")[0].split("_")[0].split("@")[0].lower()
            return code if code in LANGUAGES else None  # "C", "POSIX" or another language: not a choice
    return None


def choose(flag: str | None, environ: Mapping[str, str], interface: str | None, letter: str | None) -> str:
    """The interface language: --lang, DIGEST_LANG, [letter] interface, the locale, the letter's language."""
    for wanted in (flag, environ.get("DIGEST_LANG", "").strip().lower()):  # a wrong --lang: click says so
        if wanted in (*LANGUAGES, PSEUDO):
            return str(wanted)
    for candidate in (interface, _from_locale(environ), (letter or "").split("-")[0].lower() or None):
        if candidate in LANGUAGES:
            return str(candidate)
    return DEFAULT


def choose_for_command(args: Sequence[str], environ: Mapping[str, str] | None = None) -> str:
    """The language for a command line, reading --lang, the environment and sources.toml's [letter] table."""
    environ = os.environ if environ is None else environ
    flag = _option(args, ("--lang",))
    interface = letter = None
    path = Path(_option(args, ("-c", "--config")) or "sources.toml")
    if not (flag or environ.get("DIGEST_LANG")) and path.is_file():
        interface, letter = _peek_letter(path)
    return choose(flag, environ, interface, letter)


def _option(args: Sequence[str], names: tuple[str, ...]) -> str | None:
    """The value of the first of `names` in `args` (as `--name value` or `--name=value`), if any."""
    for index, arg in enumerate(args):
        if arg == "--":
            break
        for name in names:
            if arg == name and index + 1 < len(args):
                return args[index + 1]
            if arg.startswith(name + "="):
                return arg[len(name) + 1:]
    return None


def _peek_letter(path: Path) -> tuple[str | None, str | None]:
    """[letter] interface and language of a configuration file, or None where unreadable (the load says why)."""
    import tomllib

    try:
        letter = tomllib.loads(path.read_text(encoding="utf-8")).get("letter", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None, None
    if not isinstance(letter, dict):
        return None, None
    found = (letter.get("interface"), letter.get("language"))
    return tuple(value if isinstance(value, str) else None for value in found)  # type: ignore[return-value]


class _Pseudo(gettext.NullTranslations):
    """Every sentence marked, to find by eye or by test the ones that escape translation."""

    def gettext(self, message: str) -> str:
        if message.startswith("#"):  # the comments of a file digest writes (an issue file): marked, still comments
            return re.sub(r"(?m)^(# ?)(\S.*)$", "\\1⟦\\2⟧", message)
        return f"⟦{message}⟧"

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return f"⟦{msgid1 if n == 1 else msgid2}⟧"


class _French(gettext.GNUTranslations):
    """The French catalogue with French typography: no-break spaces before : ; ! ? and inside « »."""

    def gettext(self, message: str) -> str:
        return _typeset(super().gettext(message))

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return _typeset(super().ngettext(msgid1, msgid2, n))


@cache
def _typeset(text: str) -> str:
    """French spacing, on a translation before its values are put in (so a value is never changed)."""
    text = re.sub(r" ([;!?])", "\u202f\\1", text)  # a narrow no-break space, as French printers set them
    text = re.sub(r" :", "\u00a0:", text)
    return text.replace("« ", "«\u00a0").replace(" »", "\u00a0»")


@cache
def _catalogue(language: str) -> gettext.NullTranslations:
    if language == PSEUDO:
        return _Pseudo()
    # fallback: a missing catalogue shows the English source rather than failing the command
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True,
                               class_=_French if language == "fr" else None)


def _(message: str) -> str:
    """`message` in the interface language."""
    return _catalogue(current()).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The singular or plural form for `count`, in the interface language."""
    return _catalogue(current()).ngettext(singular, plural, count)


def N_(message: str) -> str:
    """Mark `message` for extraction without translating it now (a constant translated where it is shown)."""
    return message


def Nn_(singular: str, plural: str) -> tuple[str, str]:
    """Mark a singular and plural pair for extraction without translating it now."""
    return singular, plural


def number(value: int) -> str:
    """A count as its reader writes it: « 1 234 » in French (a narrow no-break space), "1,234" in English."""
    written = f"{value:,}"
    return written.replace(",", "\u202f") if current() == "fr" else written


def clock(value: datetime, seconds: bool = False) -> str:
    """A time of day as its reader writes it: « 14 h 30 » (« 14 h 30 min 5 s ») in French, "14:30" elsewhere."""
    from digest.dates import clock as written

    text = written(value, current())
    if not seconds:
        return text
    return f"{text}\u00a0min\u00a0{value.second}\u00a0s" if current() == "fr" else f"{text}:{value.second:02d}"


def moment(value: datetime) -> str:
    """A day and its time: « 5 décembre 2026 à 14 h 30 », "5 December 2026, 14:30"."""
    return _("{day} at {time}").format(day=day(value.date()), time=clock(value))


def decimal(value: float, places: int = 1) -> str:
    """A measure as its reader writes it: « 12,5 » and « 1 234,5 » in French, "12.5" in English."""
    written = f"{value:,.{places}f}"
    if current() != "fr":
        return written
    return written.replace(",", "\u202f").replace(".", ",")


def day(value: date) -> str:
    """A date as a person reads it: "18 décembre 2026", "1er mars 2027", "18 December 2026"."""
    from digest.dates import MONTHS  # the calendar's words, kept once

    language = current() if current() in MONTHS else DEFAULT
    month = MONTHS[language][value.month - 1]
    if language == "fr":
        return f"{'1er' if value.day == 1 else value.day} {month} {value.year}"
    return f"{value.day} {month} {value.year}"
