"""What digest knows of each member's site: the feeds found there (and when it looked), and the site's health.

Kept in `<cache>/member-sites.json`, written after each collection of a `member-sites` source; read by `digest
sources --members`, the team's list of members to call: sites with no feed found, failing feeds, sites silent
for longer than [member_sites] silent_days.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from digest.files import write_atomic
from digest.i18n import N_, _, ngettext

FILE = "member-sites.json"
RETRY_UNREACHABLE = timedelta(days=1)  # a site that did not answer is looked at again the next day


@dataclass(frozen=True)
class Site:
    """One member's site: where its feeds are and how reading them went. Times are ISO 8601 in UTC."""

    member: str
    site: str
    feeds: tuple[str, ...] = ()
    kind: str = ""  # feed, sitemap, none ('' : never looked)
    how: str = ""
    looked: str | None = None  # when its feeds were last looked for
    unreachable: str = ""  # why the site's page could not be read when looking
    last_attempt: str | None = None
    last_success: str | None = None
    http_status: int | None = None
    items: int = 0
    proposed: int = 0
    newest_item: str | None = None
    failures: int = 0
    last_error: str = ""


class State(StrEnum):
    """Where a member's site stands, for the team."""

    OK = "ok"
    NO_FEED = "no-feed"  # digest found neither feed nor sitemap
    UNREACHABLE = "unreachable"  # its page did not answer when digest looked for feeds
    FAILING = "failing"  # its feed fails
    SILENT = "silent"  # nothing new for longer than silent_days
    NEVER = "never-read"


def load(folder: Path) -> dict[str, Site]:
    """The sites known, by address (none when the file is missing or unreadable)."""
    try:
        data = json.loads((folder / FILE).read_text(encoding="utf-8"))
        return {address: _site(fields) for address, fields in data["sites"].items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def _site(fields: dict[str, Any]) -> Site:
    known = {k: v for k, v in fields.items() if k in Site.__dataclass_fields__}
    known["feeds"] = tuple(str(f) for f in known.get("feeds") or ())
    return Site(**known)


def save(folder: Path, sites: dict[str, Site]) -> None:
    """Write folder/member-sites.json at once."""
    data = {"sites": {address: asdict(site) for address, site in sorted(sites.items())}}
    write_atomic(folder / FILE, (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))


def due(site: Site | None, now: datetime, recheck_days: int) -> bool:
    """True when the site's feeds should be looked for now: never looked, long ago, or it did not answer."""
    if site is None or site.looked is None:
        return True
    age = now - datetime.fromisoformat(site.looked)
    return age > (RETRY_UNREACHABLE if site.unreachable else timedelta(days=recheck_days))


def read(site: Site, now: datetime, *, ok: bool, status: int | None, error: str, dates: list[datetime],
         items: int, proposed: int) -> Site:
    """The site after a reading of its feed."""
    stamp = now.isoformat(timespec="seconds")
    newest = max(dates).isoformat(timespec="seconds") if dates else site.newest_item
    if site.newest_item and newest and site.newest_item > newest:
        newest = site.newest_item
    if ok:
        return replace(site, last_attempt=stamp, last_success=stamp, http_status=status, items=items,
                       proposed=proposed, newest_item=newest, failures=0, last_error="")
    return replace(site, last_attempt=stamp, http_status=status, items=items, proposed=proposed,
                   newest_item=newest, failures=site.failures + 1, last_error=error)


def state(site: Site | None, now: datetime, silent_days: int) -> State:
    """The site's state, the most urgent first."""
    if site is None or site.looked is None:
        return State.NEVER
    if site.unreachable and not site.feeds:
        return State.UNREACHABLE
    if not site.feeds:
        return State.NO_FEED
    if site.failures:
        return State.FAILING
    if site.last_attempt is None:
        return State.NEVER
    newest = site.newest_item
    if newest is None or now - datetime.fromisoformat(newest) > timedelta(days=silent_days):
        return State.SILENT
    return State.OK


STATE_WORDS = {State.OK: N_("ok"), State.NO_FEED: N_("no feed found"), State.UNREACHABLE: N_("site unreachable"),
               State.FAILING: N_("feed failing"), State.SILENT: N_("silent"), State.NEVER: N_("never read")}
URGENCY = (State.UNREACHABLE, State.NO_FEED, State.FAILING, State.SILENT, State.NEVER, State.OK)


@dataclass(frozen=True)
class Row:
    """One member's site in `digest sources --members`."""

    member: str
    site: str
    state: State
    record: Site | None


def rows(members: list[tuple[str, str]], records: dict[str, Site], now: datetime, silent_days: int) -> list[Row]:
    """A row per (member, site address), the most urgent first, then by member."""
    made = [Row(member, site, state(records.get(site), now, silent_days), records.get(site))
            for member, site in members]
    return sorted(made, key=lambda r: (URGENCY.index(r.state), r.member.casefold()))


def table(rows_: list[Row], silent_days: int, tz: ZoneInfo) -> str:
    """The sites that need the team (the others counted on the last line), each with what digest knows."""
    lines = []
    for row in rows_:
        if row.state == State.OK:
            continue
        lines.append(f"{_(STATE_WORDS[row.state]):<18} {row.member}  {row.site}")
        lines.extend("    " + detail for detail in _details(row, silent_days, tz))
    fine = sum(r.state == State.OK for r in rows_)
    lines.append(ngettext("{fine} of {count} member's site reads well.", "{fine} of {count} members' sites read well.",
                          len(rows_)).format(fine=fine, count=len(rows_)))
    return "\n".join(lines)


def _details(row: Row, silent_days: int, tz: ZoneInfo) -> list[str]:
    """What digest knows of a site that needs the team, in a line or two."""
    site = row.record
    if site is None or row.state == State.NEVER:
        return [_("not read yet: the next `digest build` looks for its feeds")]
    if row.state == State.UNREACHABLE:
        return [_("its page did not answer: {reason}").format(reason=site.unreachable)]
    if row.state == State.NO_FEED:
        return [_("neither a feed (its page's links, its CMS's usual addresses) nor a sitemap: ask the member for "
                  "its feed's address")]
    newest = (_("newest article: {day}").format(day=datetime.fromisoformat(site.newest_item).astimezone(tz)
                                                 .strftime(_("%Y-%m-%d")))
              if site.newest_item else _("no dated article"))
    if row.state == State.FAILING:
        return [_("feed: {feed}").format(feed=site.feeds[0]),
                ngettext("{count} failure in a row: {error}", "{count} failures in a row: {error}",
                         site.failures).format(count=site.failures, error=site.last_error)]
    return [_("feed: {feed}").format(feed=site.feeds[0]),
            _("nothing new for over {days} days; {newest}").format(days=silent_days, newest=newest)]
