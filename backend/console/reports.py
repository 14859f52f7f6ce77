"""Console page of the summary reports (``/console/reports``) and the public transparency page (``/cong-khai``).

Charts are drawn on the server (matplotlib SVG, see :mod:`backend.console.report_charts`); no script, no CDN.
The Vietnamese labels of both pages are kept here, in one place.
"""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse
from sqlalchemy.orm import Session

from backend.api.deps import ContainerDep, SessionDep
from backend.console import report_charts as charts
from backend.console.routes import ConsoleOfficial, _page
from backend.container import Container
from backend.db.models import Official, OrgUnit
from backend.domain.taxonomy import CATEGORIES
from backend.services import reports

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
STYLESHEET = Path(__file__).parent / "static" / "reports.css"
PUBLIC_CACHE_KEY = ("public", "transparency", "v1")  # under the installation's Redis prefix (KV.key)
PUBLIC_CACHE_SECONDS = 300

CHANNEL_NAMES = {
    "webchat": "Trang web",
    "telegram": "Telegram",
    "zalo": "Zalo OA",
    "zalobot": "Zalo Bot",
    "open311": "Open311 (liên thông)",
}
PERIODS = ((7, "7 ngày"), (30, "30 ngày"), (90, "90 ngày"), (365, "12 tháng"))
LEVEL_NAMES = {"central": "Trung ương", "province": "Cấp tỉnh", "commune": "Cấp xã"}
CHILD_HEADING = {"central": "Các tỉnh, thành phố", "province": "Các xã, phường, đặc khu"}


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _chain(session: Session, official: Official, unit: OrgUnit) -> list[OrgUnit]:
    """The units from the official's own down to ``unit``, for the breadcrumb (TW › province › commune)."""
    chain = [unit]
    while chain[-1].code != official.unit_code and chain[-1].parent_code:
        parent = session.get(OrgUnit, chain[-1].parent_code)
        if parent is None:
            break
        chain.append(parent)
    return chain[::-1]


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%".replace(".", ",")


def _num(value: int | float | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.1f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return f"{value:,}".replace(",", ".")


def _change(count: int, previous: int) -> str:
    """How a topic changed against the previous period, in words."""
    if not previous:
        return "mới xuất hiện" if count else ""
    ratio = count / previous
    if ratio >= 2:
        return f"gấp {_num(round(ratio, 1))} lần"
    if count == previous:
        return "không đổi"
    word = "tăng" if count > previous else "giảm"
    return f"{word} {round(abs(ratio - 1) * 100)}%"


def _summary_charts(summary: reports.Summary) -> dict[str, str | None]:
    cats = list(summary.by_category.items())
    top = [code for code, _ in cats[:4]]
    days = [p.start for p in summary.trend]
    series: dict[str, list[int]] = {"Tổng số": [p.total for p in summary.trend]}
    for code in top:
        series[reports.category_name(code)] = [p.by_category.get(code, 0) for p in summary.trend]
    children = [c for c in summary.by_child_unit if c.total][:12]
    return {
        "categories": charts.bars([reports.category_name(c) for c, _ in cats], [n for _, n in cats]),
        "trend": charts.lines(days, series, weekly=summary.trend_granularity == "week", width=10.5),
        "children": charts.bars([c.name for c in children], [c.total for c in children], color="#1565c0", width=8.0),
        "satisfaction": charts.columns(
            [f"{k} sao" for k in summary.satisfaction.distribution],
            list(summary.satisfaction.distribution.values()),
        ),
    }


@router.get("/console/reports", response_class=HTMLResponse)
def reports_page(
    request: Request,
    session: SessionDep,
    container: ContainerDep,
    official: ConsoleOfficial,
    unit: str | None = None,
    start: str | None = None,
    end: str | None = None,
    days: int | None = None,
    category: str | None = None,
    channel: str | None = None,
) -> HTMLResponse:
    # the query uses from/to like the API; FastAPI parameters cannot be named "from"
    start = start or request.query_params.get("from")
    end = end or request.query_params.get("to")
    first = _date(start)
    if first is None and days in {d for d, _ in PERIODS}:
        first = reports.today_vn() - timedelta(days=days - 1)
    problem = None
    try:
        first, last = reports.resolve_period(first, _date(end))
    except reports.PeriodError:
        problem = "Khoảng thời gian không hợp lệ (ngày kết thúc phải sau ngày bắt đầu, tối đa 366 ngày); "
        problem += "đang hiển thị 30 ngày gần nhất."
        first, last = reports.default_period()
    category = category if category in CATEGORIES or category == reports.UNCATEGORISED else None
    channel = channel if channel in CHANNEL_NAMES else None
    try:
        target = reports.unit_in_scope(session, official, (unit or official.unit_code)[:16])
    except reports.UnitNotFound:
        raise HTTPException(404, "Không tìm thấy đơn vị, hoặc đơn vị không thuộc phạm vi của bạn") from None
    summary = reports.summarize(
        session, target.code, first, last, category=category, channel=channel, official=official
    )
    reports.notify_topic_jumps(session, summary)
    session.commit()
    texts = container.texts
    filters = {"from": first.isoformat(), "to": last.isoformat()}
    if category:
        filters["category"] = category
    if channel:
        filters["channel"] = channel
    return _page(
        request,
        "reports.html",
        official=official,
        s=summary,
        unit=target,
        chain=_chain(session, official, target),
        charts=_summary_charts(summary),
        notices=reports.recent_notices(session, official.unit_code),
        filters=filters,
        problem=problem,
        category=category,
        channel=channel,
        categories=[(code, names[0]) for code, names in CATEGORIES.items()],
        channels=CHANNEL_NAMES,
        periods=PERIODS,
        status_name=texts.status_name,
        category_name=reports.category_name,
        level_names=LEVEL_NAMES,
        child_heading=CHILD_HEADING.get(target.level, ""),
        pct=_pct,
        num=_num,
        change=_change,
    )


@router.get("/console/reports.css")
def stylesheet() -> FileResponse:
    return FileResponse(
        STYLESHEET, media_type="text/css; charset=utf-8", headers={"Cache-Control": "public, max-age=300"}
    )


def cached_public_stats(container: Container, session: Session) -> reports.PublicStats:
    """The transparency figures, computed at most every 5 minutes (kept in Redis, shared by every process)."""
    try:
        raw = container.kv.sync.get(container.kv.key(*PUBLIC_CACHE_KEY))
    except Exception:  # Redis down: compute, do not fail the public page
        log.warning("transparency cache unavailable", exc_info=True)
        raw = None
    if raw:
        return reports.PublicStats.from_dict(json.loads(raw))
    stats = reports.public_stats(session)
    try:
        container.kv.sync.set(container.kv.key(*PUBLIC_CACHE_KEY), json.dumps(stats.as_dict()), ex=PUBLIC_CACHE_SECONDS)
    except Exception:
        log.warning("transparency cache unavailable", exc_info=True)
    return stats


@router.get("/cong-khai", response_class=HTMLResponse)
def transparency(request: Request, session: SessionDep, container: ContainerDep) -> HTMLResponse:
    """Public, without login: counts by province, field and month, and the on-time rate. No text, no personal data."""
    stats = cached_public_stats(container, session)
    months = [m["month"] for m in stats.by_month]
    page = _page(
        request,
        "reports_public.html",
        official=None,
        p=stats,
        month_chart=charts.columns(
            [f"{m[5:]}/{m[2:4]}" for m in months], [m["total"] for m in stats.by_month], color="#b71c1c", width=10.5
        ),
        category_chart=charts.bars([c["name"] for c in stats.by_category], [c["total"] for c in stats.by_category]),
        pct=_pct,
        num=_num,
    )
    page.headers["Cache-Control"] = f"public, max-age={PUBLIC_CACHE_SECONDS}"
    return page
