"""Finding a member's feeds from its site's address, the way a reader's feed finder does, then a CMS's habits.

1. The site's page: its `<link rel="alternate">` to an RSS, Atom or JSON feed (comments' feeds left aside).
2. The usual addresses of the CMSs French local authorities use, the one its `<meta name="generator">` names
   first: SPIP `spip.php?page=backend`, WordPress `feed/`, Drupal `rss.xml`, Joomla `?format=feed&type=rss`,
   TYPO3 `?type=100`, then the generic `feed`, `rss`, `rss.xml`, `atom.xml`. Relative to the site's address,
   so that a site living under a path (`https://example.org/mairie/`) is probed there.
3. A sitemap: named by its robots.txt (same host only), else `sitemap.xml`; of a sitemap index, the sitemap
   whose name says news, else the one that changed last.

Every request goes through the collection's fetcher (digest.collectors.run: politeness per host, the deadline,
the body's cap); this module only decides what to ask for and reads the answers. Written out of what
trafilatura's feed and sitemap finders do, without their own downloader, which would bypass all of that.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from digest.collectors.sitemap import SM, children, root_of
from digest.errors import SourceError
from digest.text import safe_url

# What the run's fetcher returns for an address: the final address, the body, its content type.
Answer = tuple[str, bytes, str | None]
Getter = Callable[[str], Awaitable[Answer]]

FEED_TYPES = frozenset(("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json",
                        "application/json", "application/xml", "text/xml"))
CMS_FEEDS = (
    ("spip", "spip.php?page=backend"),
    ("wordpress", "feed/"),
    ("drupal", "rss.xml"),
    ("joomla", "?format=feed&type=rss"),
    ("typo3", "?type=100"),
    ("", "feed"),
    ("", "rss"),
    ("", "atom.xml"),
)
GENERATORS = {"spip": "spip", "wordpress": "wordpress", "drupal": "drupal", "joomla": "joomla", "typo3": "typo3"}
NEWS_WORDS = ("news", "actualit", "post", "article", "breve")
MAX_PAGE = 512 * 1024  # the part of a home page read for its <link>s: they are in its <head>


@dataclass(frozen=True)
class Found:
    """What a site offers: its feeds (the first is read), or a sitemap, or nothing (`error` when unreachable)."""

    feeds: tuple[str, ...] = ()
    kind: str = "none"  # feed, sitemap, none
    how: str = ""  # link, a CMS's name, generic, robots.txt, sitemap.xml
    error: str = ""


def folder(site: str) -> str:
    """The site's address as a folder, so that relative addresses stay under it."""
    return site if site.endswith("/") else site + "/"


async def discover(site: str, get: Getter) -> Found:
    """The feeds (or sitemap) of the site at `site`."""
    base = folder(site)
    try:
        final, page, _type = await get(base)
    except SourceError as exc:
        return Found(error=str(exc))
    feeds, generator = links(page[:MAX_PAGE], final)
    if feeds:
        return Found(feeds, "feed", "link")
    for cms, path in sorted(CMS_FEEDS, key=lambda probe: probe[0] != generator or not generator):
        address = urljoin(base, path)
        try:
            _final, body, _type = await get(address)
        except SourceError:
            continue
        if looks_like_feed(body):
            return Found((address,), "feed", cms or "generic")
    return await _sitemap(base, get)


def links(page: bytes, url: str) -> tuple[tuple[str, ...], str]:
    """The feeds a page's `<link rel="alternate">` name, and the CMS its generator meta names ('' if none)."""
    import lxml.html
    from lxml import etree

    try:
        root = lxml.html.document_fromstring(page)
    except (etree.ParserError, ValueError):
        return (), ""
    feeds: list[str] = []
    for link in root.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        href, title = link.get("href") or "", (link.get("title") or "").lower()
        if "alternate" not in rel or kind not in FEED_TYPES or "comment" in href.lower() + title:
            continue
        found = safe_url(href, url)
        if found and found not in feeds:
            feeds.append(found)
    generator = ""
    for meta in root.iter("meta"):
        if (meta.get("name") or "").lower() == "generator":
            said = (meta.get("content") or "").lower()
            generator = next((cms for word, cms in GENERATORS.items() if word in said), "")
    return tuple(feeds), generator


def looks_like_feed(body: bytes) -> bool:
    """True when a body is an RSS, Atom or RDF feed rather than a page (many sites answer 200 to anything)."""
    head = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return False
    return any(tag in head for tag in (b"<rss", b"<feed", b"<rdf:rdf"))


async def _sitemap(base: str, get: Getter) -> Found:
    """The site's sitemap (from robots.txt, else sitemap.xml), or Found() when it has none."""
    host = urlsplit(base).hostname
    candidates: list[tuple[str, str]] = []
    try:
        _final, robots, _type = await get(urljoin(base, "/robots.txt"))
        for line in robots[:64 * 1024].decode("utf-8", "replace").splitlines():
            name, _sep, value = line.partition(":")
            address = safe_url(value.strip()) if name.strip().lower() == "sitemap" else None
            if address and urlsplit(address).hostname == host:  # a robots.txt cannot send digest elsewhere
                candidates.append(("robots.txt", address))
    except SourceError:
        pass
    candidates += [("sitemap.xml", urljoin(base, "sitemap.xml")), ("sitemap.xml", urljoin(base, "/sitemap.xml"))]
    tried: set[str] = set()
    for how, address in candidates:
        if address in tried:
            continue
        tried.add(address)
        found = await _one_sitemap(address, get, how)
        if found is not None:
            return found
    return Found()


async def _one_sitemap(address: str, get: Getter, how: str) -> Found | None:
    """The sitemap at `address` (of an index, the sitemap to read), or None when it is none."""
    try:
        _final, body, _type = await get(address)
        root = root_of(body)
    except SourceError:
        return None
    if root.tag == f"{SM}urlset":
        return Found((address,), "sitemap", how)
    if root.tag != f"{SM}sitemapindex":
        return None
    listed = [(loc, changed) for loc, changed in children(root) if safe_url(loc)]
    if not listed:
        return None
    news = [entry for entry in listed if any(word in entry[0].lower() for word in NEWS_WORDS)]
    chosen = max(news or listed, key=lambda entry: entry[1])
    return Found((chosen[0],), "sitemap", how)
