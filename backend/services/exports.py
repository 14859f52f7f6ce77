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
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from backend.db.models import Official, Ticket
from backend.services.tickets import visible_to

SCHEMA_VERSION = "1"
SCHEMA_ID = "https://gopy.mattran.vn/schema/ticket-record.v1.json"
BATCH = 500
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
    erased = ticket.personal_data_erased_at is not None
    show_contact = contacts and not ticket.anonymous and not erased
    citizen = ticket.citizen
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
        "unit_name": ticket.unit.name,
        "unit_level": ticket.unit.level,
        "province_code": ticket.province_code,
        "commune_code": ticket.commune_code,
        "location_text": ticket.location_text
        if contacts or not ticket.location_text
        else mask_personal(ticket.location_text),
        "text": ticket.text if contacts else mask_personal(ticket.text or ""),
        "routing_rule": ticket.routing_rule or None,
        "accept_deadline": _iso(ticket.accept_deadline),
        "deadline": _iso(ticket.deadline),
        "overdue": bool(ticket.overdue),
        "escalated_to": ticket.escalated_to,
        "rating": ticket.rating,
        "contact_name": (citizen.display_name if citizen else None) if show_contact else None,
        "contact_phone": (ticket.phone or (citizen.phone if citizen else None)) if show_contact else None,
    }


@dataclass(frozen=True)
class ExportFilter:
    """The filters of ``GET /api/tickets``, applied to an export the same way."""

    status: str | None = None


def iter_records(
    scope: SessionScope, official_id: int, filters: ExportFilter, contacts: bool = False, batch: int = BATCH
) -> Iterator[dict[str, Any]]:
    """Every record the official may see, newest first, read ``batch`` rows at a time (keyset pagination)."""
    after: tuple[datetime, int] | None = None
    while True:
        with scope() as session:
            official = session.get(Official, official_id)
            if official is None:
                return
            query = select(Ticket).where(visible_to(official))
            if filters.status:
                query = query.where(Ticket.status == filters.status)
            if after is not None:
                created, ident = after
                query = query.where(
                    or_(Ticket.created_at < created, and_(Ticket.created_at == created, Ticket.id < ident))
                )
            rows = list(
                session.scalars(query.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(batch)).unique()
            )
            records = [ticket_record(t, contacts) for t in rows]
            after = (rows[-1].created_at, rows[-1].id) if rows else after
        yield from records
        if len(records) < batch:
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


def xlsx_chunks(records: Iterator[dict[str, Any]], contacts: bool, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """An XLSX workbook written row by row (openpyxl write-only mode keeps rows on disk, not in memory)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    keys = [k for k in KEYS if contacts or k not in CONTACT_KEYS]
    titles = dict(COLUMNS)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Phản ánh")
    header = []
    for key in keys:
        cell = WriteOnlyCell(sheet, value=titles[key])
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for record in records:
        sheet.append([_cell(record[k]) for k in keys])
    with tempfile.TemporaryFile() as handle:
        workbook.save(handle)
        handle.seek(0)
        while data := handle.read(chunk):
            yield data
