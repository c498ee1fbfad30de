"""What lets a list send leave, at the terminal: the approval (`--ask-approval`, the refusal of an unapproved
letter) and the hour (`--list --at`, `--scheduled`, `--cancel`, `--due`). The work is digest.delivery.approval's,
digest.delivery.schedule's and digest.delivery.runner's; here it is asked and said."""

from __future__ import annotations

import shlex
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from digest import config, i18n, letterfolder
from digest.cli.common import ask_first
from digest.delivery import approval, schedule
from digest.errors import DigestError
from digest.i18n import _


def refuse_unapproved(cfg: config.Config, letter: letterfolder.LetterState) -> dict[str, str]:
    """DigestError (exit 2) when [send] approvers is set and this build is not approved; else say who approved,
    and give what the send journal keeps of it."""
    found = approval.of_letter(cfg, letter.letter)
    why = approval.refusal(cfg, found)
    if why is not None:
        raise DigestError(why)
    if found.standing == approval.Standing.APPROVED:
        click.echo(_("Approval: {said}").format(said=approval.described(found)))
    return approval.notes(found, letter.letter.fingerprint)


def ask_approval(cfg: config.Config, letter: letterfolder.LetterState) -> None:
    """Mail each approver the letter with the link to answer; exit 1 when some could not be mailed."""
    if not cfg.send.approvers:
        raise DigestError(_("{path}: no [send] approvers: add approvers = [\"…@…\"] to [send] to ask for an "
                            "approval").format(path=cfg.path))
    asked = approval.ask(cfg, letter.letter)
    for address, sent in asked:
        click.echo((_("  asked {address}") if sent else _("  not sent to {address}: the server refused it"))
                   .format(address=address))
    click.echo(_("Approval of “{subject}” asked of {count} approver(s); their links open {url} (digest serve), "
                 "for {days} days.").format(subject=letter.subject, count=sum(s for _a, s in asked),
                                            url=approval.approval_url(cfg), days=approval.LIFETIME.days))
    if not all(sent for _a, sent in asked):
        raise SystemExit(1)


def schedule_send(cfg: config.Config, letter: letterfolder.LetterState, at_text: str, list_path: Path | None,
                  count: int, yes: bool) -> None:
    """Record the list send at its hour, after the question a send now asks; say how it will be performed."""
    try:
        at = schedule.parse_time(at_text, cfg.letter.timezone)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--at") from None
    moment = datetime.now(UTC)
    if at <= moment:
        raise DigestError(_("{when} is past: give a time to come, or send now without --at").format(
            when=i18n.moment(at)))
    when = i18n.moment(at)
    if not ask_first(_("Schedule the send to {count} subscribers on {when}? [y/N]").format(
            count=i18n.number(count), when=when), yes,
            _("a scheduled send asks first and there is no terminal to ask: add --yes to schedule it from a "
              "script. Nothing scheduled.")):
        click.echo(_("Nothing scheduled."))
        raise SystemExit(1)
    with schedule.Schedules(cfg.subscribers_path) as schedules:
        schedules.add(letter.day, letter.letter.fingerprint, at, str(list_path.resolve()) if list_path else "")
    click.echo(_("The list send of the letter of {day} is scheduled on {when} ({zone}).").format(
        day=i18n.day(letter.day), when=when, zone=cfg.letter.timezone))
    standing = approval.of_letter(cfg, letter.letter)
    if standing.standing not in (approval.Standing.NOT_NEEDED, approval.Standing.APPROVED):
        click.echo(_("note: it will go only if it is approved by then ({said}).").format(
            said=approval.described(standing)))
    if not schedule.server_running(cfg.subscribers_path, moment):
        click.echo(_("No `digest serve` is running on this store: nothing will send it at its time. Run `digest "
                     "serve`, or add this line to the crontab of this machine (crontab -e):"))
        click.echo(f"  {cron_line(cfg)}")


def cron_line(cfg: config.Config) -> str:
    """The crontab line that performs due sends every minute on a machine where no server runs."""
    found = shutil.which("digest")
    program = shlex.quote(found) if found else f"{shlex.quote(sys.executable)} -m digest"
    return f"* * * * * {program} send --due -c {shlex.quote(str(cfg.path))}"


def print_scheduled(cfg: config.Config) -> None:
    """Every scheduled send: letter, time, state, and why one was held."""
    if not cfg.subscribers_path.is_file():
        click.echo(_("No scheduled send."))
        return
    with schedule.Schedules(cfg.subscribers_path) as schedules:
        found = schedules.every()
    if not found:
        click.echo(_("No scheduled send."))
    for row in found:
        said = _(schedule.STATE_WORDS[row.state])
        if row.reason is not None:
            said += _(" ({why})").format(why=_(schedule.HELD_WORDS[row.reason]))
        if row.counts:
            said += " · " + ", ".join(f"{_(letterfolder.COUNT_WORDS[s])} {i18n.number(n)}"
                                      for s, n in row.counts.items() if n and s in letterfolder.COUNT_WORDS)
        click.echo(_("{day}  {when}  {state}").format(day=row.letter.isoformat(), when=i18n.moment(row.at.astimezone()),
                                                      state=said))
        if row.detail:
            click.echo(f"    {row.detail}")


def cancel(cfg: config.Config, letter: letterfolder.LetterState) -> None:
    """Cancel the letter's scheduled send."""
    found = None
    if cfg.subscribers_path.is_file():
        with schedule.Schedules(cfg.subscribers_path) as schedules:
            found = schedules.cancel(letter.day)
    if found is None:
        raise DigestError(_("the letter of {day} has no scheduled send waiting (digest send --scheduled lists "
                            "them)").format(day=i18n.day(letter.day)))
    click.echo(_("The send scheduled on {when} is cancelled.").format(when=i18n.moment(found.at.astimezone())))


def run_due(cfg: config.Config) -> None:
    """Perform the sends due now (cron's `digest send --due`)."""
    from digest.delivery import runner

    done = runner.run_due(cfg.path, datetime.now(UTC), schedule.me())
    for outcome in done:
        said = _(schedule.STATE_WORDS[outcome.state])
        if outcome.reason is not None:
            said += _(" ({why})").format(why=_(schedule.HELD_WORDS[outcome.reason]))
        click.echo(_("{day}  {state}").format(day=outcome.scheduled.letter.isoformat(), state=said))
