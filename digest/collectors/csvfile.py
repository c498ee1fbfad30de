"""CSV files kept in a spreadsheet: UTF-8 with or without BOM, ';' or ',' between fields."""

from __future__ import annotations

import csv
import io

from digest.collectors.base import Context, Fetched
from digest.collectors.records import collect_records, unknown_columns
from digest.config import SourceConfig
from digest.errors import SourceError
from digest.i18n import _
from digest.model import Collected, Problem


def collect(source: SourceConfig, fetched: Fetched, ctx: Context) -> Collected:
    """Every row of the CSV as an Item; rows that cannot be read are warnings naming their line."""
    text, encoding_problem = _decoded(fetched.body, source)
    header = text.split("\n", 1)[0]
    if not header.strip():
        raise SourceError(_("the file is empty; it needs a header line such as title;url;date;summary"))
    delimiter = ";" if header.count(";") > header.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, restkey="\x00extra")
    columns = reader.fieldnames or []
    if "title" not in [c.strip().lower() for c in columns]:
        raise SourceError(_("no 'title' column in the header line ({header})").format(header=delimiter.join(columns)))
    rows = []
    unread = _("column '{column}' is not one digest reads; ignored")
    problems = [*encoding_problem, *(Problem(source.name, unread.format(column=c)) for c in unknown_columns(columns))]
    try:
        for row in reader:
            where = f"line {reader.line_num}"
            if "\x00extra" in row:
                problems.append(Problem(source.name, _("{where}: more fields than the header has; row skipped").format(
                                                         where=where)))
                continue
            if any(v is not None and v.strip() for v in row.values()):
                rows.append((where, row))
    except csv.Error as exc:
        problems.append(Problem(source.name, _("line {line_num}: {exc}; the rest of the file is skipped").format(
                                                 line_num=reader.line_num, exc=exc)))
    collected = collect_records(rows, source, ctx)
    return Collected(source.name, collected.items, (*problems, *collected.problems))


def _decoded(body: bytes, source: SourceConfig) -> tuple[str, list[Problem]]:
    """The file's text: UTF-8, else Windows-1252 (what Excel in French saves as "CSV (séparateur : point-virgule)"),
    read with a warning that says how to save it as UTF-8."""
    try:
        return body.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        text = body.decode("cp1252")
    except UnicodeDecodeError:
        raise SourceError(_("not UTF-8 (byte {start}); save the file as 'CSV UTF-8'").format(
            start=utf8_error.start)) from None
    return text, [Problem(source.name, _("not UTF-8: read as Windows-1252, as Excel saves « CSV (séparateur : "
                                         "point-virgule) »; to be sure of every accent, save it in Excel as « CSV "
                                         "UTF-8 (délimité par des virgules) »"))]
