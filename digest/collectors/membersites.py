"""The `member-sites` format: a source whose `url` is the members file reads every member's own site.

For each member with a site (the file's third column): its feeds, found once (digest.collectors.discovery) and
looked for again after [member_sites] recheck_days; its first feed read like any web source of the collection
(the fetcher's politeness, validators, cached copy and deadline; a site late at the deadline gives its cached
copy); each article scored (digest.collectors.topics). What concerns international action becomes an item of
the source's section marked `proposed`, naming its member and why: the selector keeps proposals out of the
letter until the team accepts one, unless its score reaches [member_sites] auto_score. How each site went is kept
for `digest sources --members` (digest.collectors.sites).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from digest.collectors import sites as site_records
from digest.collectors import topics
from digest.collectors.base import Context, Fetched
from digest.collectors.discovery import Answer, Found, discover, folder
from digest.collectors.fetch import Clients, FetchFailure, Progress, fetch_http
from digest.config import MemberSitesConfig, SourceConfig
from digest.errors import SourceError
from digest.i18n import _, ngettext
from digest.model import Collected, Item, Problem
from digest.text import safe_url

if TYPE_CHECKING:
    from digest.collectors.run import _Run

MAX_DISCOVERY_BYTES = 2 * 1024 * 1024  # a page, a robots.txt or a sitemap read while looking for feeds
MAX_ARTICLES = 50  # the newest articles of a site that are scored: a feed of thousands costs no more
GRACE = 10.0  # seconds after the deadline to read the cached copies of sites that were late


def collect(source: SourceConfig, fetched: Fetched, ctx: Context) -> Collected:
    """A members file is not read on its own: the collection reads its members' sites (see gather)."""
    raise SourceError(_("a member-sites source is read with the others, by `digest build`"))


@dataclass(frozen=True)
class Member:
    """One member with a site, and the source its feed is read as."""

    name: str
    site: str


def members_of(path: Path) -> list[Member]:
    """The members of the file that have a site (an http(s) address); SourceError when it cannot be read."""
    from digest import members

    try:
        found = members.read(path)
    except FileNotFoundError:
        raise SourceError(_("file not found: {path}; check the source's url in sources.toml").format(
            path=path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(_("cannot read {path}: {reason}").format(path=path, reason=exc)) from None
    listed: dict[str, Member] = {}
    for name, site in found.sites.items():
        address = safe_url(site)
        if address is not None:  # a site two members share is read once, for the first
            listed.setdefault(folder(address), Member(name, folder(address)))
    return list(listed.values())


def feed_source(source: SourceConfig, site: site_records.Site) -> SourceConfig:
    """The feed of a member's site as a source of its own (its name keys the cached copy)."""
    feed = site.feeds[0]
    key = hashlib.sha256(feed.encode("utf-8")).hexdigest()[:16]
    return replace(source, name=f"{source.name}.site-{key}", url=feed, location=feed,
                   format="sitemap" if site.kind == "sitemap" else "rss")


async def gather(run: _Run, clients: Clients, source: SourceConfig, settings: MemberSitesConfig) -> Collected:
    """Every member's site read, its articles on international action as proposals of the source's section."""
    members = await asyncio.to_thread(members_of, Path(source.location))
    known = await asyncio.to_thread(site_records.load, run.cache.folder)
    terms = topics.terms((*(settings.topics if settings.topics is not None else topics.TOPICS),
                          *settings.more_topics),
                         settings.context_topics if settings.context_topics is not None else topics.CONTEXT_TOPICS)
    reading = _Reading(run, clients, source, settings, terms, known)
    tasks = {asyncio.create_task(reading.site(m)): m for m in members}
    if tasks:
        _done, late = await asyncio.wait(tasks, timeout=max(0.0, run.deadline_at - time.monotonic()))
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        await asyncio.gather(*(reading.late(tasks[task]) for task in late))
    kept = reading.records if run.record_health else reading.looked  # a dry build keeps only the feeds found
    await asyncio.to_thread(site_records.save, run.cache.folder, {**known, **{s.site: s for s in kept.values()}})
    return Collected(source.name, tuple(reading.items), reading.summary(len(members)))


class _Reading:
    """One collection of the members' sites: the items proposed and each site's record."""

    def __init__(self, run: _Run, clients: Clients, source: SourceConfig, settings: MemberSitesConfig,
                 terms: tuple[topics.Term, ...], known: dict[str, site_records.Site]) -> None:
        self.run, self.clients, self.source, self.settings, self.terms = run, clients, source, settings, terms
        self.known = known
        self.now = datetime.now(UTC)
        self.records: dict[str, site_records.Site] = {}
        self.looked: dict[str, site_records.Site] = {}  # the sites whose feeds were looked for, as found
        self.items: list[Item] = []
        # The sites whose articles were taken: a site cut off at the deadline while its scoring thread ran must
        # not be taken again from its cached copy.
        self.taken: set[str] = set()
        self.taking = threading.Lock()

    def record_of(self, member: Member) -> site_records.Site:
        """What is known of the member's site (a new record for a new site or a site that moved)."""
        return self.records.get(member.site) or replace(
            self.known.get(member.site) or site_records.Site(member.name, member.site), member=member.name)

    async def site(self, member: Member) -> None:
        """Look for the site's feeds when due, then read its first feed; a failure of digest's own is the site's."""
        try:
            await self._site(member)
        except Exception as exc:  # a bug or a library's surprise on one site must not lose the others
            record = self.record_of(member)
            self.records[member.site] = replace(record, failures=record.failures + 1, last_error=_(
                "digest could not read this source: it failed on something in it ({name}: {exc})").format(
                    name=type(exc).__name__, exc=exc))

    async def _site(self, member: Member) -> None:
        record = self.record_of(member)
        if not self.run.offline and site_records.due(record, self.now, self.settings.recheck_days):
            found = await discover(member.site, self.get)
            record = _looked(record, found, self.now)
            self.looked[member.site] = record
        self.records[member.site] = record
        if not record.feeds:
            return
        collected = await self.run.read_source(self.clients, feed_source(self.source, record))
        await asyncio.to_thread(self.take, member, record, collected)  # scoring off the event loop

    async def late(self, member: Member) -> None:
        """A site still being read at the deadline: its cached copy, if it has one."""
        record = self.record_of(member)
        self.records[member.site] = record
        if not record.feeds:
            return
        reason = _("not read within the collection's deadline of {deadline:g} s").format(
            deadline=self.run.settings.deadline)
        try:
            collected = await asyncio.wait_for(self.run.fall_back(feed_source(self.source, record), reason, None),
                                               timeout=GRACE)
        except TimeoutError:
            collected = Collected(self.source.name, (), (Problem(self.source.name, reason),), failed=True)
        self.take(member, record, collected)

    async def get(self, address: str) -> Answer:
        """One page read while looking for feeds, through the collection's fetcher (no retry, a smaller cap)."""
        probe = replace(self.source, name=f"{self.source.name}.look", url=address, location=address)
        settings = replace(self.run.settings, retries=0, max_bytes=min(self.run.settings.max_bytes,
                                                                       MAX_DISCOVERY_BYTES))
        async with self.clients.lend(address) as client:
            download = await fetch_http(self.clients, client, probe, settings, self.run.cache, None, Progress(),
                                        self.run.deadline_at, self.run.backoff)
        pending = download.pending
        if pending is None:  # no copy was offered, so no 304: an odd server
            raise FetchFailure(_("HTTP 304 Not Modified, though digest holds no copy to reuse"), 304)
        try:
            return download.final_url, pending.body(), pending.meta.content_type
        finally:
            pending.discard()

    def take(self, member: Member, record: site_records.Site, collected: Collected) -> None:
        """The site's articles scored; the proposals kept; the site's record brought up to date (once a site)."""
        with self.taking:
            if member.site in self.taken:
                return
            self.taken.add(member.site)
        attempt = self.run.attempts.get(feed_source(self.source, record).name)
        ok = not collected.failed and (attempt is None or attempt.ok)
        error = "; ".join(p.message for p in collected.problems) if not ok else ""
        newest = sorted(collected.items, key=lambda i: i.date or datetime.min.replace(tzinfo=UTC), reverse=True)
        proposed = [item for item in (self.scored(member, record, i) for i in newest[:MAX_ARTICLES])
                    if item is not None]
        self.items.extend(proposed)
        dates = [i.date for i in collected.items if i.date is not None]
        self.records[member.site] = site_records.read(
            record, self.now, ok=ok, status=attempt.status if attempt else None, error=error, dates=dates,
            items=len(collected.items), proposed=len(proposed))

    def scored(self, member: Member, record: site_records.Site, item: Item) -> Item | None:
        """The article as a proposal of the member's, or None when it does not concern international action."""
        found = topics.score(item.title, item.summary, self.terms)
        if found.value < self.settings.min_score:
            return None
        uid = item.uid if item.uid.startswith(("http://", "https://")) else f"{record.feeds[0]}#{item.uid}"
        made = replace(item, uid=uid, source=self.source.name, member=member.name, why=found.why, proposed=True,
                       audience=self.source.audience)
        automatic = self.settings.auto_score and found.value >= self.settings.auto_score
        return made.as_member_news() if automatic else made

    def summary(self, members: int) -> tuple[Problem, ...]:
        """One warning for the sites that need the team, rather than one per site."""
        states = [site_records.state(s, self.now, self.settings.silent_days) for s in self.records.values()]
        unfound = sum(s in (site_records.State.NO_FEED, site_records.State.UNREACHABLE) for s in states)
        failing = sum(s == site_records.State.FAILING for s in states)
        if not unfound and not failing:
            return ()
        said = [ngettext("{count} site without a feed found", "{count} sites without a feed found",
                         unfound).format(count=unfound)] if unfound else []
        said += [ngettext("{count} failing feed", "{count} failing feeds", failing).format(count=failing)] \
            if failing else []
        return (Problem(self.source.name, _("{what}, of {members} members' sites; `digest sources --members` "
                                            "lists them").format(what=", ".join(said), members=members)),)


def _looked(record: site_records.Site, found: Found, now: datetime) -> site_records.Site:
    """The site's record after looking for its feeds (a site that did not answer keeps the feeds it had)."""
    stamp = now.isoformat(timespec="seconds")
    if found.error:
        return replace(record, looked=stamp, unreachable=found.error)
    return replace(record, feeds=found.feeds, kind=found.kind, how=found.how, looked=stamp, unreachable="")
