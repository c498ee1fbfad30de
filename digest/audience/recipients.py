"""Read the subscribers CSV: who gets the letter, who unsubscribed, which addresses cannot be used. Pure."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from digest.errors import DigestError
from digest.i18n import _

EMAIL_COLUMNS = ("email", "e-mail", "mail", "courriel", "adresse")
NAME_COLUMNS = ("name", "nom", "prenom", "prénom", "first_name", "firstname")
UNSUBSCRIBED_COLUMNS = ("unsubscribed", "desinscrit", "désinscrit", "unsubscribed_at")
MEMBER_COLUMNS = ("adherent", "adhérent", "member")  # the member authority the team says the address belongs to
# Values of the unsubscribed column that mean "still subscribed"; anything else (yes, oui, 1, a date) means gone.
SUBSCRIBED_VALUES = {"", "0", "no", "non", "n", "false", "faux"}


class RecipientsError(DigestError):
    """The subscribers file cannot be used at all (missing, not UTF-8, no email column)."""


@dataclass(frozen=True)
class Recipient:
    """One address to send to; `key` identifies it in the send journal (case-insensitive)."""

    email: str
    name: str = ""
    member: str = ""  # the member authority they belong to (the team's word, or the members file's)

    @property
    def key(self) -> str:
        """The address folded to lower case: the same mailbox written twice is one recipient."""
        return key_of(self.email)


def key_of(email: str) -> str:
    """How the journals and the subscriber store name an address: trimmed and folded to lower case."""
    return email.strip().casefold()


@dataclass(frozen=True)
class Rejected:
    """A row that is not sent to, and why, with its line in the file."""

    line: int
    email: str
    reason: str


@dataclass(frozen=True)
class Subscribers:
    """What the file holds: those to send to, those unsubscribed, invalid rows and duplicates."""

    path: Path
    recipients: tuple[Recipient, ...]
    unsubscribed: int
    invalid: tuple[Rejected, ...]
    duplicates: int


def check_address(address: str) -> str:
    """The address normalised (domain lower-cased, IDN as ASCII); ValueError with the reason if unusable.

    Syntax only: no DNS query, so a check never waits on the network.
    """
    from email_validator import EmailNotValidError, validate_email  # loaded only to check addresses

    try:
        checked = validate_email(address.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    return checked.ascii_email or checked.normalized


def read(path: Path) -> Subscribers:
    """Read the subscribers CSV (UTF-8, with or without BOM; ';' or ',' between fields)."""
    text = _text(path)
    header = text.split("\n", 1)[0]
    delimiter = ";" if header.count(";") > header.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns = {(c or "").strip().casefold(): c for c in reader.fieldnames or []}
    email_column = _column(columns, EMAIL_COLUMNS)
    if email_column is None:
        raise RecipientsError(_("{path}: no 'email' column in the header line ({header}); the file needs at least: "
                                "email;name;unsubscribed").format(path=path, header=delimiter.join(columns)))
    name_column = _column(columns, NAME_COLUMNS)
    gone_column = _column(columns, UNSUBSCRIBED_COLUMNS)
    member_column = _column(columns, MEMBER_COLUMNS)
    recipients: dict[str, Recipient] = {}
    invalid: list[Rejected] = []
    unsubscribed = duplicates = 0
    try:
        for row in reader:
            raw = (row.get(email_column) or "").strip()
            if not raw and not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue  # a blank line
            if gone_column and (row.get(gone_column) or "").strip().casefold() not in SUBSCRIBED_VALUES:
                unsubscribed += 1
                continue
            try:
                recipient = Recipient(check_address(raw), _name(row.get(name_column) if name_column else None),
                                      _name(row.get(member_column) if member_column else None))
            except ValueError as exc:
                invalid.append(Rejected(reader.line_num, raw, str(exc)))
                continue
            if recipient.key in recipients:
                duplicates += 1
                continue
            recipients[recipient.key] = recipient
    except csv.Error as exc:
        raise RecipientsError(_("{path}, line {line_num}: {exc}; fix the line and send again").format(
                                  path=path, line_num=reader.line_num, exc=exc)) from None
    return Subscribers(path, tuple(recipients.values()), unsubscribed, tuple(invalid), duplicates)


def _text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise RecipientsError(_("{path}: file not found; pass the subscribers with --list PATH").format(
            path=path)) from None
    except UnicodeDecodeError as exc:
        raise RecipientsError(_("{path}: not UTF-8 (byte {start}); save the file as 'CSV UTF-8'").format(
                                  path=path, start=exc.start)) from None
    except OSError as exc:
        raise RecipientsError(_("{path}: cannot read: {exc}").format(path=path, exc=exc)) from None


def _column(columns: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((columns[n] for n in names if n in columns), None)


def _name(value: str | None) -> str:
    """A greeting name: whitespace folded, control characters (a header-injection risk) dropped."""
    if not value:
        return ""
    return " ".join("".join(ch for ch in value if ch.isprintable()).split())[:80]
