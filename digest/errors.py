"""digest's errors, one family: a user's error carries its exit code, which the command line maps to click's
exit (digest.cli); nothing below the command line knows click."""

from __future__ import annotations

from collections.abc import Iterable

from digest.i18n import Nn_, ngettext


class DigestError(Exception):
    """A user's error: bad configuration, bad date, bad template. Exit code 2; the message says what to do."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def format_message(self) -> str:
        """The message as a person reads it."""
        return self.message

    def __str__(self) -> str:
        return self.message


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


class BuildFailed(DigestError):
    """The build ran but its result must not be used (no item at all, or --strict with warnings). Exit 1."""

    exit_code = 1


class SendError(DigestError):
    """The send stopped (server unreachable, sender refused); recipients not reached stay pending. Exit 1."""

    exit_code = 1
