"""The subscribers part of the private store (digest.store): one row per address.

Each row has a status (subscribed, unsubscribed, bounced, complained) and when and why it last changed
(which letter, which message). Every change is also an event, counted per letter by `stats`. An erased
person leaves only a keyed hash, so that an import cannot silently add them again. Addresses are private:
nothing here logs one; `mask()` is what a page or a log line may show.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from digest.audience import recipients as csv_rules
from digest.audience.recipients import Recipient, Rejected, check_address, key_of
from digest.audience.states import STATUSES, Means, Status
from digest.errors import DigestError
from digest.i18n import _
from digest.members import Members
from digest.store import Part, StoreError, now

__all__ = ["StoreError", "Subscribers", "now"]  # StoreError: the store's, raised here too

SOFT_LIMIT = 3  # temporary failures on this many different letters mark an address bounced


# The columns the store keeps itself; every other CSV column is kept as an extra field (organisation, city…).
OWN_COLUMNS = {*csv_rules.EMAIL_COLUMNS, *csv_rules.NAME_COLUMNS, *csv_rules.UNSUBSCRIBED_COLUMNS,
               "status", "reason", "letter", "changed", "created", "updated"}
EXPORT_COLUMNS = ("email", "name", "status", "reason", "letter", "changed", "created", "updated")
MEMBER_COLUMN = "adherent"  # the team's member mark, last of an export's own columns: an import reads it back
MAX_FIELD = 200  # an extra field's value is cut there: a spreadsheet cell, not a document


@dataclass(frozen=True)
class Subscriber:
    """One row of the store."""

    email: str
    name: str
    status: Status
    reason: str
    letter: str
    message: str
    changed: str
    created: str
    updated: str
    fields: dict[str, str]
    means: Means | str = ""  # how the last change came ('' when a store of 0.1.0 could not tell)


@dataclass
class ImportReport:
    """What an import did: counts, and the rows it left alone with their line and why."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    invalid: list[Rejected] = field(default_factory=list)
    kept_out: list[Rejected] = field(default_factory=list)  # left or erased: not subscribed again
    # A row for an address an earlier row already gave (case aside): (its line, the line kept, the address).
    merged: list[tuple[int, int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class LetterStats:
    """What happened to one letter's recipients afterwards."""

    letter: str
    unsubscribed: int
    bounced: int
    soft_bounces: int
    complained: int


def mask(email: str) -> str:
    """An address as a page or a log line may show it: a***e@e***.org."""
    local, _sep, domain = email.rpartition("@")
    host, dot, tld = domain.rpartition(".")

    def hide(part: str) -> str:
        return part[:1] + "***" + (part[-1:] if len(part) > 2 else "")

    return f"{hide(local)}@{hide(host) + dot + tld if host else hide(domain)}"


class Subscribers(Part):
    """The subscribers part of the store: one row per address, every change an event."""

    # --- reading -------------------------------------------------------------------------------------------

    def get(self, email: str) -> Subscriber | None:
        """The row of this address (any case), or None."""
        row = self._db.execute("SELECT email, name, status, reason, letter, message, changed, created, updated, "
                               "fields, means FROM subscriber WHERE key=?", (key_of(email),)).fetchone()
        return _subscriber(row) if row else None

    def rows(self, status: str | None = None) -> list[Subscriber]:
        """Every row (or those with this status), by address."""
        query = ("SELECT email, name, status, reason, letter, message, changed, created, updated, fields, means "
                 "FROM subscriber" + (" WHERE status=?" if status else "") + " ORDER BY key")
        return [_subscriber(r) for r in self._db.execute(query, (status,) if status else ())]

    def subscribed(self) -> list[Recipient]:
        """Those to send to, in the order they joined."""
        return [Recipient(email, name, member) for email, name, member in self._db.execute(
            "SELECT email, name, member FROM subscriber WHERE status='subscribed' ORDER BY created, rowid")]

    def set_member(self, email: str, member: str) -> bool:
        """The team says the address belongs to this member authority ('' : to none); whether it is in the store."""
        with self._transaction() as db:
            return db.execute("UPDATE subscriber SET member=?, updated=? WHERE key=?",
                              (member[:MAX_FIELD], now(), key_of(email))).rowcount > 0

    def set_name(self, email: str, name: str) -> bool:
        """The name a subscriber gives themselves (their own page); whether it changed."""
        with self._transaction() as db:
            return db.execute("UPDATE subscriber SET name=?, updated=? WHERE key=? AND name != ?",
                              (name, now(), key_of(email), name)).rowcount > 0

    def marked(self) -> dict[str, str]:
        """The team's member marks, by key (only the marked addresses)."""
        return dict(self._db.execute("SELECT key, member FROM subscriber WHERE member != ''").fetchall())

    def member(self, email: str) -> str:
        """The member authority the team marked the address with ('' for none)."""
        row = self._db.execute("SELECT member FROM subscriber WHERE key=?", (key_of(email),)).fetchone()
        return str(row[0]) if row else ""

    def audience(self, members: Members) -> tuple[int, int]:
        """How many subscribed addresses are members (the team's mark or the members file's domains), and others."""
        found = [bool(member or members.member_of(email)) for email, member in self._db.execute(
            "SELECT email, member FROM subscriber WHERE status='subscribed'")]
        return sum(found), len(found) - sum(found)

    def gone(self) -> set[str]:
        """The keys of everyone not (or no longer) subscribed: a running send asks this every 100 messages."""
        return {k for (k,) in self._db.execute("SELECT key FROM subscriber WHERE status != 'subscribed'")}

    def counts(self) -> dict[str, int]:
        """How many addresses have each status (every status present)."""
        found = dict(self._db.execute("SELECT status, COUNT(*) FROM subscriber GROUP BY status").fetchall())
        return {status.value: found.get(status.value, 0) for status in STATUSES}

    def letters(self) -> list[LetterStats]:
        """Unsubscribes, bounces and complaints per letter, newest letter first."""
        rows = self._db.execute(
            "SELECT letter, SUM(kind='unsubscribed'), SUM(kind='bounced'), SUM(kind='soft-bounce'), "
            "SUM(kind='complained') FROM event WHERE letter != '' GROUP BY letter ORDER BY letter DESC")
        return [LetterStats(*row) for row in rows]

    def letter(self, letter: str) -> LetterStats:
        """The figures of one letter (all 0 when nothing happened)."""
        found = [s for s in self.letters() if s.letter == letter]
        return found[0] if found else LetterStats(letter, 0, 0, 0, 0)

    def erased(self, email: str) -> bool:
        """Whether this address was erased on its owner's request."""
        return self._db.execute("SELECT 1 FROM erased WHERE hash=?", (self.hash_of(email),)).fetchone() is not None

    # --- changing ------------------------------------------------------------------------------------------

    def add(self, email: str, name: str = "", fields: dict[str, str] | None = None) -> bool:
        """Subscribe an address (a new row, or an existing one subscribed again); whether anything changed.

        Asked for by name, so an erased address may come back: its hash is forgotten.
        """
        email, name = _checked(email), csv_rules._name(name)
        with self._transaction() as db:
            db.execute("DELETE FROM erased WHERE hash=?", (self.hash_of(email),))
            existing = self.get(email)
            if existing is None:
                self._insert(db, email, name, Status.SUBSCRIBED, "added", fields or {}, Means.ADD)
                return True
            if name and name != existing.name:
                db.execute("UPDATE subscriber SET name=?, updated=? WHERE key=?", (name, now(), key_of(email)))
            return self._set(db, email, Status.SUBSCRIBED, "added again", Means.ADD, kind="resubscribed")

    def join(self, db: sqlite3.Connection, email: str, name: str, reason: str, means: Means) -> bool:
        """Inside the caller's transaction: subscribe an address, new or back whatever its state (a confirmed
        sign-up), its erasure forgotten; whether anything changed."""
        db.execute("DELETE FROM erased WHERE hash=?", (self.hash_of(email),))
        existing = self.get(email)
        if existing is None:
            self._insert(db, email, name, Status.SUBSCRIBED, reason, {}, means)
            return True
        if name and name != existing.name:
            db.execute("UPDATE subscriber SET name=?, updated=? WHERE key=?", (name, now(), key_of(email)))
        return self._set(db, email, Status.SUBSCRIBED, reason, means, kind="resubscribed")

    def set_status(self, email: str, status: Status, reason: str, means: Means, *, letter: str = "",
                   message: str = "", kind: str | None = None) -> bool:
        """Change an address's status and record why and how; False when it is not in the store or already so."""
        with self._transaction() as db:
            return self._set(db, email, status, reason, means, letter=letter, message=message, kind=kind)

    def unsubscribe(self, email: str, reason: str, means: Means, *, letter: str = "") -> bool:
        """Unsubscribe an address: once (a second time changes nothing and records nothing)."""
        return self.set_status(email, Status.UNSUBSCRIBED, reason, means, letter=letter)

    def leave(self, email: str, reason: str, means: Means, *, letter: str = "") -> str | None:
        """Unsubscribe a subscribed address (the unsubscribe page, one-click): nothing else changes. An address
        the store does not have is recorded as unsubscribed (a letter sent from a CSV file reached it: its next
        send must leave it out), unless it was erased: erasure is final. The time of the change (what
        undo_leave() needs; '' for an address the store did not have, which no undo subscribes), or None when
        nothing changed."""
        with self._transaction() as db:
            if self.get(email) is None and not self.erased(email):
                self._insert(db, _checked(email), "", Status.UNSUBSCRIBED, reason, {}, Means.UNLISTED)
                return ""
            if not self._set(db, email, Status.UNSUBSCRIBED, reason, means, letter=letter,
                               only_from=Status.SUBSCRIBED):
                return None
            found: str = db.execute("SELECT changed FROM subscriber WHERE key=?", (key_of(email),)).fetchone()[0]
            return found

    def undo_leave(self, email: str, changed: str) -> bool:
        """Subscribe again an address whose last change is still the unsubscribe the page (or a one-click POST)
        recorded at `changed`: not after a bounce, a complaint, a removal by the team or an erasure."""
        with self._transaction() as db:
            row = self.get(email)
            if (row is None or row.status != Status.UNSUBSCRIBED or row.changed != changed
                    or row.means not in (Means.PAGE, Means.ONE_CLICK)):
                return False
            return self._set(db, email, Status.SUBSCRIBED, "réabonnement (page de désinscription)", Means.PAGE,
                             kind="resubscribed")

    def soft_bounce(self, email: str, letter: str, detail: str) -> bool:
        """Count a temporary failure; the SOFT_LIMIT-th on a different letter marks the address bounced."""
        key = key_of(email)
        with self._transaction() as db:
            if self.get(email) is None:
                return False
            db.execute("INSERT INTO event (key, letter, kind, detail, at) SELECT ?, ?, 'soft-bounce', ?, ? "
                       "WHERE NOT EXISTS (SELECT 1 FROM event WHERE key=? AND letter=? AND kind='soft-bounce')",
                       (key, letter, detail[:MAX_FIELD], now(), key, letter))
            letters = db.execute("SELECT COUNT(DISTINCT letter) FROM event WHERE key=? AND kind='soft-bounce'",
                                 (key,)).fetchone()[0]
            if letters >= SOFT_LIMIT:
                return self._set(db, email, Status.BOUNCED, f"{letters} temporary failures on different letters",
                                 Means.BOUNCE, letter=letter)
            return False

    def erase(self, email: str) -> bool:
        """Delete everything about an address but a keyed hash (kept so an import cannot add it back), in every
        part of the store (each part's erase.sql); the per-letter counts keep their numbers, with nothing left
        that names the person. Whether the store had the address as a subscriber."""
        key = key_of(email)
        found = self._db.execute("SELECT 1 FROM subscriber WHERE key=?", (key,)).fetchone() is not None
        self.store.erase(key, self.hash_of(email))
        return found

    def seen(self, message_key: str) -> bool:
        """Whether a bounce message with this key was processed already."""
        return self._db.execute("SELECT 1 FROM processed WHERE id=?", (message_key,)).fetchone() is not None

    def mark_seen(self, message_key: str) -> None:
        """Remember a processed bounce message, so a rerun changes nothing."""
        self._db.execute("INSERT OR IGNORE INTO processed (id, at) VALUES (?, ?)", (message_key, now()))

    def import_csv(self, path: Path, *, resubscribe: bool = False) -> ImportReport:
        """Add or update the rows of a subscribers CSV (the same rules as `digest send --list`); someone who
        left (unsubscribed, bounced, complained, erased) is not subscribed again unless `resubscribe`."""
        report = ImportReport()
        rows = list(_csv_rows(path, report))
        with self._transaction() as db:
            for line, email, name, left, extra in rows:
                self._import_row(db, report, line, email, name, left, extra, resubscribe)
        return report

    def _import_row(self, db: sqlite3.Connection, report: ImportReport, line: int, email: str, name: str,
                    left: bool, extra: dict[str, str], resubscribe: bool) -> None:
        member = next((extra.pop(c) for c in list(extra) if c.strip().casefold() in csv_rules.MEMBER_COLUMNS), None)
        self._upsert_row(db, report, line, email, name, left, extra, resubscribe)
        if member is not None:  # the team's column says who is a member: the store keeps it
            db.execute("UPDATE subscriber SET member=? WHERE key=?", (member.strip()[:MAX_FIELD], key_of(email)))

    def _upsert_row(self, db: sqlite3.Connection, report: ImportReport, line: int, email: str, name: str,
                    left: bool, extra: dict[str, str], resubscribe: bool) -> None:
        existing = self.get(email)
        if existing is None:
            if self._db.execute("SELECT 1 FROM erased WHERE hash=?", (self.hash_of(email),)).fetchone():
                report.kept_out.append(Rejected(line, email, _("erased on request; `digest subscribers add` adds "
                                                               "it back if the person asks")))
                return
            self._insert(db, email, name, Status.UNSUBSCRIBED if left else Status.SUBSCRIBED, "import", extra,
                         Means.IMPORT)
            report.added += 1
            return
        changed = False
        merged = {**existing.fields, **extra}
        if (name and name != existing.name) or merged != existing.fields:
            db.execute("UPDATE subscriber SET name=?, fields=?, updated=? WHERE key=?",
                       (name or existing.name, json.dumps(merged, ensure_ascii=False), now(), key_of(email)))
            changed = True
        if left:
            changed = self._set(db, email, Status.UNSUBSCRIBED, "import", Means.IMPORT) or changed
        elif existing.status != "subscribed":
            if resubscribe and existing.status != "complained":
                changed = self._set(db, email, Status.SUBSCRIBED, "import --resubscribe", Means.IMPORT,
                                    kind="resubscribed") or changed
            else:
                report.kept_out.append(Rejected(line, email, _("{status} since {since}").format(
                                                                 status=existing.status, since=existing.changed[:10])
                                                + ("" if existing.status == "complained" else
                                                   _("; --resubscribe subscribes it again"))))
        if changed:
            report.updated += 1
        else:
            report.unchanged += 1

    def export_csv(self) -> str:
        """Every row as CSV text (';' between fields, as the team's spreadsheet opens it), extras last."""
        rows, marked = self.rows(), self.marked()
        extras = sorted({name for row in rows for name in row.fields} - {MEMBER_COLUMN})
        out = io.StringIO(newline="")
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow([_cell(c) for c in (*EXPORT_COLUMNS, MEMBER_COLUMN, *extras)])  # a header cell is hostile too
        for row in rows:
            writer.writerow([_cell(v) for v in (row.email, row.name, row.status, row.reason, row.letter,
                                                 row.changed, row.created, row.updated,
                                                 marked.get(key_of(row.email), ""),
                                                 *(row.fields.get(e, "") for e in extras))])
        return out.getvalue()

    # --- inside ------------------------------------------------------------------------------------------

    def _insert(self, db: sqlite3.Connection, email: str, name: str, status: Status, reason: str,
                fields: dict[str, str], means: Means) -> None:
        moment = now()
        db.execute("INSERT INTO subscriber (key, email, name, status, reason, changed, created, updated, fields, "
                   "means) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (key_of(email), email, name, status.value, reason, moment, moment, moment,
                    json.dumps(fields, ensure_ascii=False), means.value))

    def _set(self, db: sqlite3.Connection, email: str, status: Status, reason: str, means: Means, *,
             letter: str = "", message: str = "", kind: str | None = None, only_from: Status | None = None) -> bool:
        key, moment = key_of(email), now()
        changed = db.execute("UPDATE subscriber SET status=?, reason=?, means=?, letter=?, message=?, changed=?, "
                             "updated=? WHERE key=? AND status != ? AND status = coalesce(?, status)",
                             (status.value, reason[:MAX_FIELD], means.value, letter, message[:MAX_FIELD], moment,
                              moment, key, status.value, only_from.value if only_from else None)).rowcount
        if changed:
            db.execute("INSERT INTO event (key, letter, kind, detail, at, means) VALUES (?, ?, ?, ?, ?, ?)",
                       (key, letter, kind or status.value, reason[:MAX_FIELD], moment, means.value))
        return bool(changed)

    def hash_of(self, email: str) -> str:
        """A keyed hash of the address (the store's key makes it useless outside the store)."""
        return self.store.keyed_hash(key_of(email))


def _checked(email: str) -> str:
    try:
        return check_address(email)
    except ValueError as exc:
        raise StoreError(_("{email!r} is not a usable address: {exc}").format(email=email, exc=exc)) from None


def _subscriber(row: tuple[str, ...]) -> Subscriber:
    email, name, status, reason, letter, message, changed, created, updated, fields, means = row
    return Subscriber(email, name, Status(status), reason, letter, message, changed, created, updated,
                      json.loads(fields) if fields else {}, _means_of(means))


def _means_of(value: str) -> Means | str:
    """A recorded means as its type ('' when a store of 0.1.0 could not tell)."""
    try:
        return Means(value)
    except ValueError:
        return ""


def _cell(value: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula (=, +, -, @, tab, CR or LF first; OWASP's rule)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r", "\n") else value


def _csv_rows(path: Path, report: ImportReport) -> Iterator[tuple[int, str, str, bool, dict[str, str]]]:
    """(line, address, name, left, extra fields) of each usable row; invalid rows go to the report."""
    text = csv_rules._text(path)
    header = text.split("\n", 1)[0]
    delimiter = ";" if header.count(";") > header.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns = {(c or "").strip().casefold(): c for c in reader.fieldnames or []}
    email_column = csv_rules._column(columns, csv_rules.EMAIL_COLUMNS)
    if email_column is None:
        raise csv_rules.RecipientsError(_("{path}: no 'email' column in the header line ({header}); the file needs "
                                          "at least: email;name;unsubscribed").format(
                                            path=path, header=delimiter.join(columns)))
    name_column = csv_rules._column(columns, csv_rules.NAME_COLUMNS)
    gone_column = csv_rules._column(columns, csv_rules.UNSUBSCRIBED_COLUMNS)
    extra_columns = [c for folded, c in columns.items() if folded and folded not in OWN_COLUMNS]
    seen: dict[str, int] = {}  # each address's key -> the line that gave it first (the row kept)
    try:
        for row in reader:
            raw = (row.get(email_column) or "").strip()
            if not raw and not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue
            try:
                email = check_address(raw)
            except ValueError as exc:
                report.invalid.append(Rejected(reader.line_num, raw, str(exc)))
                continue
            if key_of(email) in seen:
                report.merged.append((reader.line_num, seen[key_of(email)], email))
                continue
            seen[key_of(email)] = reader.line_num
            left = bool(gone_column) and (row.get(gone_column) or "").strip().casefold() not in \
                csv_rules.SUBSCRIBED_VALUES
            extra = {c.strip(): csv_rules._name(row.get(c))[:MAX_FIELD] for c in extra_columns if row.get(c)}
            yield reader.line_num, email, csv_rules._name(row.get(name_column) if name_column else None), left, extra
    except csv.Error as exc:
        raise csv_rules.RecipientsError(_("{path}, line {line_num}: {exc}; fix the line and import again").format(
                                            path=path, line_num=reader.line_num, exc=exc)) \
            from None


@dataclass(frozen=True)
class SendList:
    """Who a list send goes to: the list read (a CSV's, or the store's subscribed addresses), those of it left
    out because the store has them unsubscribed, bounced or complained, and how to ask who left meanwhile."""

    found: csv_rules.Subscribers
    from_store: bool
    left_out: int = 0
    gone: Callable[[], set[str]] | None = None


def recipients_for_list(store_path: Path, csv_path: Path | None, members: Members | None = None) -> SendList:
    """The recipients of a list send: the CSV's, else the store's; whatever the list, the store has the last word.
    Each is marked with the member authority they belong to (the list's or store's mark, else `members`' domains)."""
    chosen = _recipients_for_list(store_path, csv_path)
    if members is None or not members.by_domain:
        return chosen
    marked = tuple(r if r.member else replace(r, member=members.member_of(r.email)) for r in chosen.found.recipients)
    return replace(chosen, found=replace(chosen.found, recipients=marked))


def _recipients_for_list(store_path: Path, csv_path: Path | None) -> SendList:
    if csv_path is None:
        if not store_path.is_file():
            raise DigestError(_("no subscriber store at {store_path}: fill it with `digest subscribers import "
                                "FILE.csv`, or give the file: --list FILE.csv").format(store_path=store_path))
        with Subscribers(store_path) as store:
            found = csv_rules.Subscribers(store_path, tuple(store.subscribed()), store.counts()["unsubscribed"],
                                          (), 0)
    else:
        found = csv_rules.read(csv_path)
    if not store_path.is_file():
        return SendList(found, csv_path is None)

    def gone() -> set[str]:
        with Subscribers(store_path) as store:
            return store.gone()

    left = gone()
    kept = tuple(r for r in found.recipients if r.key not in left)
    return SendList(replace(found, recipients=kept), csv_path is None, len(found.recipients) - len(kept), gone)
