"""The formats a source may have, each declared once beside the module of this package that reads it.

sources.toml's `format` key, the guess from a file's extension and the choice of collector all read this table.
It imports nothing, so that checking a configuration loads no parser: each collector module (and its library,
icalendar or lxml) is imported only when a source of its format is read.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    """One format: its name in sources.toml, its reader, the extensions that imply it and what it is called."""

    name: str
    module: str  # the module of digest.collectors whose collect() reads it
    extensions: tuple[str, ...]  # a source whose url ends so has this format unless `format` says otherwise
    what: str  # in "an HTML page, not a feed"


FORMATS = (
    Format("rss", "rss", (".xml", ".rss", ".atom", ".rdf"), "a feed"),
    Format("csv", "csvfile", (".csv",), "a CSV file"),
    Format("json", "jsonfile", (".json",), "a JSON file"),
    Format("toml", "tomlfile", (".toml",), "a TOML file"),
    Format("ics", "ics", (".ics", ".ical"), "a calendar"),
    Format("sitemap", "sitemap", (), "a sitemap"),
    # The members file (collectivite;domaines;site): each member's site is read (digest.collectors.membersites).
    Format("member-sites", "membersites", (), "a members file"),
)
NAMES = tuple(f.name for f in FORMATS)
BY_NAME = {f.name: f for f in FORMATS}
BY_EXTENSION = {extension: f.name for f in FORMATS for extension in f.extensions}
