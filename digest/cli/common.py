"""What the commands share: the -c and --date options, the configuration loaded once per command line (kept in
click's context), the letter's day, and the one place digest's errors become click's exits."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click

from digest import config
from digest.errors import DigestError
from digest.i18n import N_, Nn_, _, ngettext

CONFIG_HELP = "The configuration file (default: sources.toml in the current folder)."
STORE = "\0store"  # what --list stands for when given no file: the subscriber store
F = TypeVar("F", bound=Callable[..., Any])

config_option = click.option("-c", "--config", "config_path", type=click.Path(path_type=Path),
                             default="sources.toml", show_default=True, help=CONFIG_HELP)


class UserError(click.ClickException):
    """A user's error as click shows it: 'Error: …', exit code 2."""

    exit_code = 2


class Failure(click.ClickException):
    """A failure (a build that must not be used, a send that stopped) as click shows it: exit code 1."""

    exit_code = 1


def failed(error: DigestError) -> click.ClickException:
    """A DigestError as click shows it, with the error's exit code."""
    return (Failure if error.exit_code == 1 else UserError)(error.message)


def _parse_date(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(_("{given!r} is not a date; write it as YYYY-MM-DD, e.g. 2025-11-20").format(
                                     given=value)) from None


def date_option(help_text: str) -> Callable[[F], F]:
    """The --date option every command that picks a letter shares."""
    return click.option("--date", "letter_date", callback=_parse_date, metavar="YYYY-MM-DD", help=help_text)


def loaded(config_path: Path) -> config.Config:
    """The configuration at `config_path`, read and checked once per command line (kept in click's context)."""
    cache = click.get_current_context().find_root().ensure_object(dict)
    key = ("config", config_path)
    if key not in cache:
        cache[key] = config.load(config_path)
    found: config.Config = cache[key]
    return found


def letter_day(cfg: config.Config, letter_date: date | None) -> date:
    """The issue's date: --date, else [letter] date, else today (the clock is read here, never in a stage)."""
    return letter_date or cfg.letter.date or date.today()


def unsent_letter(cfg: config.Config, letter_date: date | None, gone: str) -> date:
    """The letter something accepted now goes into: --date's (else the issue's) month, unless its list send began,
    then the next month's; with --date naming a letter that went out, DigestError saying `gone` ({month}, {next})."""
    from digest import dates, i18n
    from digest.contribute import moderate
    from digest.delivery import journal

    wanted = letter_day(cfg, letter_date)
    day = moderate.letter_for(cfg, wanted, journal.sends(cfg))
    if letter_date is not None and (day.year, day.month) != (wanted.year, wanted.month):
        raise DigestError(gone.format(month=dates.month_year(wanted, i18n.current()), next=day.isoformat()))
    return day


# The answers to a question such as `Send to N subscribers? [y/N]` (in French `[o/N]`) that say yes, since a French
# team may type either; anything else, the empty default included, is no.
YES_ANSWERS = frozenset({"o", "oui", "y", "yes"})


def ask_first(question: str, yes: bool, refusal: str) -> bool:
    """Whether to go on: --yes says so for scripts; with no terminal and no --yes, a user's error (`refusal`)."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise UserError(refusal)
    answer = click.prompt(question, default="", show_default=False, prompt_suffix=" ")
    return answer.strip().lower() in YES_ANSWERS


def translate_click() -> None:
    """Make click's own words (Usage, Options, Error, Aborted!) go through digest's catalogue."""
    import importlib

    for name in ("core", "decorators", "exceptions", "formatting", "parser", "termui", "types", "utils",
                 "_termui_impl", "shell_completion"):
        try:
            module = importlib.import_module(f"click.{name}")
        except ImportError:  # a click without that module: nothing of it to translate
            continue
        if hasattr(module, "_"):
            module._ = _  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = ngettext  # type: ignore[attr-defined]
    click.core.Option.make_metavar = _metavar  # type: ignore[method-assign,assignment]
    click.types._NumberRangeBase._describe_range = _range  # type: ignore[method-assign]


TYPE_WORDS = {"StringParamType": N_("TEXT"), "IntParamType": N_("INTEGER"), "IntRange": N_("INTEGER"),
              "FloatParamType": N_("NUMBER"), "FloatRange": N_("NUMBER"), "Path": N_("PATH"), "File": N_("FILE")}
_CLICK_METAVAR = click.core.Option.make_metavar


def _metavar(self: click.Option, ctx: click.Context) -> str:
    """An option's value as --help names it, in the interface language (TEXTE, ENTIER, CHEMIN in French)."""
    word = TYPE_WORDS.get(type(self.type).__name__)
    if self.metavar is not None or word is None or self.type.get_metavar(param=self, ctx=ctx) is not None:
        return _CLICK_METAVAR(self, ctx)
    return _(word) + ("..." if self.nargs != 1 else "")


def _range(self: Any) -> str:
    """A number's bounds as --help says them: 'from 0 to 65535', '1 or more'."""
    if self.min is None:
        return _("{most} at most").format(most=self.max)
    if self.max is None:
        return _("{least} or more").format(least=self.min)
    return _("from {least} to {most}").format(least=self.min, most=self.max)


# Click's own words that digest's commands show, marked here so that the catalogue carries them (click looks
# them up through `translate_click`). The strings are click's, copied exactly.
CLICK_WORDS = (
    N_("Usage:"), N_("Options"), N_("Commands"), N_("Show this message and exit."), N_("Error: {message}"),
    N_("Try '{command} {option}' for help."), N_("Aborted!"), N_("No such option: {name}"),
    N_("No such option {name!r}."), N_("No such command {name!r}."), N_("Missing argument"), N_("Missing option"),
    N_("Missing parameter"), N_("Missing {param_type}"), N_("Invalid value for {param_hint}: {message}"),
    N_("Invalid value: {message}"), Nn_("Got unexpected extra argument ({args})",
                                        "Got unexpected extra arguments ({args})"),
    Nn_("Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments."),
    N_("Option {name!r} does not take a value."),
    Nn_("{value!r} is not {choice}.", "{value!r} is not one of {choices}."),
    N_("{value!r} is not a valid {number_type}."),
    N_("{value!r} is not a valid boolean. Recognized values: {states}"), N_("default: {default}"),
    N_("required"), N_("env var: {var}"), N_("{name} {filename!r} does not exist."), N_("file"),
    N_("directory"), N_("path"), Nn_("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)"),
    N_("Missing command."), N_("Repeat for confirmation"), N_("Error: The two entered values do not match."),
    N_("{value} is not in the range {range}."), N_("%(prog)s, version %(version)s"),
)
