"""Plain text out of source markup, teasers, safe links and French typography."""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from typing import Any
from urllib.parse import urljoin, urlparse

import lxml.html
from lxml import etree

from digest.i18n import ngettext
from digest.repair import repair

NBSP = "\u00a0"
NNBSP = "\u202f"  # narrow no-break space: French typography's "espace fine insécable"
# SPIP appends links to the article's section and tags to every description: not part of the teaser.
DROPPED_RELS = {"directory", "tag"}
# Text that ends a teaser on the CUF site: "(…)" or "[...]", replaced by our own ellipsis.
TRAILING_ELLIPSIS = re.compile(r"\s*(\(\s*(…|\.\.\.)\s*\)|\[\s*(…|\.\.\.)\s*\]|…|\.\.\.)\s*$")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# What XML 1.0 forbids (the letter's HTML goes through MJML, an XML parser): C0 controls but tab, newline and
# carriage return, lone surrogates (a JSON "\ud800" decodes to one), U+FFFE and U+FFFF.
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """The text without the characters XML 1.0 forbids."""
    return XML_FORBIDDEN.sub("", text)


def forbidden_in(value: object) -> int:
    """How many characters XML 1.0 forbids are in a value (text, or the text inside lists and tables)."""
    if isinstance(value, str):
        return len(XML_FORBIDDEN.findall(value))
    if isinstance(value, dict):
        return sum(forbidden_in(k) + forbidden_in(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return sum(forbidden_in(v) for v in value)
    return 0


def made_safe(value: Any) -> Any:
    """A value (text, or lists and tables of it, as JSON or TOML give) with those characters removed."""
    if isinstance(value, str):
        return xml_safe(value)
    if isinstance(value, dict):
        return {made_safe(k): made_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [made_safe(v) for v in value]
    return value


def removed_note(where: str, count: int) -> str:
    """The warning for text that held such characters: where, and how many were removed."""
    return ngettext("{where}: removed {count} character an e-mail cannot carry (control characters, U+FFFE/U+FFFF, "
                    "lone surrogates)", "{where}: removed {count} characters an e-mail cannot carry (control "
                    "characters, U+FFFE/U+FFFF, lone surrogates)", count).format(where=where, count=count)


def fold(text: str) -> str:
    """Collapse runs of whitespace (newlines, tabs, no-break spaces from markup) into single spaces.

    Mojibake is repaired first (before control characters go: C1 controls are clues to the damage).
    """
    return " ".join(CONTROL.sub("", xml_safe(repair(text))).split())


def html_to_text(markup: str) -> str:
    """The readable text of an HTML fragment: tags dropped, entities decoded once, whitespace folded."""
    markup = xml_safe(markup)  # lxml refuses them (and a lone surrogate cannot even be encoded)
    if "<" not in markup:
        return fold(html.unescape(markup))
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return fold(html.unescape(re.sub(r"<[^>]*>", " ", markup)))
    for element in root.iter("script", "style", "a"):
        if element.tag != "a" or DROPPED_RELS & set((element.get("rel") or "").split()):
            _drop(element)
    for element in root.iter("br", "p", "div", "li", "h1", "h2", "h3", "h4", "td"):
        element.tail = " " + (element.tail or "")
    return fold(root.text_content())


def _drop(element: lxml.html.HtmlElement) -> None:
    """Remove an element and its content, keeping the text that follows it."""
    parent = element.getparent()
    if parent is not None:
        element.drop_tree()


def teaser(text: str, limit: int) -> str:
    """A teaser of at most `limit` characters, cut at a word boundary and ended with '…' when cut."""
    text = fold(text)
    stripped = TRAILING_ELLIPSIS.sub("", text)
    was_cut = stripped != text
    if len(stripped) > limit:
        cut = stripped[: limit - 1]
        space = cut.rfind(" ")
        stripped = cut[:space] if space > limit // 2 else cut
        was_cut = True
    if was_cut:
        stripped = stripped.rstrip(" ,;:.-–—(") + "…"
    return stripped


# An absolute http(s) URL with a host: scheme, "//", then a host of name characters (no userinfo, no space).
ABSOLUTE = re.compile(r"https?://[A-Za-z0-9.-]+(:\d+)?([/?#]|$)")


def safe_url(url: str | None, base: str | None = None) -> str | None:
    """An absolute http(s) URL, or None for anything else (javascript:, data:, mailto:, garbage)."""
    if not url:
        return None
    url = fold(url).replace(" ", "%20")
    if ABSOLUTE.match(url):  # the common case, without urljoin's work (a feed holds thousands of links)
        return url
    if base:
        url = urljoin(base, url)
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return None
    return url


MONTHS = "janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre"
# "le 4 décembre 2025", "1er mars": a date written in a title must not break across lines
DATE_IN_TEXT = re.compile(rf"\b(\d{{1,2}}(?:er)?) ({MONTHS})(?: (\d{{4}}))?\b", re.IGNORECASE)


def _glue_date(match: re.Match[str]) -> str:
    return NBSP.join(part for part in match.groups() if part)


@functools.lru_cache(maxsize=8192)  # the desk renders the same titles on every click: six regex passes each
def french(text: str) -> str:
    """French typography: no-break spaces before : ; ! ?, inside « » and inside dates."""
    text = DATE_IN_TEXT.sub(_glue_date, text)
    text = re.sub(r"\s+([;!?])", NNBSP + r"\1", text)
    text = re.sub(r"(?<=\w)([!?;])", NNBSP + r"\1", text)
    text = re.sub(r"\s+:", NBSP + ":", text)
    text = re.sub(r"«\s*", "«" + NBSP, text)
    return re.sub(r"\s*»", NBSP + "»", text)


def slug(text: str) -> str:
    """Lowercase ASCII words joined by '-', for ids and file names."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
