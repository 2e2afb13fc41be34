"""The ERP's stock feed as it arrives: an uploaded CSV file (any of the ERP's column names, comma, semicolon or tab,
UTF-8, Windows-1252 or UTF-16) or the API's JSON list, read into ImportRows with the problems of their shape.
Setting the levels from them is bulk_import.import_on_hand."""

import csv
import io
import re
from dataclasses import dataclass, field

from flask_babel import format_decimal
from flask_babel import gettext as _

from omnistore.core.errors import DomainError, ValidationFailed

MAX_IMPORT_ROWS = 200_000  # per import, whether a file or the API's list
MAX_IMPORT_BYTES = 20 * 1024 * 1024


class TooManyRows(DomainError):
    code = "too_many_rows"
    status = 413


@dataclass(frozen=True)
class RowProblem:
    field: str | None  # "sku", "location", "on_hand"; None for the row as a whole
    code: str  # required | not_a_number | not_a_whole_number | negative | too_large | too_long | invalid_type |
    #            unknown_field | missing_column | too_many_columns | duplicate | unknown_sku | unknown_location |
    #            out_of_scope | below_allocated | conflict
    message: str

    def as_dict(self):
        return {"field": self.field, "code": self.code, "message": self.message}


@dataclass(eq=False)
class ImportRow:
    """One row as received: `line` is its line in the file (CSV) or its position in the list (API)."""

    line: int
    sku: object = None
    location: object = None
    on_hand: object = None
    zone: object = None  # optional: where the variant sits in the location (stock/zones.py); None = unchanged
    problems: list = field(default_factory=list)
    empty: bool = False  # a blank line in a file: skipped, not an error


IMPORT_ROW_KEYS = ("sku", "location", "on_hand")
OPTIONAL_ROW_KEYS = ("zone",)  # a row without it leaves the level's zone as it is

# --- reading the ERP's files and the API's lists -----------------------------------------------------

COLUMN_NAMES = {
    "sku": ("sku", "artikelnummer", "artikel", "varenummer", "varenr"),
    "location": ("location", "location_code", "store", "store_code", "filiale", "standort", "butik", "lokation"),
    "on_hand": ("on_hand", "onhand", "quantity", "qty", "bestand", "menge", "antal", "beholdning"),
}
OPTIONAL_COLUMN_NAMES = {"zone": ("zone", "zone_code", "bereich", "lagerplatz", "lagerzone", "område", "placering")}
_KNOWN_HEADERS = {name: column for column, names in (COLUMN_NAMES | OPTIONAL_COLUMN_NAMES).items() for name in names}


def _header_key(cell):
    return re.sub(r"[\s\-]+", "_", cell.strip().strip('"').lower())


def _decode(data):
    if data[:4] == b"PK\x03\x04" or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ValidationFailed(
            _("That is an Excel workbook, not a CSV file."),
            {"file": _("In Excel, choose File → Save as → “CSV UTF-8 (comma delimited)” and upload that file.")},
        )
    encoding = "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        decoded = data.decode(encoding)
    except UnicodeDecodeError:
        try:
            decoded = data.decode("cp1252")  # Excel's plain "CSV" on Windows in Germany and Denmark
        except UnicodeDecodeError:
            raise ValidationFailed(
                _("The file could not be read as text."), {"file": _("Save it as “CSV UTF-8” and upload it again.")}
            ) from None
    if "\x00" in decoded:
        raise ValidationFailed(
            _("The file could not be read as text."),
            {"file": _("It contains binary data. Save it as “CSV UTF-8” and upload it again.")},
        )
    return decoded


def _delimiter(first_line):
    counts = {delimiter: first_line.count(delimiter) for delimiter in (";", ",", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def read_csv(data: bytes) -> list[ImportRow]:
    """The rows of an uploaded CSV file (sku, location, on_hand), numbered by their line in the file.

    Accepts a header row (any column order; extra columns are ignored) or none (then the three columns in
    that order), commas or semicolons (Excel in Germany and Denmark) or tabs, UTF-8 with or without BOM
    (and Excel's Windows-1252 or UTF-16). Blank lines are skipped. Raises ValidationFailed (field "file")
    when the file as a whole cannot be used, TooManyRows beyond MAX_IMPORT_ROWS.
    """
    if not data or not data.strip():
        raise ValidationFailed(_("The file is empty."), {"file": _("The file is empty.")})
    if len(data) > MAX_IMPORT_BYTES:
        raise TooManyRows(_("The file is larger than %(mb)d MB. Split it.", mb=MAX_IMPORT_BYTES // 2**20))
    decoded = _decode(data)
    first = next((line for line in decoded.splitlines() if line.strip()), "")
    reader = csv.reader(io.StringIO(decoded, newline=""), delimiter=_delimiter(first), strict=True)
    rows, columns, line = [], None, 1
    try:
        for cells in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                rows.append(ImportRow(start, empty=True))
                continue
            if columns is None:
                columns = _columns(cells)
                if columns is not None:
                    continue  # the header row
                columns = {"sku": 0, "location": 1, "on_hand": 2, None: 3}  # None: no header
            rows.append(_csv_row(start, cells, columns))
            if len(rows) > MAX_IMPORT_ROWS:
                raise TooManyRows(
                    _("At most %(max)s rows per import. Split the file.", max=format_decimal(MAX_IMPORT_ROWS)),
                    limit=MAX_IMPORT_ROWS,
                )
    except csv.Error as error:
        raise ValidationFailed(
            _("Line %(line)d of the file could not be read (%(error)s).", line=line, error=str(error)),
            {"file": _("Line %(line)d: check its quotes.", line=line)},
        ) from None
    if not any(not row.empty for row in rows):
        raise ValidationFailed(
            _("The file holds no rows to import."),
            {"file": _("Expected one row per SKU and location: sku, location, on_hand.")},
        )
    return rows


def _columns(cells):
    """Column positions from a header row, or None when the row is data. A header must name all three."""
    keys = [_header_key(cell) for cell in cells]
    found = {}
    for position, key in enumerate(keys):
        column = _KNOWN_HEADERS.get(key)
        if column is not None and column not in found:
            found[column] = position
    if not found:
        return None
    missing = [column for column in COLUMN_NAMES if column not in found]
    if missing:
        raise ValidationFailed(
            _("The header row lacks a column."),
            {
                "file": _(
                    "The first line names the columns but lacks %(missing)s. Expected: sku, location, on_hand.",
                    missing=", ".join(missing),
                )
            },
        )
    return found


def _csv_row(line, cells, columns):
    row = ImportRow(line)
    positional = None in columns
    needed = max(columns[name] for name in IMPORT_ROW_KEYS) + 1
    filled = len([cell for cell in cells if cell.strip()])
    if len(cells) < needed:
        row.problems.append(
            RowProblem(
                None,
                "missing_column",
                _(
                    "Expected %(expected)d values (sku, location, on_hand), found %(found)d.",
                    expected=needed,
                    found=filled,
                ),
            )
        )
    elif positional and any(cell.strip() for cell in cells[3:]):
        row.problems.append(
            RowProblem(
                None,
                "too_many_columns",
                _("Expected 3 values (sku, location, on_hand), found %(found)d.", found=filled),
            )
        )
    else:
        row.sku, row.location, row.on_hand = (cells[columns[name]] for name in IMPORT_ROW_KEYS)
        if "zone" in columns:
            row.zone = cells[columns["zone"]] if columns["zone"] < len(cells) else ""
    return row


def rows_from_json(items) -> list[ImportRow]:
    """The API's list of {sku, location, on_hand} objects as ImportRows numbered by position (from 0)."""
    if not isinstance(items, list):
        raise ValidationFailed(
            _('Send an object with a list of rows: {"stock": [{"sku": …, "location": …, "on_hand": …}]}.'),
            {"stock": _("Must be a list.")},
        )
    if len(items) > MAX_IMPORT_ROWS:
        raise TooManyRows(
            _(
                "At most %(max)s rows per request, this one has %(rows)s; send several requests.",
                max=format_decimal(MAX_IMPORT_ROWS),
                rows=format_decimal(len(items)),
            ),
            limit=MAX_IMPORT_ROWS,
        )
    rows = []
    for index, item in enumerate(items):
        row = ImportRow(index)
        rows.append(row)
        if not isinstance(item, dict):
            row.problems.append(RowProblem(None, "invalid_type", _("Each row must be a JSON object.")))
            continue
        for key in item:
            if key not in IMPORT_ROW_KEYS + OPTIONAL_ROW_KEYS:
                row.problems.append(
                    RowProblem(
                        str(key)[:40],
                        "unknown_field",
                        _("Unknown field %(key)s; allowed: sku, location, on_hand, zone.", key=repr(str(key)[:40])),
                    )
                )
        row.sku, row.location, row.on_hand = item.get("sku"), item.get("location"), item.get("on_hand")
        row.zone = item.get("zone")
        if row.on_hand is not None and type(row.on_hand) is not int:  # bool, float and "5" are refused
            row.problems.append(
                RowProblem(
                    "on_hand",
                    "invalid_type",
                    _("on_hand must be a whole number (a JSON integer, not text or a decimal)."),
                )
            )
    return rows
