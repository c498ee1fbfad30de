"""The association's member authorities ([members] file): who is a member, by the domain of their address, and
each member's site (a `member-sites` source reads them: digest.collectors.membersites).

The file is the team's: a header line, then `collectivite;domaines;site` — the authority's name, its e-mail domains
(separated by spaces or commas) and its site's address (optional). A reader is a member because the team says
so: by this file (an address at one of the domains, or a subdomain) or by the subscriber store's own mark
(`digest subscribers set ADDRESS --member NAME`), never by what a form or a reader claims.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Members:
    """The member authorities: each e-mail domain's authority, and each authority's site."""

    by_domain: dict[str, str] = field(default_factory=dict)
    sites: dict[str, str] = field(default_factory=dict)

    def member_of(self, email: str) -> str:
        """The authority an address's domain (or a parent domain) belongs to; '' when none."""
        domain = email.rpartition("@")[2].lower()
        while domain:
            if domain in self.by_domain:
                return self.by_domain[domain]
            domain = domain.partition(".")[2]
        return ""


def read(path: Path | None) -> Members:
    """The members file (a header line first) read; an empty Members without a file."""
    if path is None:
        return Members()
    by_domain: dict[str, str] = {}
    sites: dict[str, str] = {}
    rows = csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig")), delimiter=";")
    for row in list(rows)[1:]:
        if len(row) >= 2 and row[0].strip():
            name = row[0].strip()
            for domain in row[1].replace(",", " ").split():
                by_domain[domain.strip().lower().lstrip("@")] = name
            if len(row) >= 3 and row[2].strip():
                sites[name] = row[2].strip()
    return Members(by_domain, sites)
