"""The contributions group: list, show, accept into the letter being made, refuse."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from digest.cli.common import config_option, date_option, loaded, unsent_letter
from digest.contribute.states import State
from digest.i18n import N_, _, ngettext


@click.group(name="contributions")
def contributions_group() -> None:
    """The news member authorities sent through the contribution form: list, show, accept into the letter being
    made, refuse with a message. The desk does the same (its "Contributions" panel)."""


@contributions_group.command(name="list")
@config_option
@click.option("--status", type=click.Choice([s.value for s in State]),
              help="Only the contributions in this state (default: all).")
def contributions_list(config_path: Path, status: str | None) -> None:
    """One line per contribution: number, state, received, authority (member or not), title."""
    from digest.contribute.states import State
    from digest.contribute.store import Contributions

    cfg = loaded(config_path)
    found = []
    if cfg.subscribers_path.is_file():  # a listing makes no store
        with Contributions(cfg.subscribers_path) as store:
            found = store.listed(State(status) if status else None)
    for item in found:
        who = _("member: {name}").format(name=item.member) if item.member else _("not verified")
        click.echo(f"{item.id:>4}  {_(CONTRIBUTION_STATES[item.status]):<12} {item.received[:10]}  "
                   f"{item.authority} ({who})  " + _("“{title}”").format(title=item.title))
    click.echo(ngettext("{count} contribution", "{count} contributions", len(found)).format(count=len(found)),
               err=True)


CONTRIBUTION_STATES = {"unconfirmed": N_("awaiting confirmation"), "proposed": N_("to decide"),
                       "accepted": N_("accepted into a letter"), "refused": N_("refused by the team"),
                       "withdrawn": N_("withdrawn by its contact")}


@contributions_group.command(name="show")
@config_option
@click.argument("number", type=int)
def contributions_show(config_path: Path, number: int) -> None:
    """Everything a contribution says, and who sent it."""
    from digest.contribute.store import Contributions
    from digest.errors import DigestError

    cfg = loaded(config_path)
    with Contributions(cfg.subscribers_path) as store:
        found = store.get_contribution(number)
    if found is None:
        raise DigestError(_("no contribution has the number {number}").format(number=number))
    lines = [(_("state"), _(CONTRIBUTION_STATES[found.status])), (_("authority"), found.authority),
             (_("sent by"), f"{found.contact} <{found.email}>"),
             (_("member"), found.member or _("not verified")), (_("received"), found.received),
             (_("title"), found.title), (_("link"), found.link), (_("date"), found.day), (_("place"), found.place),
             (_("event's start"), found.start), (_("photo"), found.alt)]
    for label, value in lines:
        if value:
            click.echo(f"{label:<16} {value}")
    click.echo("\n" + found.text)


@contributions_group.command(name="accept")
@config_option
@date_option("The letter the item goes into (default: the next letter whose list send has not begun).")
@click.argument("number", type=int)
@click.option("--title", default="", help="The item's title, if the team changes it.")
@click.option("--text", default="", help="The item's text, if the team changes it.")
@click.option("--item-date", default=None, metavar="DD/MM/YYYY", help="The item's date, if the team changes it.")
def contributions_accept(config_path: Path, letter_date: date | None, number: int, title: str, text: str,
                         item_date: str | None) -> None:
    """Put a proposed contribution into the next letter whose list send has not begun, as a pinned [[item]] of
    [contribute] section (an event, with a start, of the agenda) in its issue file; its picture goes with the
    letter; its contact is told which letter."""
    from digest import dates, i18n
    from digest.contribute import moderate

    cfg = loaded(config_path)
    day = unsent_letter(cfg, letter_date, _("the letter of {month} has gone out: a contribution accepted now goes "
                                            "into the next one; leave out --date, or give --date {next}"))
    when = moderate.form_day(item_date) if item_date is not None else None
    agenda = next((s.id for s in cfg.sections if s.kind == "agenda"), None)
    path = moderate.accept(cfg, day, number, title=title, text=text, when=when, agenda=agenda)
    click.echo(_("Contribution {number} is in the letter of {month} ({path}); its contact will be told.").format(
        number=number, month=dates.month_year(day, i18n.current()), path=path))


@contributions_group.command(name="refuse")
@config_option
@click.argument("number", type=int)
@click.option("--message", "note", required=True, help="What the contact is told (why, what to send instead).")
def contributions_refuse(config_path: Path, number: int, note: str) -> None:
    """Refuse a proposed contribution; its contact receives the message."""
    from digest.contribute import moderate

    moderate.refuse(loaded(config_path), number, note)
    click.echo(_("Contribution {number} refused; its contact will be told.").format(number=number))


