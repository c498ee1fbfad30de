"""The errors a user can meet, rooted in click.ClickException so the CLI prints them without a traceback."""

from __future__ import annotations

from collections.abc import Iterable

import click

from digest.i18n import Nn_, ngettext


class DigestError(click.ClickException):
    """A user's error: bad configuration, bad date, bad template. Exit code 2."""

    exit_code = 2


class ConfigError(DigestError):
    """sources.toml (or another input file) is wrong; lists every problem found at once."""

    heads = Nn_("{count} problem in the configuration:", "{count} problems in the configuration:")

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        head = ngettext(*self.heads, count).format(count=count)
        super().__init__(head + "\n" + "\n".join(f"  - {p}" for p in self.problems))


class TemplateError(DigestError):
    """A template failed to render or produced MJML that does not parse."""


class SourceError(Exception):
    """One source could not be read; the build goes on without it (a warning, not an exit)."""


class BuildFailed(click.ClickException):
    """The build ran but its result must not be used (no item at all, or --strict with warnings). Exit 1."""

    exit_code = 1


class SendError(click.ClickException):
    """The send stopped (server unreachable, sender refused); recipients not reached stay pending. Exit 1."""

    exit_code = 1
