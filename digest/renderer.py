"""Render a Letter: Jinja2 -> MJML (mjml-python) -> HTML with CSS inlined (premailer), and plain text. Pure."""

from __future__ import annotations

import functools
import logging
import os
import re
import secrets
import sys
import textwrap
import threading
import types
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from html import escape
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import jinja2
import mjml
from markupsafe import Markup

from digest import agenda, dates
from digest.errors import TemplateError
from digest.i18n import N_, _, decimal, said_in
from digest.model import Item, Letter, Problem, Rendered
from digest.text import NBSP, french

HTML_TEMPLATE = "letter.mjml.j2"
TEXT_TEMPLATE = "letter.txt.j2"
WARN_BYTES = 90 * 1024  # Gmail clips past ~102 KB, hiding the footer and the unsubscribe link
CLIP_BYTES = 102 * 1024
PREHEADER_LENGTH = 110
DOCTYPE = "<!doctype html>"
INLINE_MARK = "digest:inline"


def render(letter: Letter, templates: tuple[Path, ...]) -> Rendered:
    """The finished HTML e-mail, its text twin and the intermediate MJML of one letter."""
    env = environment(templates, ZoneInfo(letter.timezone), letter.language)
    env.filters.update(agenda.filters(letter))  # ics_url, google_url: they need the letter's base_url and date
    env.finalize = neutralizer(letter)
    subject = letter.subject or default_subject(letter)
    preheader = letter.preheader or default_preheader(letter)
    # The template writes marks where the unsubscribe and web links go; every value it prints has these links
    # neutralised first, so after the marks become the links, each link in the letter is one the template wrote
    # (the send and the export replace exactly those, never a source's link that happens to contain them).
    # A mark is at least as long as its link, so that what the template lays out by length (a link that goes on
    # a line of its own past 78 columns) holds once the link is in.
    unsubscribe_mark, web_mark = (_mark(url) for url in (letter.unsubscribe_url, letter.web_url))
    shown = replace(letter, unsubscribe_url=unsubscribe_mark, web_url=web_mark)
    context = {"letter": shown, "subject": subject, "preheader": preheader, "footer_links": letter.footer_links}
    source = _render_template(env, HTML_TEMPLATE, context)
    text = _render_template(env, TEXT_TEMPLATE, context)
    html = inline_css(mjml_to_html(source))
    links = {unsubscribe_mark: letter.unsubscribe_url, web_mark: letter.web_url}
    return Rendered(html=_unmark(html, links, escape), text=_tidy_text(_unmark(text, links, str)),
                    mjml=_unmark(source, links, escape), subject=subject, preheader=preheader)


def _mark(url: str) -> str:
    """A unique stand-in for `url`, no shorter than it."""
    mark = f"https://digest.invalid/{secrets.token_hex(16)}"
    return mark + "x" * max(0, len(url) - len(mark))


def _unmark(text: str, links: dict[str, str], write: Callable[[str], str]) -> str:
    for mark, url in links.items():
        text = text.replace(mark, write(url))
    return text


# Merge-tag openers of e-mail services: Mailchimp's *|TAG|*, Brevo's {{ contact.X }} and {% … %}.
MERGE_TAG = re.compile(r"\*\||\{[{%]")
ZWSP = "\u200b"
URL_END = r"(?![\w/?#&=%.~+-])"  # where a link stops in text: what the send's cut of the text uses too


def neutralizer(letter: Letter) -> Callable[[object], object]:
    """Jinja's finalize: every printed value loses service syntax and any copy of the letter's own links."""
    links = [url for url in (letter.unsubscribe_url, letter.web_url) if url]
    own = [re.compile(re.escape(url) + URL_END) for url in links]
    # Most values hold neither a service's syntax nor our links: one search says so (a letter prints thousands).
    suspect = re.compile("|".join([MERGE_TAG.pattern, *map(re.escape, links)]))

    def finalize(value: object) -> object:
        if not isinstance(value, str) or not suspect.search(value):
            return value
        text = MERGE_TAG.sub(lambda m: m.group(0)[0] + ZWSP + m.group(0)[1], value)
        for pattern in own:  # "https://…" becomes "https%3A//…": still readable, no longer our link
            text = pattern.sub(lambda m: m.group(0).replace("://", "%3A//", 1), text)
        return Markup(text) if isinstance(value, Markup) else text

    return finalize


def environment(templates: tuple[Path, ...], tz: ZoneInfo, language: str = "fr") -> jinja2.Environment:
    """A Jinja2 environment that escapes everything in MJML and refuses undefined names, its dates and words in
    the letter's `language` (`_` in a template is digest's catalogue in that language: « En savoir plus », "Read
    more"; digest's own messages, a template's error, stay in the team's).

    Templates are looked for in each folder in turn: the user's first, then the package's.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(folder) for folder in templates]),
        autoescape=jinja2.select_autoescape(enabled_extensions=("mjml.j2", "html.j2"), default=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        bytecode_cache=_BYTECODE,
    )
    env.globals["_"] = functools.partial(said_in, language)
    env.filters.update(
        fr=french if language.startswith("fr") else _as_written,  # French typography, for French only
        month_year=lambda day: dates.month_year(day, language),
        news_date=lambda item: said_in(language, N_("On {day}")).format(
            day=dates.day_month_year(item.date.astimezone(tz).date(), language)),
        badge=lambda item: dates.badge(_start_day(item, tz), language),
        when=lambda item: event_when(item, tz, language),
        wrap=wrap,
    )
    return env


def _as_written(text: str) -> str:
    return text




class TemplateCache(jinja2.BytecodeCache):
    """Compiled templates kept in this process and in the user's cache folder, each under its source's checksum.

    Jinja checks the checksum (a SHA-1 of the template's text) before using compiled code, so an edited template
    is compiled again; the folder is outside the project, so a dry build writes nothing in it. Compiling both
    templates takes a tenth of a second, on every build and every desk rebuild without this.
    """

    def __init__(self) -> None:
        self.memory: dict[str, tuple[str, bytes]] = {}
        self.lock = threading.Lock()  # the desk builds in threads

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        """The compiled template kept in memory, else on disk (a wrong checksum leaves the bucket empty)."""
        with self.lock:
            kept = self.memory.get(bucket.key)
        if kept is None:
            kept = (bucket.checksum, _read_cached(bucket.key))
        if kept[0] == bucket.checksum and kept[1]:
            bucket.bytecode_from_string(kept[1])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        """Keep the newly compiled template in memory and, if the cache folder can be written, on disk."""
        data = bucket.bytecode_to_string()
        with self.lock:
            self.memory[bucket.key] = (bucket.checksum, data)
        _write_cached(bucket.key, data)


def cache_folder() -> Path:
    """$XDG_CACHE_HOME/digest/templates, ~/.cache/digest/templates by default: the user's, never the project's."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "digest" / "templates"


def _read_cached(key: str) -> bytes:
    """The compiled template stored under `key`, or b"" (Jinja checks its checksum and version inside)."""
    try:
        return (cache_folder() / f"{key}.bin").read_bytes()
    except OSError:
        return b""


def _write_cached(key: str, data: bytes) -> None:
    """Store a compiled template; a cache that cannot be written only costs the next process a compile."""
    from digest.files import write_atomic

    try:
        folder = cache_folder()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(folder / f"{key}.bin", data)
    except OSError:
        pass


_BYTECODE = TemplateCache()


@functools.lru_cache(maxsize=2048)
def wrap(text: str, width: int = 72) -> str:
    """The text in lines of at most `width` columns, words and links whole (kept: the desk rebuilds the same
    items again and again, and wrapping them was a tenth of its render)."""
    return "\n".join(textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False))


def _render_template(env: jinja2.Environment, name: str, context: dict[str, object]) -> str:
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(_("{template}, line {lineno}: {message}").format(
                                template=exc.filename or name, lineno=exc.lineno, message=exc.message)) from None
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(_("template {name} not found in {searchpath}").format(
                                name=exc.name, searchpath=env.loader.searchpath)  # type: ignore[union-attr]
                            ) from None
    except jinja2.UndefinedError as exc:
        raise TemplateError(_("{name}: {message}; check the names the template uses").format(
                                name=name, message=exc.message)) from None


def mjml_to_html(source: str) -> str:
    """MJML to HTML with mjml-python; no web fonts, so no request to Google from the reader's client."""
    try:
        return str(mjml.mjml2html(source, fonts={}))
    except ValueError as exc:
        raise TemplateError(_("the MJML made from {HTML_TEMPLATE} does not parse: {reason}").format(
                                HTML_TEMPLATE=HTML_TEMPLATE, reason=_locate(exc, source))) from None


def _locate(exc: ValueError, source: str) -> str:
    """The MJML error with the line it points at, so a template author can find it."""
    message = str(exc)
    match = re.search(r"position (\d+):(\d+)", message)
    if not match:
        return message
    start = int(match.group(1))
    line_number = source.count("\n", 0, start) + 1
    line = source.splitlines()[line_number - 1] if source else ""
    return f"{message} (MJML line {line_number}: {line.strip()[:120]})"


def inline_css(html: str) -> str:
    """Inline the CSS (Gmail and Outlook ignore much of <style>), keep @media rules, restore the doctype."""
    _defer_requests()
    from premailer import Premailer  # heavy import (cssutils): only when a letter is rendered

    inlined = Premailer(
        _only_ours(html), keep_style_tags=True, disable_basic_attributes=["height"], allow_network=False,
        disable_validation=True, cssutils_logging_level=logging.CRITICAL, strip_important=False,
        # No picture of ours floats (the layout is tables), and premailer's float check parses every picture's
        # style with validation, compiling cssutils' property grammar: a tenth of a second per process.
        align_floating_images=False,
    ).transform(pretty_print=False)
    body = re.sub(r"^\s*<!doctype[^>]*>\s*", "", str(inlined), flags=re.IGNORECASE)
    return f"{DOCTYPE}\n{body}"  # premailer drops the doctype: without it browsers use quirks mode


def _defer_requests() -> None:
    """Import premailer without importing `requests`, which it only uses for remote CSS (we refuse the network).

    While premailer's module runs, `requests` names a stand-in; premailer keeps it, and its first use imports
    the real module and hands over. The stand-in leaves sys.modules as soon as premailer's import returns (a
    thread importing requests meanwhile gets it, and it behaves as the module). This saves importing requests
    and urllib3, a fifth of premailer's import, in every process that renders.
    """
    if "premailer" in sys.modules or "requests" in sys.modules:
        return
    sys.modules["requests"] = _Requests("requests")
    try:
        import premailer.premailer  # noqa: F401
    finally:
        if isinstance(sys.modules.get("requests"), _Requests):
            del sys.modules["requests"]


class _Requests(types.ModuleType):
    """premailer's `requests` until it is used: every attribute is the real module's, imported then."""

    def __getattr__(self, name: str) -> object:  # called only for names the stand-in does not have itself
        if sys.modules.get("requests") is self:  # used while premailer was still being imported
            del sys.modules["requests"]
        import requests

        return getattr(requests, name)


def _only_ours(html: str) -> str:
    """Mark MJML's reset styles so premailer leaves them in the head (as MJML itself does).

    Inlining them would add ~200 bytes to every item's table; only the template's own <mj-style>,
    marked 'digest:inline', is inlined.
    """
    def mark(match: re.Match[str]) -> str:
        if INLINE_MARK in match.group(0):
            return match.group(0)
        return match.group(0).replace("<style", '<style data-premailer="ignore"', 1)

    return re.sub(r"<style\b[^>]*>.*?</style>", mark, html, flags=re.DOTALL | re.IGNORECASE)


def default_subject(letter: Letter) -> str:
    """'La Lettre de CUF – novembre 2025'."""
    return f"{letter.title} – {dates.month_year(letter.date, letter.language).replace(NBSP, ' ')}"


def default_preheader(letter: Letter) -> str:
    """The first headlines, short: inbox previews show ~90-110 characters, spam filters dislike more."""
    text = " · ".join(item.title for item in letter.items[:3])
    if len(text) > PREHEADER_LENGTH:
        text = text[: PREHEADER_LENGTH - 1].rsplit(" ", 1)[0].rstrip(" ·,:;") + "…"
    return text


def event_when(item: Item, tz: ZoneInfo, language: str = "fr") -> str:
    """'jeudi 26 mars 2026, 10 h 00 – 11 h 30', 'jeudi 26 mars 2026 à 10 h 00', 'du 12 au 15 novembre 2025'; in
    English 'Thursday 26 March 2026, 10:00 – 11:30', 'from 12 to 15 November 2025' (the words: the catalogue)."""
    start_day = _start_day(item, tz)
    end_day = item.end.astimezone(tz).date() if item.end else start_day
    if end_day > start_day:
        return said_in(language, N_("from {first} to {last}")).format(first=_short(start_day, end_day, language),
                                                   last=dates.day_month_year(end_day, language))
    text = f"{dates.weekday(start_day, language)} {dates.day_month_year(start_day, language)}"
    start = item.start or item.date
    if item.all_day or start is None:
        return text
    if not (item.end and item.end > start):
        clock = dates.clock(start.astimezone(tz), language)
        return said_in(language, N_("{day} at {time}")).format(day=text, time=clock)
    return f"{text}, {dates.clock(start.astimezone(tz), language)}{NBSP}–{NBSP}" \
        f"{dates.clock(item.end.astimezone(tz), language)}"


def _short(start: date, end: date, language: str = "fr") -> str:
    """The first day of a span, without what it shares with the last: '12' in 'du 12 au 15 novembre 2025'."""
    full = dates.day_month_year(start, language)
    if start.year == end.year and start.month == end.month:
        return full.split(NBSP)[0]
    if start.year == end.year:
        return full.rsplit(NBSP, 1)[0]
    return full


def _start_day(item: Item, tz: ZoneInfo) -> date:
    start = item.start or item.date
    assert start is not None, "the selector keeps only events that have a start"
    return start.astimezone(tz).date()


def _tidy_text(text: str) -> str:
    """At most one blank line in a row, no trailing spaces except in the signature's '-- '."""
    lines = [line if line == "-- " else line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") + "\n"


@dataclass(frozen=True)
class SizeProblem:
    """The HTML near ("warning") or past ("error") the size at which Gmail clips a message."""

    level: Literal["warning", "error"]
    problem: Problem


def size_problem(html: str, where: str = "letter") -> SizeProblem | None:
    """The one size check: Gmail clips past ~102 KB, hiding the footer and its unsubscribe link; `where` names
    the HTML for the reader (the letter folder's owner gives its file's name)."""
    size = len(html.encode("utf-8"))
    if size > CLIP_BYTES:
        return SizeProblem("error", Problem(where, _("the HTML is {size_kb} KB: Gmail clips a message past ~102 "
                                                    "KB, hiding the footer and its unsubscribe link; lower "
                                                    "max_items or teaser_length").format(size_kb=decimal(size / 1024))))
    if size > WARN_BYTES:
        return SizeProblem("warning", Problem(where, _("the HTML is {size_kb} KB, near Gmail's ~102 KB clipping "
                                                      "limit").format(size_kb=decimal(size / 1024))))
    return None
