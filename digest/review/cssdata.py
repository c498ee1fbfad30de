"""Which CSS the major e-mail clients drop, from caniemail.com's support table kept in digest/review/data. Pure.

The table (digest/data/caniemail.json) is caniemail's data reduced to its CSS features, with its date and its
MIT licence (digest/data/caniemail.LICENSE). A client "drops" a feature when the newest test of that client
says "n" (not supported); partial support ("a") is not reported, because it usually concerns a corner of the
feature that a letter does not use.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from typing import Any

import lxml.html
import tinycss2
from tinycss2 import ast

from digest.i18n import _

SOURCE_NAME = "caniemail.com"


@dataclass(frozen=True)
class Client:
    """One e-mail client as caniemail names it: a family on a platform."""

    family: str
    platform: str
    name: str


# The clients whose support the report checks: Gmail and Outlook (most readers), Apple Mail, and the French
# webmails most CUF subscribers use. Yahoo and the rest are left out to keep the report short.
CLIENTS: tuple[Client, ...] = (
    Client("gmail", "desktop-webmail", "Gmail (webmail)"),
    Client("gmail", "ios", "Gmail (iOS)"),
    Client("gmail", "android", "Gmail (Android)"),
    Client("outlook", "windows", "Outlook (Windows)"),
    Client("outlook", "outlook-com", "Outlook.com"),
    Client("outlook", "macos", "Outlook (macOS)"),
    Client("apple-mail", "ios", "Apple Mail (iOS)"),
    Client("apple-mail", "macos", "Apple Mail (macOS)"),
    Client("orange", "desktop-webmail", "Orange (webmail)"),
    Client("sfr", "desktop-webmail", "SFR (webmail)"),
    Client("laposte", "desktop-webmail", "La Poste (webmail)"),
    Client("free-fr", "desktop-webmail", "Free (webmail)"),
)


@dataclass(frozen=True)
class Feature:
    """A CSS feature of the table: its slug (css-border-radius), title, page and support per client."""

    slug: str
    title: str
    url: str
    stats: dict[str, dict[str, dict[str, str]]]

    def support(self, client: Client) -> str:
        """'y', 'n', 'a' (partial), 'u' (unknown) from the client's newest test, or '' when never tested."""
        versions = self.stats.get(client.family, {}).get(client.platform, {})
        if not versions:
            return ""
        newest = list(versions.values())[-1]  # caniemail lists a client's tests oldest first
        return newest.strip()[:1]

    def dropped_by(self, clients: Iterable[Client] = CLIENTS) -> tuple[Client, ...]:
        """The clients whose newest test says they do not support this feature."""
        return tuple(c for c in clients if self.support(c) == "n")


@dataclass(frozen=True)
class Table:
    """The support table: its date and its features by slug."""

    updated: str
    features: dict[str, Feature]

    @property
    def source(self) -> str:
        """How a report names the data: 'caniemail.com, data of 2026-05-13'."""
        return _("{name}, data of {day}").format(name=SOURCE_NAME, day=self.updated[:10])


@lru_cache(maxsize=1)
def load() -> Table:
    """The table shipped with the package (read once)."""
    raw = json.loads(files("digest.review").joinpath("data/caniemail.json").read_text(encoding="utf-8"))
    return from_json(raw)


def from_json(raw: dict[str, Any]) -> Table:
    """A Table from caniemail's JSON shape ({"last_update_date", "data": [{"slug", "stats", ...}]})."""
    features = {
        entry["slug"]: Feature(entry["slug"], entry["title"], entry.get("url", ""), entry.get("stats") or {})
        for entry in raw["data"] if entry.get("category", "css") == "css"
    }
    return Table(str(raw.get("last_update_date", "")), features)


@dataclass
class Usage:
    """Where a feature is used in the HTML: how many times, and a few places to name."""

    count: int = 0
    places: list[str] = field(default_factory=list)

    def add(self, place: str) -> None:
        """Count one more use; remember the first few distinct places."""
        self.count += 1
        if place not in self.places and len(self.places) < 3:
            self.places.append(place)


# Property names whose slug is not css-<name>: families named by their first words.
PREFIX_FAMILIES = ("margin", "padding", "border", "overflow", "grid-template", "background-position",
                   "list-style", "inset", "text-decoration")
SIDES = ("top", "right", "bottom", "left")
FUNCTIONS = {
    "linear-gradient": "css-linear-gradient", "radial-gradient": "css-radial-gradient",
    "conic-gradient": "css-conic-gradient", "rgb": "css-rgb", "rgba": "css-rgba", "calc": "css-unit-calc",
    "var": "css-variables", "min": "css-function-min", "max": "css-function-max", "clamp": "css-function-clamp",
    "light-dark": "css-function-light-dark",
}
DISPLAY_VALUES = {"flex": "css-display-flex", "inline-flex": "css-display-flex", "grid": "css-display-grid",
                  "inline-grid": "css-display-grid", "none": "css-display-none"}
MEDIA_FEATURES = {
    "prefers-color-scheme": "css-at-media-prefers-color-scheme",
    "prefers-reduced-motion": "css-at-media-prefers-reduced-motion",
    "orientation": "css-at-media-orientation", "hover": "css-at-media-hover",
    "device-pixel-ratio": "css-at-media-device-pixel-ratio", "resolution": "css-at-media-device-pixel-ratio",
}
SELECTOR_LITERALS = {">": "css-selector-child", "+": "css-selector-adjacent-sibling",
                     "~": "css-selector-general-sibling", "*": "css-selector-universal"}


def property_slugs(name: str, known: Iterable[str]) -> set[str]:
    """The slugs a property name maps to: css-border-radius for border-top-left-radius, css-margin for margin-top."""
    known = set(known)
    name = name.lower()
    if name.startswith(("-", "mso-")):
        return set()  # vendor properties: aimed at one client on purpose
    if name in SIDES:
        return {"css-left-right-top-bottom"}
    if name.startswith("border") and name.endswith("radius"):
        return {"css-border-radius"}
    if f"css-{name}" in known:
        return {f"css-{name}"}
    family = next((f for f in PREFIX_FAMILIES if name.startswith(f + "-")), None)
    return {f"css-{family}"} & known if family else set()


def value_slugs(name: str, tokens: Iterable[ast.Node], important: bool) -> set[str]:
    """The slugs a declaration's value brings in: functions, units, display values, !important."""
    slugs = {"css-important"} if important else set()
    for token in _walk(tokens):
        if isinstance(token, ast.FunctionBlock) and token.lower_name in FUNCTIONS:
            slugs.add(FUNCTIONS[token.lower_name])
        elif isinstance(token, ast.DimensionToken):
            slugs.add(f"css-unit-{token.lower_unit}")
        elif isinstance(token, ast.PercentageToken):
            slugs.add("css-unit-percent")
        elif isinstance(token, ast.IdentToken) and name.lower() == "display" and token.lower_value in DISPLAY_VALUES:
            slugs.add(DISPLAY_VALUES[token.lower_value])
    return slugs


def _walk(tokens: Iterable[ast.Node]) -> Iterator[ast.Node]:
    for token in tokens:
        yield token
        if isinstance(token, ast.FunctionBlock):
            yield from _walk(token.arguments)
        elif isinstance(token, ast.ParenthesesBlock | ast.SquareBracketsBlock | ast.CurlyBracketsBlock):
            yield from _walk(token.content)


def _declarations(tokens: list[ast.Node] | str, place: str, known: set[str]) -> Iterator[tuple[str, str]]:
    """Each use of a feature in a block of declarations: its slug and where it is."""
    for node in tinycss2.parse_blocks_contents(tokens, skip_comments=True, skip_whitespace=True):
        if isinstance(node, ast.Declaration):
            for slug in property_slugs(node.lower_name, known) | value_slugs(node.lower_name, node.value,
                                                                              node.important):
                yield slug, place
        elif isinstance(node, ast.QualifiedRule):  # a rule nested in @media
            yield from _rule(node, known)


def _rule(rule: ast.QualifiedRule, known: set[str]) -> Iterator[tuple[str, str]]:
    selector = tinycss2.serialize(rule.prelude).strip()
    place = f"<style> {selector}"
    for slug in _selector_slugs(rule.prelude):
        yield slug, place
    yield from _declarations(rule.content, place, known)


def _count(uses: Iterable[tuple[str, str]], found: dict[str, Usage]) -> None:
    for slug, place in uses:
        found.setdefault(slug, Usage()).add(place)


def _selector_slugs(prelude: list[ast.Node]) -> set[str]:
    """Pseudo-classes, pseudo-elements, attribute selectors and combinators in a selector."""
    slugs: set[str] = set()
    for index, token in enumerate(prelude):
        if isinstance(token, ast.LiteralToken) and token.value in SELECTOR_LITERALS:
            slugs.add(SELECTOR_LITERALS[token.value])
        elif isinstance(token, ast.SquareBracketsBlock):
            slugs.add("css-selector-attribute")
        elif isinstance(token, ast.LiteralToken) and token.value == ":" and index + 1 < len(prelude):
            after = prelude[index + 1]
            element = index > 0 and isinstance(prelude[index - 1], ast.LiteralToken) and prelude[index - 1].value == ":"
            name = getattr(after, "lower_value", None) or getattr(after, "lower_name", None)
            if name:
                slugs.add(f"css-pseudo-{'element' if element else 'class'}-{name}")
    return slugs


def _stylesheet(css: str, known: set[str]) -> Iterator[tuple[str, str]]:
    for node in tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True):
        if isinstance(node, ast.QualifiedRule):
            yield from _rule(node, known)
        elif isinstance(node, ast.AtRule):
            prelude = tinycss2.serialize(node.prelude).strip()
            place = f"<style> @{node.lower_at_keyword} {prelude}".strip()
            yield f"css-at-{node.lower_at_keyword}", place
            if node.lower_at_keyword == "media":
                for feature, slug in MEDIA_FEATURES.items():
                    if feature in prelude.lower():
                        yield slug, place
            if node.content is not None:
                yield from _declarations(node.content, place, known)


HERE = "\x00here"  # the place of the style attribute being read, filled in for each element


# The same style attribute comes back on every item of a section, and the same <style> blocks in every build:
# each text is parsed once per process (the desk checks every rebuild; parsing took a third of it).
@lru_cache(maxsize=4096)
def _uses_in_style(declarations: str, known: frozenset[str]) -> tuple[tuple[str, str], ...]:
    return tuple(_declarations(declarations, HERE, set(known)))


@lru_cache(maxsize=256)
def _uses_in_stylesheet(css: str, known: frozenset[str]) -> tuple[tuple[str, str], ...]:
    return tuple(_stylesheet(css, set(known)))


def features_in(html: str, known: Iterable[str]) -> dict[str, Usage]:
    """Every CSS feature (caniemail slug) used by the HTML, in style attributes and <style> blocks.

    Conditional comments (<!--[if mso]>) are comments to the parser, so CSS aimed at Outlook alone is not
    counted: only what every client reads.
    """
    wanted = frozenset(known)
    found: dict[str, Usage] = {}
    document = lxml.html.document_fromstring(html.encode("utf-8"))
    for style in document.iter("style"):
        _count(_uses_in_stylesheet(style.text or "", wanted), found)
    for element in document.iter():
        declarations = element.get("style") if isinstance(element.tag, str) else None
        if declarations:
            here = _("style of {element}").format(element=_describe(element))
            _count(((slug, here if place == HERE else place) for slug, place in _uses_in_style(declarations, wanted)),
                   found)
    return {slug: usage for slug, usage in found.items() if slug in wanted}


def _describe(element: lxml.html.HtmlElement) -> str:
    css_class = element.get("class")
    return f'<{element.tag} class="{css_class}">' if css_class else f"<{element.tag}>"


@dataclass(frozen=True)
class Dropped:
    """A feature used in the HTML that some of the checked clients drop."""

    feature: Feature
    clients: tuple[Client, ...]
    usage: Usage


def dropped(html: str, table: Table | None = None, clients: Iterable[Client] = CLIENTS) -> list[Dropped]:
    """The CSS features of the HTML that at least one of `clients` drops, in the order of the table."""
    table = table or load()
    clients = tuple(clients)
    used = features_in(html, table.features)
    result = []
    for slug, feature in table.features.items():
        if slug in used and (dropping := feature.dropped_by(clients)):
            result.append(Dropped(feature, dropping, used[slug]))
    return result

