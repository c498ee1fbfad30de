"""Findings of `digest check` that a template's authors have looked at and accepted.

A template folder may hold `check-accept.toml` beside `letter.mjml.j2`: a table `[accept]` of finding keys
(a CSS feature such as `css-border-radius`, or a check's name such as `no-date`), each with the reason it is
accepted. Only the file beside the template in use counts: a user's own template does not inherit the stock
template's list. `digest check --accept KEY` adds keys for one run. Errors are never accepted.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from digest.errors import ConfigError
from digest.i18n import _
from digest.renderer import HTML_TEMPLATE
from digest.review.check import Finding

FILE_NAME = "check-accept.toml"


@dataclass(frozen=True)
class Accepted:
    """The keys accepted (with their reasons) and the file they were read from, if any."""

    reasons: dict[str, str] = field(default_factory=dict)
    file: Path | None = None

    def covers(self, finding: Finding) -> bool:
        """True for a warning whose key (or check name) is accepted; errors always show."""
        return finding.level == "warning" and (finding.key in self.reasons or finding.check in self.reasons)


def template_folder(folders: Sequence[Path]) -> Path | None:
    """The folder whose letter template is used: the first that holds it, as the renderer looks them up."""
    return next((folder for folder in folders if (folder / HTML_TEMPLATE).is_file()), None)


def load(folders: Sequence[Path], extra: Iterable[str] = ()) -> Accepted:
    """The accepted keys: the template's own check-accept.toml (if any) plus `extra` (from --accept)."""
    folder = template_folder(folders)
    path = folder / FILE_NAME if folder else None
    reasons = read(path) if path and path.is_file() else {}
    reasons.update((key, _("accepted with --accept")) for key in extra)
    return Accepted(reasons, path if path and path.is_file() else None)


def read(path: Path) -> dict[str, str]:
    """The [accept] table of one file; ConfigError naming the file and what to write when it is wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError([_("{path}: cannot be read as TOML ({exc})").format(path=path, exc=exc)]) from None
    table = data.get("accept", {})
    problems = [] if isinstance(table, dict) else [
        _('{path}: [accept] must be a table of key = "reason"').format(path=path)]
    if not problems:
        problems = [_('{path}: [accept] {key}: write the reason as text, e.g. {key} = "Outlook shows square corners; '
                      'nothing breaks"').format(path=path, key=key)
                    for key, reason in table.items() if not isinstance(reason, str)]
    unknown = sorted(set(data) - {"accept"})
    problems += [_("{path}: unknown table or key “{key}”; the file holds only [accept]").format(path=path, key=key)
                 for key in unknown]
    if problems:
        raise ConfigError(problems)
    return dict(table)


def split(findings: Iterable[Finding], accepted: Accepted) -> tuple[list[Finding], list[Finding]]:
    """The findings to show and those accepted, each in the order given."""
    shown: list[Finding] = []
    hidden: list[Finding] = []
    for finding in findings:
        (hidden if accepted.covers(finding) else shown).append(finding)
    return shown, hidden
