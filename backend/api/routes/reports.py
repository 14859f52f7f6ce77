"""Officials' summary reports: what the people say in a unit's subtree over a period."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.exceptions import RequestValidationError

from backend.api.deps import CurrentOfficial, SessionDep
from backend.domain.taxonomy import CATEGORIES
from backend.services import reports

router = APIRouter(prefix="/api/reports", tags=["reports"])
UNIT_NOT_FOUND = "unit not found / không tìm thấy đơn vị"
CATEGORY_PATTERN = "^(" + "|".join([*CATEGORIES, reports.UNCATEGORISED]) + ")$"


def _bad_period(message: str, value: date | None) -> RequestValidationError:
    """A 422 shaped like FastAPI's own (a list of errors), as the OpenAPI schema documents it."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ["query", "to"], "msg": message, "input": str(value or "")}]
    )


@router.get("/summary", response_model=reports.Summary)
def summary(
    session: SessionDep,
    official: CurrentOfficial,
    unit: Annotated[str | None, Query(max_length=16, description="Unit code (default: the official's unit)")] = None,
    start: Annotated[date | None, Query(alias="from", description="First day, YYYY-MM-DD (Vietnam time)")] = None,
    end: Annotated[date | None, Query(alias="to", description="Last day, YYYY-MM-DD, inclusive")] = None,
    category: Annotated[str | None, Query(max_length=64, pattern=CATEGORY_PATTERN)] = None,
    channel: Annotated[str | None, Query(max_length=16)] = None,
) -> reports.Summary:
    """Counts by status, field and channel; urgent and overdue; the units one level down; on-time rate and median
    first response; satisfaction; the trend per day (per week beyond 62 days); emerging topics. Default period: the
    last 30 days. A topic that jumps is flagged and the unit's officials get a console notice."""
    try:
        first, last = reports.resolve_period(start, end)
        target = reports.unit_in_scope(session, official, unit or official.unit_code)
    except reports.PeriodError as exc:
        raise _bad_period(str(exc), end or start) from None
    except reports.UnitNotFound:
        raise HTTPException(404, UNIT_NOT_FOUND) from None
    result = reports.summarize(session, target.code, first, last, category=category, channel=channel, official=official)
    reports.notify_topic_jumps(session, result)
    session.commit()
    return result
