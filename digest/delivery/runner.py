"""What performs a scheduled send at its time: `digest serve`'s clock (digest.web.public) and `digest send --due`
both call `run_due`. Each due send is claimed (digest.delivery.schedule), checked as a send now would be, sent
through the list send's journal, and the team told when it starts and when it ends (or why it was held)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from digest import config, i18n, letterfolder
from digest.config import Config
from digest.delivery import aftersend, approval, journal, notice, smtp
from digest.delivery.schedule import BEAT, HELD_WORDS, Held, Scheduled, Schedules, State
from digest.errors import DigestError
from digest.i18n import N_, _

LOG = logging.getLogger("digest.serve")


@dataclass(frozen=True)
class Outcome:
    """What became of one due send: its row, its state after, why it was held, the journal's counts."""

    scheduled: Scheduled
    state: State
    reason: Held | None = None
    detail: str = ""
    counts: dict[str, int] | None = None


def run_due(config_path: Path, moment: datetime, who: str) -> list[Outcome]:
    """Perform every send due at `moment`, one claim at a time; what became of each."""
    cfg = config.load(config_path)
    if not cfg.subscribers_path.is_file():
        return []
    done: list[Outcome] = []
    while True:
        with Schedules(cfg.subscribers_path) as schedules:
            claimed = schedules.claim(moment, who)
        if claimed is None:
            return done
        outcome = perform(cfg, claimed, moment, who)
        done.append(outcome)
        if outcome.state == State.SENDING:  # given back: another process holds its journal
            return done


def _hold(cfg: Config, found: Scheduled, reason: Held, detail: str) -> Outcome:
    with Schedules(cfg.subscribers_path) as schedules:
        schedules.hold(found.id, reason, detail)
    LOG.warning(N_("scheduled send of %s held: %s"), found.letter.isoformat(), reason.value)
    notice.team(cfg, _("Scheduled send held: the letter of {day}").format(day=i18n.day(found.letter)), [
        _("The list send scheduled for {when} did not go: {why}.").format(
            when=i18n.moment(found.at.astimezone()), why=_(HELD_WORDS[reason])),
        *([detail] if detail else []),
        _("Nothing was sent. Once it is put right, send it with `digest send --list --date {iso}` (or schedule it "
          "again with --at).").format(iso=found.letter.isoformat())])
    return Outcome(found, State.HELD, reason, detail)


def _why_not(cfg: Config, found: Scheduled, moment: datetime) -> tuple[Held, str] | None:
    """Why the send may not go now, checked as a send now would be; None: it may."""
    if found.state == State.WAITING and moment - found.at > timedelta(minutes=cfg.send.late_minutes):
        return Held.LATE, _("It was due at {when}; [send] late_minutes is {minutes}.").format(
            when=i18n.moment(found.at.astimezone()), minutes=cfg.send.late_minutes)
    try:
        letter = letterfolder.read_built(cfg.outbox, found.letter)
    except DigestError as exc:
        return Held.ERROR, str(exc)
    if letter.fingerprint != found.fingerprint:
        return Held.REBUILT, ""
    changed = letterfolder.changed(cfg, letter.folder, found.letter)
    if changed:
        return Held.STALE, ", ".join(changed)
    from digest.contribute.moderate import unpublished

    missing = unpublished(cfg, letterfolder.pictures(letter.folder))
    if missing:
        return Held.UNPUBLISHED, ", ".join(missing)
    standing = approval.of_letter(cfg, letter)
    if standing.standing not in (approval.Standing.NOT_NEEDED, approval.Standing.APPROVED):
        return Held.NOT_APPROVED, approval.described(standing)
    return None


def perform(cfg: Config, found: Scheduled, moment: datetime, who: str) -> Outcome:
    """Check, then send one claimed send; the team told."""
    refused = _why_not(cfg, found, moment)
    if refused is not None:
        return _hold(cfg, found, *refused)
    from digest import members
    from digest.audience import subscribers

    try:
        chosen = subscribers.recipients_for_list(cfg.subscribers_path, Path(found.list) if found.list else None,
                                                 members.read(cfg.members_file))
        job = smtp.load_job(cfg, found.letter, cfg.outbox)
        connection = smtp.connection_for(cfg)
    except DigestError as exc:
        return _hold(cfg, found, Held.ERROR, str(exc))
    resumed = found.state == State.SENDING
    LOG.info(N_("scheduled send of %s resumed") if resumed else N_("scheduled send of %s started"),
             found.letter.isoformat())
    notice.team(cfg, (_("Scheduled send resumed: {subject}") if resumed else _("Scheduled send started: {subject}"))
                .format(subject=job.letter.subject), [
        _("The list send of the letter of {day}, scheduled for {when}, has begun: {count} subscriber(s) to send "
          "to.").format(day=i18n.day(found.letter), when=i18n.moment(found.at.astimezone()),
                        count=i18n.number(len(chosen.found.recipients)))])
    beats = _Beats(cfg, found.id, who)
    try:
        approved = approval.notes(approval.of_letter(cfg, job.letter), job.letter.fingerprint)
        report = smtp.send_to_list(job, chosen.found.recipients, connection, gone=chosen.gone, on_progress=beats,
                                   notes=approved)
    except journal.JournalBusy:
        with Schedules(cfg.subscribers_path) as schedules:
            schedules.release(found.id)
        return Outcome(found, State.SENDING)
    except DigestError as exc:  # the server unreachable: who is left stays pending in the journal
        return _hold(cfg, found, Held.ERROR, str(exc))
    if report.sent:
        aftersend.record(job)
    status = journal.status(job.private)
    counts = status[0] if status else {}
    with Schedules(cfg.subscribers_path) as schedules:
        schedules.finish(found.id, counts)
    LOG.info(N_("scheduled send of %s done: %s sent"), found.letter.isoformat(), counts.get("sent", 0))
    notice.team(cfg, _("Scheduled send done: {subject}").format(subject=job.letter.subject), [
        _("The list send of the letter of {day} has ended.").format(day=i18n.day(found.letter)),
        " · ".join(f"{_(letterfolder.COUNT_WORDS[state])} {i18n.number(n)}" for state, n in counts.items()
                   if state in letterfolder.COUNT_WORDS),
        *([_("Some are still to send (deferred or unknown): `digest send --status --date {iso}` says who, and "
             "`digest send --list --date {iso}` sends to them.").format(iso=found.letter.isoformat())]
          if aftersend.still_to_send(job) else [])])
    return Outcome(found, State.DONE, counts=counts)


class _Beats:
    """The send's progress callback: renews the claim's heartbeat every BEAT."""

    def __init__(self, cfg: Config, sid: int, who: str) -> None:
        self.cfg, self.sid, self.who = cfg, sid, who
        self.last = time.monotonic()

    def __call__(self, _done: int, _total: int) -> None:
        if time.monotonic() - self.last >= BEAT.total_seconds():
            self.last = time.monotonic()
            with Schedules(self.cfg.subscribers_path) as schedules:
                schedules.beat(self.sid, self.who)
