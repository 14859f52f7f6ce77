"""Exports of the official's tickets: CSV (UTF-8 with BOM), XLSX or JSON Lines, streamed in batches."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse

from backend.api.deps import ContainerDep, CurrentOfficial, SessionDep
from backend.db.models import utcnow
from backend.domain.deadlines import VN_TZ
from backend.domain.statuses import ALL_STATUSES
from backend.services import exports
from backend.services.audit import audit

router = APIRouter(prefix="/api/tickets", tags=["exports"])
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "jsonl": "application/x-ndjson; charset=utf-8",
}
CONTACTS_FORBIDDEN = "only administrators may export contact details / chỉ quản trị viên được xuất thông tin liên hệ"


@router.get(
    "/export", response_class=StreamingResponse, responses={200: {"content": {media: {} for media in MEDIA.values()}}}
)
def export_tickets(
    session: SessionDep,
    container: ContainerDep,
    official: CurrentOfficial,
    format: Annotated[Literal["csv", "xlsx", "jsonl"], Query(description="csv, xlsx or jsonl")] = "csv",
    status: Annotated[str | None, Query(description="Filter by status code")] = None,
    contacts: Annotated[bool, Query(description="Include citizens' names and phones (admins only, audited)")] = False,
) -> StreamingResponse:
    """The tickets the official may see (same scope and filters as ``GET /api/tickets``), newest first.

    Each row is a ticket record of the common data framework (``docs/schema/ticket-record.v1.json``). Phone numbers
    and names in the texts are masked unless an admin asks for contact details with ``contacts=true``.
    """
    if status is not None and status not in ALL_STATUSES:
        raise RequestValidationError(
            [{"type": "enum", "loc": ("query", "status"), "msg": f"unknown status '{status}'", "input": status}]
        )
    if contacts and official.role != "admin":
        audit(session, official, "export_refused", "ticket", "*", contacts=True, format=format)
        session.commit()
        raise HTTPException(403, CONTACTS_FORBIDDEN)
    action = "export_contacts" if contacts else "export"
    audit(session, official, action, "ticket", "*", format=format, status=status, contacts=contacts)
    session.commit()
    records = exports.iter_records(container.scope, official.id, exports.ExportFilter(status=status), contacts)
    chunks = {"csv": exports.csv_chunks, "xlsx": exports.xlsx_chunks, "jsonl": exports.jsonl_chunks}[format]
    stamp = utcnow().astimezone(VN_TZ).strftime("%Y%m%d-%H%M")
    filename = f"phan-anh-{official.unit_code}-{stamp}.{format}"
    return StreamingResponse(
        chunks(records, contacts),
        media_type=MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
