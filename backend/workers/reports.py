"""The reports' background jobs.

The roll-ups job (every minute): the daily roll-ups of the summaries brought up to date with the tickets' changes
(``backend/services/rollups.py``), and every quarter of an hour the emerging topics of the last 30 days computed
ahead for the central committee and every province.

The monthly reports job: on the first working day of each month (``data/reports.yml``), the reports of the
previous month are made for the central committee and every province, kept in the database for download from the
console, and the committee's officials get a console notice.

Safe with several workers: a report is stored once per unit, period and format (a unique constraint; the loser of a
race skips it). A worker that was down on the day catches up later in the same month.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import OrgUnit, utcnow
from backend.db.report_store_models import ConsoleNotice, GeneratedReport
from backend.domain.deadlines import VN_TZ, is_working_day
from backend.domain.routing import CENTRAL
from backend.services import reports, rollups
from backend.services.report_files import FORMATS, Period, build, gather

log = logging.getLogger(__name__)
SessionScope = Callable[[], AbstractContextManager[Session]]


class ReportsConfigError(ValueError):
    pass


@dataclass(frozen=True)
class MonthlyReports:
    enabled: bool = True
    day: int | None = None  # None: the first working day
    hour: int = 7
    units: tuple[str, ...] = (CENTRAL, "provinces")
    formats: tuple[str, ...] = FORMATS
    notify: bool = True


def load_reports_config(path: Path) -> MonthlyReports:
    """Read ``data/reports.yml``; a malformed file raises :class:`ReportsConfigError` naming it."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ReportsConfigError(f"{path}: cannot read: {exc}") from exc
    raw = doc.get("monthly") if isinstance(doc, dict) else None
    if not isinstance(raw, dict):
        raise ReportsConfigError(f"{path}: expected a 'monthly' mapping")
    unknown = set(raw) - {"enabled", "day", "hour", "units", "formats", "notify"}
    if unknown:
        raise ReportsConfigError(f"{path}: unknown keys in 'monthly': {', '.join(sorted(unknown))}")
    day_raw = raw.get("day", "first_working_day")
    if day_raw == "first_working_day":
        day = None
    elif isinstance(day_raw, int) and not isinstance(day_raw, bool) and 1 <= day_raw <= 28:
        day = day_raw
    else:
        raise ReportsConfigError(f"{path}: monthly.day must be first_working_day or a day from 1 to 28")
    hour = raw.get("hour", 7)
    if not isinstance(hour, int) or isinstance(hour, bool) or not 0 <= hour <= 23:
        raise ReportsConfigError(f"{path}: monthly.hour must be an hour from 0 to 23")
    units = raw.get("units", [CENTRAL, "provinces"])
    if not isinstance(units, list) or not units or not all(isinstance(u, str) and u for u in units):
        raise ReportsConfigError(f"{path}: monthly.units must be a list of unit codes, TW or provinces")
    formats = raw.get("formats", list(FORMATS))
    if not isinstance(formats, list) or not formats or not set(formats) <= set(FORMATS):
        raise ReportsConfigError(f"{path}: monthly.formats must be a list among {', '.join(FORMATS)}")
    return MonthlyReports(
        enabled=bool(raw.get("enabled", True)),
        day=day,
        hour=hour,
        units=tuple(units),
        formats=tuple(dict.fromkeys(formats)),
        notify=bool(raw.get("notify", True)),
    )


def first_working_day(year: int, month: int) -> date:
    day = date(year, month, 1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def due_period(config: MonthlyReports, now: datetime) -> Period | None:
    """The previous month, once this month's report day and hour (Vietnam time) have come; else ``None``."""
    local = now.astimezone(VN_TZ)
    today = local.date()
    run_day = first_working_day(today.year, today.month) if config.day is None else today.replace(day=config.day)
    if today < run_day or (today == run_day and local.hour < config.hour):
        return None
    last_month_end = today.replace(day=1) - timedelta(days=1)
    return Period.month(last_month_end.strftime("%Y-%m"))


class ReportsWorker:
    def __init__(
        self, scope: SessionScope, config: MonthlyReports, status_name: Callable[[str], str] = lambda code: code
    ) -> None:
        self._scope = scope
        self.config = config
        self._status_name = status_name

    def units(self, session: Session) -> list[str]:
        codes: list[str] = []
        for entry in self.config.units:
            if entry == "provinces":
                codes += session.scalars(
                    select(OrgUnit.code)
                    .where(OrgUnit.level == "province", OrgUnit.active.is_(True))
                    .order_by(OrgUnit.code)
                ).all()
            elif session.get(OrgUnit, entry) is not None:
                codes.append(entry)
            else:
                log.warning("data/reports.yml names an unknown unit '%s'; skipped", entry)
        return list(dict.fromkeys(codes))

    def run_once(self, now: datetime | None = None) -> list[tuple[str, str]]:
        """Make the reports due at ``now`` that are not stored yet; returns (unit, format) of those made now."""
        now = now or utcnow()
        if not self.config.enabled:
            return []
        period = due_period(self.config, now)
        if period is None:
            return []
        made: list[tuple[str, str]] = []
        with self._scope() as session:
            units = self.units(session)
            done = set(
                session.execute(
                    select(GeneratedReport.unit_code, GeneratedReport.format).where(
                        GeneratedReport.period_start == period.start, GeneratedReport.period_end == period.end
                    )
                ).all()
            )
        for unit in units:
            missing = [f for f in self.config.formats if (unit, f) not in done]
            if not missing:
                continue
            try:
                made += self._make(unit, period, missing, now)
            except Exception:
                log.exception("monthly report of %s for %s failed", unit, period.label)
        if made:
            log.info("made %d monthly reports for %s", len(made), period.label)
        return made

    def _make(self, unit: str, period: Period, formats: list[str], now: datetime) -> list[tuple[str, str]]:
        made: list[tuple[str, str]] = []
        with self._scope() as session:
            data = gather(session, self._scope, unit, period, self._status_name)
            data.generated_at = now
            files = {fmt: build(data, fmt) for fmt in formats}
            for fmt, content in files.items():
                report = GeneratedReport(
                    unit_code=unit,
                    period_start=period.start,
                    period_end=period.end,
                    period_label=period.label,
                    format=fmt,
                    filename=f"{data.filename_stem}.{fmt}",
                    content=content,
                    size=len(content),
                    created_by="worker",
                    created_at=now,
                )
                try:
                    with session.begin_nested():
                        session.add(report)
                        session.flush()
                except IntegrityError:  # another worker stored it first
                    continue
                made.append((unit, fmt))
            if made and self.config.notify:
                kinds = ", ".join(fmt.upper() for _, fmt in made)
                session.add(
                    ConsoleNotice(
                        unit_code=unit,
                        kind="report_ready",
                        text=(
                            f"Báo cáo tổng hợp ý kiến, kiến nghị của Nhân dân {period.vietnamese} đã sẵn sàng "
                            f"({kinds}). Mời đồng chí tải về, bổ sung phần kiến nghị, đề xuất."
                        ),
                        link="/console/report-files",
                        created_at=now,
                    )
                )
            session.commit()
        return made

    async def run_forever(self, stop: asyncio.Event, every: float = 900.0, first_after: float = 120.0) -> None:
        """A pass every ``every`` seconds; the first one ``first_after`` seconds after the start (reports are not
        urgent: the server and the other workers come up first)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=first_after)
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.run_once)
            except Exception:
                log.exception("monthly reports pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)


def reports_worker_from(container: Any) -> ReportsWorker:
    config = load_reports_config(container.settings.data_dir / "reports.yml")
    return ReportsWorker(container.scope, config, container.texts.status_name)


async def monthly_reports_worker(container: Any, stop: asyncio.Event) -> None:
    """The runner's entry (backend/workers/runner.py ``WORKERS``)."""
    await reports_worker_from(container).run_forever(stop)


class RollupsWorker:
    """Keeps the daily roll-ups up to date, and the topics of the last 30 days of TW and the provinces ready."""

    def __init__(self, scope: SessionScope, topics_every: float = 900.0) -> None:
        self._scope = scope
        self.topics_every = topics_every
        self._topics_due = 0.0

    def run_once(self, now: datetime | None = None, tick: float | None = None) -> rollups.RefreshResult:
        """One pass: the roll-ups; the topics when their quarter of an hour has come (``tick``: monotonic seconds)."""
        with self._scope() as session:
            result = rollups.refresh(session, now)
        tick = time.monotonic() if tick is None else tick
        if tick >= self._topics_due:
            self._topics_due = tick + self.topics_every
            with self._scope() as session:
                units = [CENTRAL, *session.scalars(select(OrgUnit.code).where(OrgUnit.level == "province"))]
                reports.precompute_topics(session, units, now)
        return result

    async def run_forever(self, stop: asyncio.Event, every: float = 60.0, first_after: float = 30.0) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=first_after)
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.run_once)
            except Exception:
                log.exception("report roll-ups pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)


async def report_rollups_worker(container: Any, stop: asyncio.Event) -> None:
    """The runner's entry (backend/workers/runner.py ``WORKERS``)."""
    await RollupsWorker(container.scope).run_forever(stop)
