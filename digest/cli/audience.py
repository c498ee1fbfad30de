"""The list: the subscribers group (import, export, add, remove, list, stats, consent, purge, erase) and bounces."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from digest import config, i18n
from digest.audience.states import Means, Status
from digest.cli.common import config_option, loaded
from digest.i18n import N_, _

if TYPE_CHECKING:
    from digest.audience import bounces
    from digest.audience.joining import Signups


@click.group(name="subscribers")
def subscribers_group() -> None:
    """The subscriber store (subscribers.sqlite beside sources.toml): import, export, add, set, remove, list, stats,
    erase. `digest send --list` with no file sends to its subscribed addresses."""


def _store(config_path: Path, create: bool = False) -> Signups:
    """The store's subscribers, sign-ups and consent record (one store, shared); made only by the commands that
    add to it."""
    from digest.audience.joining import Signups
    from digest.errors import DigestError

    path = loaded(config_path).subscribers_path
    if not create and not path.exists():
        raise DigestError(_("no subscriber store at {path} yet: `digest subscribers import FILE.csv` or `digest "
                            "subscribers add ADDRESS` makes it").format(path=path))
    return Signups(path)


@subscribers_group.command(name="import")
@config_option
@click.argument("csv_path", metavar="FILE.csv", type=click.Path(path_type=Path))
@click.option("--resubscribe", is_flag=True,
              help="Subscribe again those of the file who unsubscribed or bounced (never those who complained).")
@click.option("--consent", default="", metavar="TEXT",
              help='Where these people gave their consent, e.g. "formulaire papier AG 2025" (kept with each).')
def subscribers_import(config_path: Path, csv_path: Path, resubscribe: bool, consent: str) -> None:
    """Add or update the store from a CSV (the same columns as for --list; other columns are kept as fields)."""
    from digest.store import now

    with _store(config_path, create=True) as store:
        began = now()
        report = store.subscribers.import_csv(csv_path, resubscribe=resubscribe)
        store.record_import(began, " ".join(consent.split()), csv_path.name)
    click.echo(_("{csv_path}: {added} added, {updated} updated, {unchanged} unchanged, {invalid} invalid, {kept_out} "
                 "not subscribed again, {merged} merged").format(
                   csv_path=csv_path, added=report.added, updated=report.updated, unchanged=report.unchanged,
                   invalid=len(report.invalid), kept_out=len(report.kept_out), merged=len(report.merged)))
    for line, kept, email in report.merged:
        click.echo(_("  line {line}: {email} is the address of line {kept} (case aside): line {kept} kept, this "
                     "row left out").format(line=line, email=email, kept=kept))
    for rejected in report.invalid:
        click.echo(_("  line {line}: {email!r} invalid: {reason}").format(
                       line=rejected.line, email=rejected.email, reason=rejected.reason))
    for rejected in report.kept_out:
        click.echo(_("  line {line}: {email} not subscribed again: {reason}").format(
                       line=rejected.line, email=rejected.email, reason=rejected.reason))


@subscribers_group.command(name="export")
@config_option
@click.argument("csv_path", metavar="[FILE.csv]", required=False, type=click.Path(path_type=Path))
def subscribers_export(config_path: Path, csv_path: Path | None) -> None:
    """Write every address with its status and fields as CSV (to FILE.csv, else to the terminal)."""
    from digest.files import PRIVATE, write_atomic

    with _store(config_path) as store:
        text = store.export_csv()  # with when, how and to which wording each consent was given
    if csv_path is None:
        click.echo(text, nl=False)
        return
    # With a BOM: the team's spreadsheet reads UTF-8. Owner only, whatever the umask: it holds every address.
    written = write_atomic(csv_path, text.encode("utf-8-sig"), mode=PRIVATE)
    click.echo(_("Wrote {path} ({addresses} addresses)").format(path=written.path, addresses=text.count(chr(10)) - 1),
               err=True)


@subscribers_group.command(name="add")
@config_option
@click.argument("address")
@click.option("--name", default="", help="The name the greeting uses.")
@click.option("--consent", default="", metavar="TEXT", help='How the person asked, e.g. "courriel du 3 mars".')
def subscribers_add(config_path: Path, address: str, name: str, consent: str) -> None:
    """Subscribe ADDRESS (again, if it had left)."""
    with _store(config_path, create=True) as store:
        changed = store.subscribers.add(address, name)
        if changed:
            store.record(address, "added", "subscribers add", " ".join(consent.split()))
    click.echo(_("{address}: subscribed").format(
        address=address) if changed else _("{address}: already subscribed").format(address=address))


@subscribers_group.command(name="remove")
@config_option
@click.argument("address")
def subscribers_remove(config_path: Path, address: str) -> None:
    """Unsubscribe ADDRESS (the row stays, so that an import does not add it back)."""
    with _store(config_path) as store:
        if store.subscribers.get(address) is None:
            raise click.UsageError(_("{address} is not in the store").format(address=address))
        changed = store.subscribers.unsubscribe(address, "digest subscribers remove", Means.REMOVE)
    click.echo(_("{address}: unsubscribed").format(
        address=address) if changed else _("{address}: already not subscribed").format(address=address))


@subscribers_group.command(name="list")
@config_option
@click.option("--status", type=click.Choice([s.value for s in Status]),
              help="Only the addresses with this status.")
def subscribers_list(config_path: Path, status: str | None) -> None:
    """Every address with its status and since when."""
    from digest import members as member_file
    from digest.audience.recipients import key_of

    cfg = loaded(config_path)
    known = member_file.read(cfg.members_file)
    with _store(config_path) as store:
        rows = store.subscribers.rows(Status(status) if status else None)
        marked, counted = store.subscribers.marked(), store.subscribers.audience(known)
    for row in rows:
        why = f"  {row.reason}" + (f" ({row.letter})" if row.letter else "")
        member = marked.get(key_of(row.email)) or known.member_of(row.email)
        click.echo(f"{row.email:<40} {_status(row.status):<14} {row.changed[:10]}"
                   f"{why if row.status != Status.SUBSCRIBED else ''}"
                   + (_("  member: {member}").format(member=member) if member else ""))
    click.echo(_("{count} address(es)").format(count=len(rows)), err=True)
    say_audience(counted)


def store_counts(cfg: config.Config) -> tuple[int, int]:
    """How many subscribed addresses are members, and others."""
    from digest import members as member_file

    with _store(cfg.path) as store:
        return store.subscribers.audience(member_file.read(cfg.members_file))


def say_audience(counted: tuple[int, int]) -> None:
    """« Abonnés : 12 adhérents, 40 autres » (on stderr: the lines above are the list)."""
    click.echo(_("Subscribed: {members} member(s), {others} other(s)").format(
        members=i18n.number(counted[0]), others=i18n.number(counted[1])), err=True)


@subscribers_group.command(name="set")
@config_option
@click.argument("address")
@click.option("--member", "member", metavar="NAME",
              help='The member authority ADDRESS belongs to, e.g. "Ville de Nancy": it gets the members\' edition.')
@click.option("--not-member", is_flag=True, help="ADDRESS belongs to no member authority (the team's mark removed).")
def subscribers_set(config_path: Path, address: str, member: str | None, not_member: bool) -> None:
    """Say what the team knows of ADDRESS: the member authority it belongs to (never the reader's own claim)."""
    if (member is None) == (not not_member):
        raise click.UsageError(_("give --member NAME or --not-member"))
    with _store(config_path) as store:
        if not store.subscribers.set_member(address, " ".join((member or "").split())):
            raise click.UsageError(_("{address} is not in the store").format(address=address))
    click.echo(_("{address}: member of {member}").format(address=address, member=member) if member else
               _("{address}: no member authority").format(address=address))


STATUSES = {"subscribed": N_("subscribed"), "unsubscribed": N_("unsubscribed"), "bounced": N_("bounced"),
            "complained": N_("complained"), "erased": N_("erased"), "pending": N_("pending")}


def _status(status: str) -> str:
    """A subscriber's status as the reader reads it."""
    return _(STATUSES[status]) if status in STATUSES else status


@subscribers_group.command(name="stats")
@config_option
def subscribers_stats(config_path: Path) -> None:
    """How many addresses have each status, sign-ups per week, and unsubscribes, bounces and complaints per
    letter."""
    with _store(config_path) as store:
        counts, letters = store.subscribers.counts(), store.subscribers.letters()
        weeks, pending = store.weeks(), store.pending_count()
    click.echo(" · ".join(f"{_status(status)} {i18n.number(count)}" for status, count in counts.items())
               + _(" · pending {pending}").format(pending=pending))
    say_audience(store_counts(loaded(config_path)))
    if weeks:
        _table([_("week"), _("sign-ups"), _("confirmed"), _("rate"), _("left")],
               [[w.week, w.asked, w.confirmed, _percent(w.confirmed, w.asked), w.left] for w in weeks])
    if letters:
        _table([_("letter"), _("unsubscribed"), _("bounced"), _("temporary"), _("complained")],
               [[s.letter, s.unsubscribed, s.bounced, s.soft_bounces, s.complained] for s in letters])


def _percent(part: int, whole: int) -> str:
    """'50%' ('50 %' in French), '-' of nothing."""
    return _("{percent}%").format(percent=round(100 * part / whole)) if whole else "-"


def _table(heads: list[str], rows: list[list[object]]) -> None:
    """Columns as wide as their longest word or value: the first on the left, the numbers on the right."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(heads, *rows, strict=True)]
    for row in [list[object](heads), *rows]:
        cells = [f"{row[0]!s:<{widths[0]}}", *(f"{cell!s:>{width}}" for cell, width in zip(row[1:], widths[1:],
                                                                                       strict=True))]
        click.echo(" ".join(cells))


CONSENT_WORDS = {"asked": N_("sign-up asked"), "confirmed": N_("sign-up confirmed"), "created": N_("created"),
                 "added": N_("added"), "import": N_("imported"), "resubscribed": N_("resubscribed"),
                 "erased": N_("erased"), "unsubscribed": N_("unsubscribed"), "bounced": N_("bounced"),
                 "complained": N_("complained")}
MEANS_WORDS = {"form": N_("the form"), "one-click": N_("one click (RFC 8058)"), "page": N_("the unsubscribe page"),
               "mail": N_("an unsubscribe mail"), "bounce": N_("a bounce"), "complaint": N_("a complaint"),
               "import": N_("an import"), "subscribers add": N_("subscribers add"),
               "subscribers remove": N_("subscribers remove"), "subscribers erase": N_("subscribers erase"),
               "unlisted": N_("the unsubscribe page (not on the list)")}

@subscribers_group.command(name="consent")
@config_option
@click.argument("address")
def subscribers_consent(config_path: Path, address: str) -> None:
    """The consent history of ADDRESS: when, by which means, to which wording, from where; and its leaves."""
    with _store(config_path) as store:
        history, wordings = store.history(address), store.wordings()
    if not history:
        raise click.UsageError(_("{address}: nothing in the store").format(address=address))
    for record in history:
        where = _(" from {origin}").format(origin=record.origin) if record.origin else ""
        ip = f" IP {record.ip}" if record.ip else ""
        detail = f" ({record.detail})" if record.detail and record.detail != record.means else ""
        what, means = _(CONSENT_WORDS.get(record.what, record.what)), _(MEANS_WORDS.get(record.means, record.means))
        click.echo(_("{at}  {what:<12} via {means}{detail}{where}{ip}").format(
                       at=record.at, what=what, means=means, detail=detail, where=where, ip=ip))
        if record.wording:
            click.echo(_("{indent:27}wording {wording}: « {wording_text} »").format(
                           indent='', wording=record.wording, wording_text=wordings.get(record.wording, '?')))


@subscribers_group.command(name="purge")
@config_option
def subscribers_purge(config_path: Path) -> None:
    """Delete the sign-ups never confirmed within [subscribe] pending_days (digest serve also does it hourly)."""
    days = loaded(config_path).subscribe.pending_days
    with _store(config_path) as store:
        gone = store.purge(days)
    click.echo(_("{gone} sign-up(s) not confirmed within {days} days deleted").format(gone=gone, days=days))


@subscribers_group.command(name="erase")
@config_option
@click.argument("address")
def subscribers_erase(config_path: Path, address: str) -> None:
    """Delete everything about ADDRESS (store, send journals, dry-run copies), keeping only a hash so that an
    import cannot add it back: the right to erasure."""
    from digest.audience.subscribers import Subscribers
    from digest.delivery import journal

    cfg = loaded(config_path)
    with Subscribers(cfg.subscribers_path) as store:
        found = store.erase(address)
    # The private folder ([letter] private_dir), and the outbox for what an older digest left there.
    files = journal.erase_everywhere([cfg.outbox, cfg.private_dir], address)
    click.echo(_("{address}: erased from the store").format(
        address=address) if found else _("{address}: not in the store (hash kept)").format(
                                                                     address=address))
    for path in files:
        click.echo(_("  erased from {path}").format(path=path))


@click.command(name="bounces")
@config_option
@click.option("--maildir", type=click.Path(path_type=Path, file_okay=False), help="Read this Maildir folder.")
@click.option("--mbox", type=click.Path(path_type=Path, dir_okay=False), help="Read this mbox file.")
@click.option("--imap", metavar="imaps://USER@HOST/FOLDER", help="Read this IMAP folder.")
@click.option("--password-env", default="DIGEST_IMAP_PASSWORD", show_default=True,
              help="The environment variable that holds the IMAP password.")
def bounces_command(config_path: Path, maildir: Path | None, mbox: Path | None, imap: str | None,
                    password_env: str) -> None:
    """Read the bounce mailbox: failures mark addresses bounced, complaints complained, mails to the
    unsubscribe address unsubscribe their sender. Each message understood is moved to digest-done."""
    from digest.audience import bounces

    if sum(map(bool, (maildir, mbox, imap))) != 1:
        raise click.UsageError(_("give exactly one of --maildir DIR, --mbox FILE or --imap imaps://user@host/INBOX"))
    password = os.environ.get(password_env, "") if imap else ""
    if imap and not password:
        raise click.UsageError(_("export {password_env}=... (the IMAP password) first").format(
                                   password_env=password_env))
    source = bounces.Source(imap=imap, password=password) if imap else bounces.Source(
        folder=maildir or mbox, kind="maildir" if maildir else "mbox")
    summary = bounces.read_returns(loaded(config_path), source)
    _print_bounces(summary)


def _print_bounces(summary: bounces.Summary) -> None:
    from digest.audience.bounces import UNPROVEN, Returned

    words = {Returned.BOUNCED: _("bounced"), Returned.SOFT: _("temporary failure"),
             Returned.COMPLAINED: _("complained"), Returned.UNSUBSCRIBE: _("unsubscribed (mail)")}
    for finding, changed in summary.done:
        click.echo(f"  {finding.email:<40} {words[finding.kind]}" + ("" if changed else _(" (no change)"))
                   + (_("  letter {letter}").format(letter=finding.letter) if finding.letter else ""))
    for finding in summary.not_in_store:
        click.echo(_("  {email:<40} {words}: not in the store, nothing changed").format(
                       email=finding.email, words=words[finding.kind]))
    if summary.unproven:
        click.echo(_("{count} unproven message(s), nothing changed; moved to {UNPROVEN} for a person to read (a "
                     "report changes a subscriber only if it proves which copy it answers):").format(
                       count=len(summary.unproven), UNPROVEN=UNPROVEN))
    for unproven in summary.unproven:
        click.echo(_("  from {sender} « {subject} »: {reason}").format(
                       sender=unproven.sender or '?', subject=unproven.subject, reason=unproven.reason))
    click.echo(_("{processed} address(es) processed, {not_in_store} not in the store, {unproven} unproven, "
                 "{delayed} notice(s) that are not bounces, {already} seen before, {not_understood} not understood "
                 "(left in place), {too_large} too large").format(
                   processed=len(summary.done), not_in_store=len(summary.not_in_store), unproven=len(summary.unproven),
                   delayed=summary.delayed, already=summary.already, not_understood=summary.not_understood,
                   too_large=summary.too_large))
