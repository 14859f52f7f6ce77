"""Console page of the periodic reports: the DOCX/XLSX files generated for the official's units, for download, and
the notices announcing new ones."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from backend.api.deps import SessionDep
from backend.console.routes import ConsoleOfficial, _page
from backend.db.models import OrgUnit
from backend.db.report_store_models import ConsoleNotice, GeneratedReport
from backend.services.audit import audit
from backend.services.report_files import MEDIA_TYPES
from backend.services.tickets import unit_scope

router = APIRouter(prefix="/console/report-files", include_in_schema=False)
NOT_FOUND = "Không tìm thấy báo cáo"


@router.get("", response_class=HTMLResponse)
def report_list(request: Request, session: SessionDep, official: ConsoleOfficial) -> HTMLResponse:
    """Newest first; officers see their unit's reports, supervisors and admins also those of the units below."""
    scope = unit_scope(official)
    reports = session.execute(
        select(
            GeneratedReport.id,
            GeneratedReport.unit_code,
            OrgUnit.name.label("unit_name"),
            GeneratedReport.period_label,
            GeneratedReport.period_start,
            GeneratedReport.period_end,
            GeneratedReport.format,
            GeneratedReport.filename,
            GeneratedReport.size,
            GeneratedReport.created_at,
        )
        .join(OrgUnit, OrgUnit.code == GeneratedReport.unit_code)
        .where(GeneratedReport.unit_code.in_(scope))
        .order_by(GeneratedReport.period_start.desc(), GeneratedReport.unit_code, GeneratedReport.format)
        .limit(300)
    ).all()
    notices = session.scalars(
        select(ConsoleNotice)
        .where(ConsoleNotice.unit_code == official.unit_code)
        .order_by(ConsoleNotice.created_at.desc(), ConsoleNotice.id.desc())
        .limit(10)
    ).all()
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in reports:  # one entry per period and unit, with its files (Word, Excel)
        key = (r.period_start, r.period_end, r.unit_code)
        group = groups.setdefault(key, {"report": r, "files": []})
        group["files"].append(r)
    return _page(request, "report_files.html", official=official, groups=list(groups.values()), notices=notices)


@router.get("/{report_id}")
def download(
    report_id: Annotated[int, Path(ge=1, le=2**31 - 1)], session: SessionDep, official: ConsoleOfficial
) -> Response:
    report = session.scalars(
        select(GeneratedReport).where(
            GeneratedReport.id == report_id, GeneratedReport.unit_code.in_(unit_scope(official))
        )
    ).first()
    if report is None:
        raise HTTPException(404, NOT_FOUND)  # another unit's report: as if it did not exist
    audit(session, official, "download", "report", str(report.id), unit=report.unit_code, period=report.period_label)
    session.commit()
    return Response(
        report.content,
        media_type=MEDIA_TYPES[report.format],
        headers={"Content-Disposition": f'attachment; filename="{report.filename}"'},
    )
