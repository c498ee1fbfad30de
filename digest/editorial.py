"""The editorial ("Édito") of an issue: Markdown to safe HTML (markdown-it-py, then nh3) and to text. Pure."""

from __future__ import annotations

import functools
import re
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import lxml.html
from lxml import etree

from digest import i18n
from digest.i18n import _
from digest.text import fold

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

# What an editorial may hold: paragraphs, emphasis, lists, quotes, small headings and links. No pictures
# (they would bypass the letter's size budget and image rules), no tables, no styles.
TAGS = {"p", "br", "strong", "em", "b", "i", "a", "ul", "ol", "li", "blockquote", "h1", "h2", "h3", "h4"}
ATTRIBUTES = {"a": {"href", "title"}}
SCHEMES = {"http", "https", "mailto"}
BLOCKS = ("p", "li", "h1", "h2", "h3", "h4", "blockquote")
BREAK = "\u2028"  # stands for a <br> while the text is folded: Markdown's soft line breaks are spaces
WIDTH = 72  # the text twin's line length


@dataclass(frozen=True)
class Editorial:
    """An editorial ready for the templates, and what the sanitizer removed (for warnings)."""

    html: str
    text: str
    removed: tuple[str, ...] = ()


def render(markdown: str) -> Editorial:
    """Markdown to sanitized HTML and plain text; everything removed on the way is listed in `removed`."""
    return _rendered(markdown, i18n.current())


@functools.lru_cache(maxsize=16)
def _rendered(markdown: str, language: str) -> Editorial:
    """render(), kept per text (and language, which the warnings speak): the desk rebuilds on every click with
    the same editorial."""
    if not markdown.strip():
        return Editorial("", "")
    import nh3  # loaded only for a letter with an editorial

    raw = _markdown().render(markdown)
    removed = tuple(_unsafe(raw))
    clean = nh3.clean(raw, tags=TAGS, attributes=ATTRIBUTES, url_schemes=SCHEMES,
                      link_rel=None, strip_comments=True).strip()
    return Editorial(_xml_safe(clean), to_text(clean), removed)


def _markdown() -> MarkdownIt:
    """CommonMark with raw HTML passed through, so that the sanitizer (not the parser) decides and warns.

    markdown-it's own link check would turn [x](javascript:...) into literal text silently; the allow-list
    drops such a link instead and says so.
    """
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False})
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    return md


def _unsafe(raw: str) -> list[str]:
    """What the allow-list will remove that a reader or an editor should know about."""
    try:
        root = lxml.html.fragment_fromstring(raw, create_parent="div")
    except (etree.ParserError, ValueError):
        return [_("markup that could not be read")]
    found: list[str] = []
    for element in root.iter():
        if not isinstance(element.tag, str) or element is root:
            continue
        if element.tag not in TAGS:
            found.append(f"<{element.tag}>")
        for name, value in element.attrib.items():
            if name.lower().startswith("on"):
                found.append(f"the event handler {name}= on <{element.tag}>")
            elif name in ("href", "src") and _scheme(value) not in SCHEMES | {""}:
                found.append(_("the link {url!r}").format(url=value[:60]))
    return found


def _scheme(url: str) -> str:
    return urlparse(re.sub(r"\s", "", url)).scheme.lower()


def _xml_safe(html: str) -> str:
    """MJML parses its input as XML: write void tags self-closed and entities as characters."""
    return html.replace("<br>", "<br />").replace("&nbsp;", "\u00a0")


def to_text(html: str) -> str:
    """The plain-text twin, wrapped: one paragraph per block, '- ' before list items, links as 'text <url>'."""
    if not html:
        return ""
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    for link in root.iter("a"):
        href = link.get("href")
        if href and href.removeprefix("mailto:") != fold(link.text_content()):
            link.tail = f" <{href}>" + (link.tail or "")
    for br in root.iter("br"):
        br.tail = BREAK + (br.tail or "")
    text = ""
    previous = ""
    for element in root.iter(*BLOCKS):
        if any(child.tag in BLOCKS for child in element):
            continue  # a quote or list item made of paragraphs: its paragraphs speak for themselves
        lines = [line for line in (fold(part) for part in element.text_content().split(BREAK)) if line]
        mark = "- " if element.tag == "li" else ""
        block = "\n".join(_wrap(line, mark if n == 0 else " " * len(mark)) for n, line in enumerate(lines))
        if not block:
            continue
        # list items follow each other line by line; other blocks are separated by a blank line
        text += ("\n" if element.tag == previous == "li" else "\n\n") + block
        previous = element.tag
    return text.strip("\n")


def _wrap(line: str, first: str) -> str:
    indent = " " * len(first)
    return "\n".join(textwrap.wrap(line, WIDTH, initial_indent=first, subsequent_indent=indent,
                                   break_long_words=False, break_on_hyphens=False))
