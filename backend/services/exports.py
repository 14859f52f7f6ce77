"""Exports of tickets: the exported ticket record (docs/schema/ticket-record.v1.json), and CSV / XLSX / JSON Lines
streams produced in batches so memory stays flat whatever the number of rows.

Contact details (the citizen's name and phone) are in a record only when asked for (``contacts=True``); the routes
allow that to admins only and audit it. Phone numbers and e-mail addresses inside the citizen's text are masked
unless contacts were asked for.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from backend.db.models import Citizen, Official, OrgUnit, Ticket
from backend.services.tickets import resolve_scope, scope_clause

SCHEMA_VERSION = "1"
SCHEMA_ID = "https://gopy.mattran.vn/schema/ticket-record.v1.json"
BATCH = 2000
XLSX_COMPRESSION = 6  # zlib level of the XLSX zip
SessionScope = Callable[[], AbstractContextManager[Session]]

# Vietnamese phone numbers (0xx / +84 / 84, with spaces, dots or dashes) and e-mail addresses.
PHONE = re.compile(r"(?<![\w])(?:\+?84|0)(?:[\s.\-]?\d){8,10}(?!\w)")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# "ông Nguyễn Văn A", "chị Lan", "tôi tên là Trần Thị B": an honorific or an introduction and capitalised words.
_UPPER = "A-ZÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬĐÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴ"
_WORD = rf"[{_UPPER}][\w]*"
NAME = re.compile(
    rf"(?P<lead>\b(?:[Ôô]ng|[Bb]à|[Aa]nh|[Cc]hị|[Cc]ô|[Cc]hú|[Bb]ác|[Ee]m|[Cc]háu|[Tt]ên(?: tôi)?(?: là)?|"
    rf"[Tt]ôi là|[Tt]ôi tên(?: là)?)\s+)(?P<name>{_WORD}(?:\s+{_WORD}){{0,3}})"
)

# Columns of the flat record, in export order (CSV header, XLSX header, JSON keys).
COLUMNS: list[tuple[str, str]] = [
    ("schema_version", "Phiên bản lược đồ"),
    ("code", "Mã phản ánh"),
    ("created_at", "Thời điểm nhận (UTC)"),
    ("updated_at", "Cập nhật lần cuối (UTC)"),
    ("channel", "Kênh"),
    ("status", "Trạng thái"),
    ("intent", "Ý định"),
    ("category", "Lĩnh vực"),
    ("urgent", "Khẩn cấp"),
    ("anonymous", "Ẩn danh"),
    ("unit_code", "Mã đơn vị xử lý"),
    ("unit_name", "Đơn vị xử lý"),
    ("unit_level", "Cấp"),
    ("province_code", "Mã tỉnh"),
    ("commune_code", "Mã xã"),
    ("location_text", "Địa điểm"),
    ("text", "Nội dung"),
    ("routing_rule", "Quy tắc phân công"),
    ("accept_deadline", "Hạn tiếp nhận (UTC)"),
    ("deadline", "Hạn trả lời (UTC)"),
    ("overdue", "Quá hạn"),
    ("escalated_to", "Chuyển lên"),
    ("rating", "Đánh giá (1-5)"),
    ("contact_name", "Họ tên người gửi"),
    ("contact_phone", "Điện thoại người gửi"),
]
KEYS = [key for key, _ in COLUMNS]
CONTACT_KEYS = ("contact_name", "contact_phone")


def mask_personal(text: str) -> str:
    """The text with phone numbers, e-mail addresses and introduced names replaced by placeholders."""
    text = EMAIL.sub("[email]", text)
    text = PHONE.sub("[số điện thoại]", text)
    return NAME.sub(lambda m: m.group("lead") + "[họ tên]", text)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def ticket_record(ticket: Ticket, contacts: bool = False) -> dict[str, Any]:
    """The exported record of one ticket (version 1 of the common data framework)."""
    citizen = ticket.citizen if contacts and not ticket.anonymous else None
    return _record(
        ticket,
        ticket.unit.name,
        ticket.unit.level,
        citizen.display_name if citizen else None,
        citizen.phone if citizen else None,
        contacts,
    )


def _record(
    ticket: Any,
    unit_name: str,
    unit_level: str,
    citizen_name: str | None,
    citizen_phone: str | None,
    contacts: bool,
) -> dict[str, Any]:
    """The record of a ticket read either as a :class:`Ticket` or as a row of :data:`_EXPORT_COLUMNS`."""
    show_contact = contacts and not ticket.anonymous and ticket.personal_data_erased_at is None
    location = ticket.location_text
    return {
        "schema_version": SCHEMA_VERSION,
        "code": ticket.code,
        "created_at": _iso(ticket.created_at),
        "updated_at": _iso(ticket.updated_at),
        "channel": ticket.channel,
        "status": ticket.status,
        "intent": ticket.intent,
        "category": ticket.category,
        "urgent": bool(ticket.urgent),
        "anonymous": bool(ticket.anonymous),
        "unit_code": ticket.unit_code,
        "unit_name": unit_name,
        "unit_level": unit_level,
        "province_code": ticket.province_code,
        "commune_code": ticket.commune_code,
        "location_text": location if contacts or not location else mask_personal(location),
        "text": ticket.text if contacts else mask_personal(ticket.text or ""),
        "routing_rule": ticket.routing_rule or None,
        "accept_deadline": _iso(ticket.accept_deadline),
        "deadline": _iso(ticket.deadline),
        "overdue": bool(ticket.overdue),
        "escalated_to": ticket.escalated_to,
        "rating": ticket.rating,
        "contact_name": citizen_name if show_contact else None,
        "contact_phone": (ticket.phone or citizen_phone) if show_contact else None,
    }


@dataclass(frozen=True)
class ExportFilter:
    """The filters of ``GET /api/tickets``, applied to an export the same way."""

    status: str | None = None


# Only the columns a record needs (not the NLU JSON, attachments or search key of every ticket).
_EXPORT_COLUMNS = (
    Ticket.id,
    Ticket.code,
    Ticket.created_at,
    Ticket.updated_at,
    Ticket.channel,
    Ticket.status,
    Ticket.intent,
    Ticket.category,
    Ticket.urgent,
    Ticket.anonymous,
    Ticket.unit_code,
    Ticket.province_code,
    Ticket.commune_code,
    Ticket.location_text,
    Ticket.text,
    Ticket.routing_rule,
    Ticket.accept_deadline,
    Ticket.deadline,
    Ticket.overdue,
    Ticket.escalated_to,
    Ticket.rating,
    Ticket.phone,
    Ticket.personal_data_erased_at,
)


def _units(session: Session) -> dict[str, tuple[str, str]]:
    """Name and level of every unit by code (a few thousand), read once per export instead of joined per row."""
    rows = session.execute(select(OrgUnit.code, OrgUnit.name, OrgUnit.level))
    return {code: (name, level) for code, name, level in rows}


def iter_records(
    scope: SessionScope, official_id: int, filters: ExportFilter, contacts: bool = False, batch: int = BATCH
) -> Iterator[dict[str, Any]]:
    """Every record the official may see (the scope of ``GET /api/tickets``), newest first, read ``batch`` rows at
    a time: keyset pagination on (created_at, id), each batch in its own short session so that no connection is
    held while the client downloads."""
    with scope() as session:
        official = session.get(Official, official_id)
        if official is None:
            return
        query = select(*_EXPORT_COLUMNS).where(scope_clause(resolve_scope(session, official)))
        units = _units(session)
    if contacts:
        query = query.add_columns(
            Citizen.display_name.label("citizen_name"), Citizen.phone.label("citizen_phone")
        ).outerjoin(Citizen, Citizen.id == Ticket.citizen_id)
    if filters.status:
        query = query.where(Ticket.status == filters.status)
    query = query.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(batch)
    after: tuple[datetime, int] | None = None
    while True:
        with scope() as session:
            page = query if after is None else query.where(tuple_(Ticket.created_at, Ticket.id) < after)
            rows = session.execute(page).all()
            if any(row.unit_code not in units for row in rows):  # a unit created during the export
                units = _units(session)
        records = [
            _record(
                row,
                *units[row.unit_code],
                row.citizen_name if contacts else None,
                row.citizen_phone if contacts else None,
                contacts,
            )
            for row in rows
        ]
        if rows:
            after = (rows[-1].created_at, rows[-1].id)
        yield from records
        if len(rows) < batch:
            return


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "có" if value else "không"
    return "" if value is None else value


def csv_chunks(records: Iterator[dict[str, Any]], contacts: bool, rows_per_chunk: int = 200) -> Iterator[bytes]:
    """CSV in UTF-8 with a byte-order mark (Excel then shows Vietnamese correctly), Vietnamese column titles."""
    keys = [k for k in KEYS if contacts or k not in CONTACT_KEYS]
    titles = dict(COLUMNS)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([titles[k] for k in keys])
    yield "\ufeff".encode() + buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    for count, record in enumerate(records, start=1):
        writer.writerow([_cell(record[k]) for k in keys])
        if count % rows_per_chunk == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def jsonl_chunks(records: Iterator[dict[str, Any]], contacts: bool) -> Iterator[bytes]:
    """One JSON record per line (JSON Lines), each valid against docs/schema/ticket-record.v1.json."""
    for record in records:
        if not contacts:
            record = {k: v for k, v in record.items() if k not in CONTACT_KEYS}
        yield (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")


# The XLSX workbook is written by hand, straight into a zip stream: one worksheet of inline strings (no shared-string
# table to hold in memory), the header in bold and frozen. openpyxl spent ~20 µs per cell (2.3 million cells in a
# 100,000-row export) and could only hand the file over once it was complete.
XLSX_MAX_ROWS = 1_048_576  # rows in an Excel worksheet; a longer export continues in the next sheet
XLSX_MAX_CHARS = 32_767  # characters (UTF-16 units) in an Excel cell
# A worksheet's XML stays below 2 GiB, the size of a zip entry without ZIP64 extensions (which older readers lack);
# the margin covers the rows buffered between two checks.
XLSX_SHEET_BYTES = 2**31 - 2**28
SHEET_TITLE = "Phản ánh"
_WIDTHS = {"text": 80, "unit_name": 30, "location_text": 30}  # as in the periodic reports' ticket list
# Characters XML 1.0 cannot carry (control characters, lone surrogates, U+FFFE/U+FFFF) and those to escape.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_XML_SPECIAL = re.compile("[&<>\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_STYLES = (
    f'{_XML_DECL}<styleSheet xmlns="{_NS_MAIN}">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    '</fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)


def _xml_text(value: str) -> str:
    """``value`` as XML character data: escaped, without the characters XML cannot carry, cut to Excel's limit."""
    if len(value) > XLSX_MAX_CHARS // 2 and len(value.encode("utf-16-le")) > 2 * XLSX_MAX_CHARS:
        # Excel counts UTF-16 units (an emoji is two): cut there, never inside a pair, and show the cut
        value = value.encode("utf-16-le")[: 2 * (XLSX_MAX_CHARS - 1)].decode("utf-16-le", errors="ignore") + "…"
    if _XML_SPECIAL.search(value) is None:
        return value
    value = _XML_ILLEGAL.sub("", value)
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _column_letters(count: int) -> list[str]:
    letters = []
    for index in range(1, count + 1):
        name = ""
        while index:
            index, rest = divmod(index - 1, 26)
            name = chr(65 + rest) + name
        letters.append(name)
    return letters


def _sheet_name(number: int) -> str:
    return SHEET_TITLE if number == 1 else f"{SHEET_TITLE} ({number})"


def _package_parts(sheets: int) -> dict[str, str]:
    """The parts of the workbook besides its worksheets (written last: they depend on the number of sheets)."""
    worksheet = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{worksheet}"/>' for n in range(1, sheets + 1)
    )
    sheet_list = "".join(
        f'<sheet name="{_xml_text(_sheet_name(n))}" sheetId="{n}" r:id="rId{n}"/>' for n in range(1, sheets + 1)
    )
    rel = f"{_NS_REL}/"
    sheet_rels = "".join(
        f'<Relationship Id="rId{n}" Type="{rel}worksheet" Target="worksheets/sheet{n}.xml"/>'
        for n in range(1, sheets + 1)
    )
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "[Content_Types].xml": (
            f'{_XML_DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            f"{overrides}"
            '<Override PartName="/xl/styles.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            '<Override PartName="/docProps/core.xml" '
            'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
            '<Override PartName="/docProps/app.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'{_XML_DECL}<Relationships xmlns="{_NS_PKG_REL}">'
            f'<Relationship Id="rId1" Type="{rel}officeDocument" Target="xl/workbook.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/'
            'core-properties" Target="docProps/core.xml"/>'
            f'<Relationship Id="rId3" Type="{rel}extended-properties" Target="docProps/app.xml"/></Relationships>'
        ),
        "docProps/core.xml": (
            f"{_XML_DECL}<cp:coreProperties "
            'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            "<dc:title>Danh sách phản ánh, kiến nghị</dc:title><dc:creator>gopy</dc:creator>"
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified></cp:coreProperties>'
        ),
        "docProps/app.xml": (
            f"{_XML_DECL}<Properties "
            'xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
            "<Application>gopy</Application></Properties>"
        ),
        "xl/workbook.xml": (
            f'{_XML_DECL}<workbook xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">'
            f"<bookViews><workbookView/></bookViews><sheets>{sheet_list}</sheets></workbook>"
        ),
        "xl/_rels/workbook.xml.rels": (
            f'{_XML_DECL}<Relationships xmlns="{_NS_PKG_REL}">{sheet_rels}'
            f'<Relationship Id="rId{sheets + 1}" Type="{rel}styles" Target="styles.xml"/></Relationships>'
        ),
        "xl/styles.xml": _STYLES,
    }


class _Sink:
    """A write-only file for :class:`zipfile.ZipFile`: it keeps what was written until taken (no seek, so the zip
    is written as a stream, each entry followed by its sizes)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes, /) -> int:
        self.parts.append(bytes(data))
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        self.size = 0
        return data


def xlsx_chunks(records: Iterator[dict[str, Any]], contacts: bool, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """An XLSX workbook streamed as it is written (see :func:`xlsx_stream`), with Excel's row limit per sheet."""
    return xlsx_stream(records, contacts, chunk, XLSX_MAX_ROWS)


def xlsx_stream(
    records: Iterator[dict[str, Any]],
    contacts: bool,
    chunk: int,
    rows_per_sheet: int,
    bytes_per_sheet: int = XLSX_SHEET_BYTES,
) -> Iterator[bytes]:
    """An XLSX workbook streamed as it is written: the sheet "Phản ánh" with the Vietnamese column titles in bold
    and one row per record (booleans read "có"/"không", ratings are numbers). Memory stays flat: rows go through
    the zip compressor ``chunk`` bytes at a time. Beyond ``rows_per_sheet`` rows (header included) or
    ``bytes_per_sheet`` bytes of XML the list continues in a new sheet "Phản ánh (2)" with the same header."""
    keys = [k for k in KEYS if contacts or k not in CONTACT_KEYS]
    titles = dict(COLUMNS)
    letters = _column_letters(len(keys))
    cols = "".join(
        f'<col min="{i}" max="{i}" width="{_WIDTHS.get(key, 14)}" customWidth="1"/>' for i, key in enumerate(keys, 1)
    )
    sheet_head = (
        f'{_XML_DECL}<worksheet xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}"><sheetViews><sheetView workbookViewId="0">'
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
        f'<sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols><sheetData>'
        '<row r="1">'
        + "".join(
            f'<c r="{letter}1" s="1" t="inlineStr"><is><t>{_xml_text(titles[key])}</t></is></c>'
            for letter, key in zip(letters, keys, strict=True)
        )
        + "</row>"
    )
    sheet_tail = "</sheetData></worksheet>"
    # the start of each cell's tag: '<c r="B' then the row number
    starts = [f'<c r="{letter}' for letter in letters]
    yes, no = "có", "không"

    sink = _Sink()
    archive = zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=XLSX_COMPRESSION)
    sheets = 0
    entry: IO[bytes] | None = None
    number = rows_per_sheet  # the row number within the current sheet
    pending: list[str] = []
    pending_size = 0
    written = 0  # bytes of the current sheet's XML given to the compressor
    for record in records:
        if number >= rows_per_sheet or written >= bytes_per_sheet:
            if entry is not None:
                entry.write(("".join(pending) + sheet_tail).encode())
                pending, pending_size = [], 0
                entry.close()
            written = 0
            sheets += 1
            entry = archive.open(f"xl/worksheets/sheet{sheets}.xml", "w")
            pending.append(sheet_head)
            number = 1
        number += 1
        n = str(number)
        cells = [f'<row r="{n}">']
        for start, key in zip(starts, keys, strict=True):
            value = record[key]
            if value is None or value == "":  # an empty cell all the same: every row as wide as the header
                cells.append(f'{start}{n}"/>')
            elif value.__class__ is str:
                text = _xml_text(value)
                space = ' xml:space="preserve"' if text[0].isspace() or text[-1].isspace() else ""
                cells.append(f'{start}{n}" t="inlineStr"><is><t{space}>{text}</t></is></c>')
            elif value is True or value is False:
                cells.append(f'{start}{n}" t="inlineStr"><is><t>{yes if value else no}</t></is></c>')
            else:  # a number (the rating)
                cells.append(f'{start}{n}"><v>{value}</v></c>')
        cells.append("</row>")
        row = "".join(cells)
        pending.append(row)
        pending_size += len(row)
        if pending_size >= chunk:
            assert entry is not None
            data = "".join(pending).encode()
            entry.write(data)
            written += len(data)
            pending, pending_size = [], 0
            if sink.size >= chunk:
                yield sink.take()
    if entry is None:  # no record: the header alone
        sheets = 1
        entry = archive.open("xl/worksheets/sheet1.xml", "w")
        pending.append(sheet_head)
    entry.write(("".join(pending) + sheet_tail).encode())
    entry.close()
    for name, content in _package_parts(sheets).items():
        archive.writestr(name, content)
    archive.close()
    yield sink.take()
