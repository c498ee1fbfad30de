"""The command line: parse, call, report. The work is done by the modules each command imports; nothing below
this package imports click. Commands live by group: letter (build, init, draft, preview, check, sources,
letters, discard), send (send, export, publish), audience (subscribers, bounces), contributions, serve
(serve, subscribe-form)."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import click

from digest import __version__
from digest.cli import audience, backup, contributions, letter, proposals, send, serve
from digest.cli.common import failed, translate_click
from digest.errors import DigestError
from digest.i18n import _


class Digest(click.Group):
    """digest's command group: it chooses the interface language before click reads the command line."""

    def main(self, args: Sequence[str] | None = None, *rest: Any, **options: Any) -> Any:
        """Speak the chosen language (--lang, DIGEST_LANG, sources.toml, the locale), then run the command."""
        from digest import i18n

        i18n.use(i18n.choose_for_command(list(sys.argv[1:] if args is None else args)))
        translate_click()
        translate_helps(self)
        return super().main(args, *rest, **options)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; digest's own errors leave as click's (its message, its exit code)."""
        try:
            return super().invoke(ctx)
        except DigestError as exc:
            raise failed(exc) from None


def help_texts(command: click.Command) -> Iterator[tuple[click.Command | click.Parameter, str]]:
    """Every help text of `command` and its subcommands, as written in the code (the catalogue's messages)."""
    source = getattr(command, "source_help", None) or command.help
    if source:
        yield command, inspect.cleandoc(source)
    for param in command.params:
        text = getattr(param, "source_help", None) or getattr(param, "help", None)
        if text:
            yield param, text
    for sub in getattr(command, "commands", {}).values():
        yield from help_texts(sub)


def translate_helps(command: click.Command) -> None:
    """Show the help texts of every command and option in the interface language (the source kept aside), and
    the usage line's words ([OPTIONS], COMMAND [ARGS]...)."""
    for owner, text in list(help_texts(command)):
        owner.source_help = text  # type: ignore[union-attr]
        owner.help = _(text)
    _usage_words(command)


def _usage_words(command: click.Command) -> None:
    command.options_metavar = _("[OPTIONS]")
    if isinstance(command, click.Group):
        command.subcommand_metavar = _("COMMAND [ARGS]...")
        for sub in command.commands.values():
            _usage_words(sub)


@click.group(cls=Digest, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="digest")
@click.option("--lang", type=click.Choice(["fr", "en"]), expose_value=False, is_eager=True,
              help="The interface language (default: DIGEST_LANG, [letter] interface, the locale, the letter's).")
def main() -> None:
    """Build the e-mail letter from the sources named in sources.toml.

    \b
    A month's letter, step by step:
      digest draft            write issues/<YYYY-MM>.toml to edit (édito, pins, exclusions)
      digest preview          the editorial desk: make the letter in the browser
      digest check            the pre-send report (exit 1 on any error)
      digest build            write outbox/<date>/ (letter.html, .txt, .eml, digest.json)
      digest send --to ME     a test send to yourself
      digest send --list subscribers.csv    the real send, exactly once (it asks first)
      digest publish DEST     the public files of every letter, to put on the web server
      digest letters          where each letter stands: built, tested, sending, sent, published
    Each command's --help tells more.
    """


for command in (letter.build, letter.init, letter.draft, letter.preview, letter.check_command,
                letter.sources_command, send.send_command, send.export_command, letter.letters_command,
                send.publish_command, letter.discard_command, audience.subscribers_group,
                contributions.contributions_group, proposals.proposals_group, serve.subscribe_form,
                serve.serve_command,
                audience.bounces_command, backup.backup_command, backup.restore_command):
    main.add_command(command)
