"""The proposals group: the members' sites' articles waiting for the team, listed, accepted, dismissed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from digest.cli.common import config_option, date_option, letter_day, loaded, unsent_letter
from digest.i18n import _, ngettext


@click.group(name="proposals", invoke_without_command=True)
@config_option
@date_option("The letter whose proposals to list (default: [letter] date, else today).")
@click.option("--offline", is_flag=True, help="Read the members' sites from the cache alone (no request).")
@click.pass_context
def proposals_group(ctx: click.Context, config_path: Path, letter_date: date | None, offline: bool) -> None:
    """The articles of the members' own sites that concern international action (a source of format
    "member-sites"), waiting for the team: without a command, one line each (number, member, date, title, why).

    They never go into the letter without a click: `digest proposals accept N` puts one into the next letter
    whose list send has not begun, `digest proposals dismiss N` sets it aside for good. The desk does the same
    (« Proposées par les sites des adhérents »).
    """
    if ctx.invoked_subcommand is not None:
        return
    from digest import i18n, pipeline, proposals
    from digest.cli.letter import SourceLines
    from digest.delivery import journal

    cfg = loaded(config_path)
    if not cfg.member_sites_sources:
        click.echo(_("No source reads the members' sites: add a [[source]] with format = \"member-sites\" whose url "
                     "is the members file (docs/configuration.md)."))
        return
    today = letter_day(cfg, letter_date)
    with SourceLines(len(cfg.sources)) as on_source:
        prepared = pipeline.prepare(cfg, today, cfg.outbox, on_source, offline=offline, record_health=True,
                                    sends=journal.sends(cfg), empty_ok=True)
    readers = {s.name for s in cfg.member_sites_sources}
    for problem in (p for c in prepared.collected for p in c.problems if c.source in readers):
        click.echo(_("warning: {problem}").format(problem=problem), err=True)
    found = proposals.waiting(cfg, prepared.proposals)
    for proposal in found:
        day = i18n.day(proposal.published.date()) if proposal.published else "-"
        click.echo(f"{proposal.id:>4}  {proposal.member}  {day}  " + _("“{title}”").format(title=proposal.title))
        click.echo("      " + _("why: {why}").format(why=", ".join(proposal.why)))
    click.echo(ngettext("{count} proposal waits for a decision", "{count} proposals wait for a decision",
                        len(found)).format(count=len(found)), err=True)


@proposals_group.command(name="accept")
@config_option
@date_option("The letter the article goes into (default: the next letter whose list send has not begun).")
@click.argument("number", type=int)
def proposals_accept(config_path: Path, letter_date: date | None, number: int) -> None:
    """Put proposal NUMBER into the letter, as a pinned [[item]] of its section in the issue file, titled
    « Member — title » and linking to the member's page."""
    from digest import dates, i18n, proposals

    cfg = loaded(config_path)
    day = unsent_letter(cfg, letter_date, _("the letter of {month} has gone out: an article accepted now goes into "
                                            "the next one; leave out --date, or give --date {next}"))
    path = proposals.accept(cfg, day, number)
    click.echo(_("Proposal {number} is in the letter of {month} ({path}).").format(
        number=number, month=dates.month_year(day, i18n.current()), path=path))


@proposals_group.command(name="dismiss")
@config_option
@click.argument("number", type=int)
def proposals_dismiss(config_path: Path, number: int) -> None:
    """Set proposal NUMBER aside: it is not proposed again."""
    from digest import proposals

    found = proposals.dismiss(loaded(config_path), number)
    click.echo(_("Proposal {number} dismissed (“{title}”, {member}).").format(
        number=number, title=found.title, member=found.member))
