"""Periodic reports: DOCX in the administrative layout and XLSX with native charts (opened and read back), the
`gopy report` command, the monthly job (data/reports.yml), the console page listing the files for download."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlalchemy import func, select
from typer.testing import CliRunner

from backend.db.models import AuditLog, Ticket
from backend.db.report_store_models import ConsoleNotice, GeneratedReport
from backend.services.exports import PHONE
from backend.services.report_files import Period, ReportError, build_docx, build_xlsx, gather
from backend.services.reports import summarize
from backend.services.synth import synthesize
from backend.workers.reports import (
    MonthlyReports,
    ReportsConfigError,
    ReportsWorker,
    due_period,
    first_working_day,
    load_reports_config,
)

from .conftest import Api, add_official
from .helpers import file_ticket

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
NOVEMBER = Period.month("2026-11")
ROOT = Path(__file__).resolve().parents[3]
SECRET_NAME = "Phạm Văn Dũng"


def _fill(api: Api) -> str:
    synthesize(api.container.engine, 400, seed=3, months=2, now=NOW)
    code = file_ticket(
        api.container,
        f"Tôi là {SECRET_NAME}, số 0987 654 321: đường Hàng Bài ngập sâu, cây đổ chắn lối, xin xử lý gấp",
        "01",
        "00070",
        user="w-secret",
        phone="0987654321",
        name=SECRET_NAME,
    )
    with api.container.scope() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.code == code)).one()
        ticket.created_at, ticket.urgent = datetime(2026, 11, 20, 2, 0, tzinfo=UTC), True
        s.commit()
    return code


def _docx_text(content: bytes) -> tuple[str, Document]:  # type: ignore[valid-type]
    document = Document(io.BytesIO(content))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts += [cell.text for cell in row.cells]
    return "\n".join(parts), document


def test_docx_report_in_the_administrative_layout(api: Api) -> None:
    secret = _fill(api)
    with api.container.scope() as s:
        data = gather(s, api.container.scope, "01", NOVEMBER, api.container.texts.status_name)
        total = summarize(s, "01", NOVEMBER.start, NOVEMBER.end).total
        ha_tang = summarize(s, "01", NOVEMBER.start, NOVEMBER.end).by_category.get("ha_tang", 0)
    assert total > 20
    text, document = _docx_text(build_docx(data))
    for expected in (
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "ỦY BAN MTTQ VIỆT NAM",
        "THÀNH PHỐ HÀ NỘI",
        "Số:",
        "Hà Nội, ngày",
        "BÁO CÁO",
        "Tổng hợp ý kiến, kiến nghị của Nhân dân",
        "tháng 11 năm 2026",
        "I. TÌNH HÌNH CHUNG",
        "II. Ý KIẾN, KIẾN NGHỊ THEO LĨNH VỰC",
        "III. KẾT QUẢ TIẾP NHẬN, XỬ LÝ",
        "IV. MỨC ĐỘ HÀI LÒNG",
        "V. KIẾN NGHỊ, ĐỀ XUẤT",
        "Nơi nhận:",
        "TM. BAN THƯỜNG TRỰC",
        "Kết quả theo đơn vị trực thuộc",
        "Phường Hoàn Kiếm",
    ):
        assert expected in text, expected
    assert f"đã tiếp nhận {total} ý kiến" in text  # the summary's figures
    assert f"Hạ tầng: {ha_tang} ý kiến" in text
    # the representative petition is there, anonymised
    assert f"({secret})" in text and "[họ tên]" in text and "[số điện thoại]" in text
    assert SECRET_NAME not in text and PHONE.search(text) is None
    assert len(document.inline_shapes) >= 3  # trend, fields, child units: matplotlib PNGs
    normal = document.styles["Normal"]
    assert normal.font.name == "Times New Roman" and normal.font.size.pt in (13, 14)


def test_xlsx_report_has_the_figures_native_charts_and_the_ticket_list(api: Api) -> None:
    _fill(api)
    with api.container.scope() as s:
        data = gather(s, api.container.scope, "TW", NOVEMBER, api.container.texts.status_name)
        summary = summarize(s, "TW", NOVEMBER.start, NOVEMBER.end)
    book = load_workbook(io.BytesIO(build_xlsx(data)))
    assert book.sheetnames[:3] == ["Tổng hợp", "Theo lĩnh vực", "Theo trạng thái"]
    assert "Danh sách phản ánh" in book.sheetnames and "Đơn vị trực thuộc" in book.sheetnames
    overview = book["Tổng hợp"]
    assert overview["A1"].value == "BÁO CÁO Tổng hợp ý kiến, kiến nghị của Nhân dân tháng 11 năm 2026"
    figures = {row[0]: row[1] for row in overview.iter_rows(min_row=6, values_only=True)}
    assert figures["Tổng số ý kiến, kiến nghị"] == summary.total
    assert figures["Quá hạn"] == summary.overdue
    fields = {row[0]: row[2] for row in book["Theo lĩnh vực"].iter_rows(min_row=2, values_only=True)}
    assert fields == summary.by_category
    children = {row[0]: row[2] for row in book["Đơn vị trực thuộc"].iter_rows(min_row=2, values_only=True)}
    assert children == {c.code: c.total for c in summary.by_child_unit if c.total}
    for name in ("Theo lĩnh vực", "Theo trạng thái", "Theo kênh", "Đơn vị trực thuộc", "Xu hướng"):
        assert book[name]._charts, f"no chart on {name}"  # native Excel charts
    tickets = list(book["Danh sách phản ánh"].iter_rows(values_only=True))
    assert tickets[0][1] == "Mã phản ánh" and len(tickets) - 1 == summary.total
    assert all(SECRET_NAME not in str(cell) for row in tickets for cell in row)


def test_gopy_report_command(api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from backend.cli import app
    from backend.config import get_settings

    _fill(api)
    monkeypatch.setenv("GOPY_DATABASE_URL", str(api.container.engine.url.render_as_string(hide_password=False)))
    monkeypatch.setenv("GOPY_ENVIRONMENT", "test")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        out = tmp_path / "bc.docx"
        result = runner.invoke(
            app, ["report", "--unit", "01", "--period", "2026-11", "--format", "docx", "--out", str(out)]
        )
        assert result.exit_code == 0, result.output
        assert "BÁO CÁO" in _docx_text(out.read_bytes())[0]
        out = tmp_path / "bc.xlsx"
        args = ["report", "--unit", "00070", "--from", "2026-11-01", "--to", "2026-11-15", "--format", "xlsx"]
        result = runner.invoke(app, [*args, "--out", str(out)])
        assert result.exit_code == 0, result.output
        title = load_workbook(out)["Tổng hợp"]["A1"].value
        assert title.endswith("từ ngày 01/11/2026 đến ngày 15/11/2026")
        for bad in (
            ["--unit", "01", "--period", "2026-13"],
            ["--unit", "01", "--period", "2026-11", "--from", "2026-11-01", "--to", "2026-11-02"],
            ["--unit", "99", "--period", "2026-11"],
            ["--unit", "01", "--period", "2026-11", "--format", "pdf"],
            ["--unit", "01", "--from", "2026-11-09", "--to", "2026-11-01"],
        ):
            result = runner.invoke(app, ["report", *bad, "--out", str(tmp_path / "x")])
            assert result.exit_code == 2, (bad, result.output)
        assert not (tmp_path / "x").exists()
    finally:
        get_settings.cache_clear()


def test_periods() -> None:
    assert Period.month("2026-02") == Period(date(2026, 2, 1), date(2026, 2, 28))
    assert Period.month("2026-12").end == date(2026, 12, 31) and Period.month("2026-12").label == "2026-12"
    assert Period.month("2026-11").vietnamese == "tháng 11 năm 2026"
    with pytest.raises(ReportError):
        Period.month("11/2026")
    lo, hi = Period.month("2026-11").utc_bounds()
    assert lo == datetime(2026, 10, 31, 17, 0, tzinfo=UTC) and hi == datetime(2026, 11, 30, 17, 0, tzinfo=UTC)


def test_the_monthly_job_runs_on_the_first_working_day() -> None:
    config = MonthlyReports()
    assert first_working_day(2027, 1) == date(2027, 1, 4)  # 1 January is a holiday, then a weekend
    assert first_working_day(2026, 12) == date(2026, 12, 1)
    assert due_period(config, datetime(2026, 11, 30, 23, 30, tzinfo=UTC)) is None  # 06:30 in Hà Nội on 1 December
    assert due_period(config, datetime(2026, 12, 1, 0, 30, tzinfo=UTC)) == Period.month("2026-11")  # 07:30
    assert due_period(config, datetime(2027, 1, 2, 3, 0, tzinfo=UTC)) is None  # Saturday 2 January
    assert due_period(config, datetime(2027, 1, 4, 3, 0, tzinfo=UTC)) == Period.month("2026-12")
    assert due_period(config, datetime(2027, 1, 20, 3, 0, tzinfo=UTC)) == Period.month("2026-12")  # catching up
    assert due_period(MonthlyReports(day=5, hour=0), datetime(2027, 1, 4, 3, 0, tzinfo=UTC)) is None


def test_reports_config_file(tmp_path: Path) -> None:
    bundled = load_reports_config(ROOT / "data" / "reports.yml")
    assert bundled.units == ("TW", "provinces") and bundled.formats == ("docx", "xlsx") and bundled.day is None
    path = tmp_path / "reports.yml"
    for text, fragment in (
        ("monthly: {day: 31}", "monthly.day"),
        ("monthly: {formats: [pdf]}", "monthly.formats"),
        ("monthly: {hour: 25}", "monthly.hour"),
        ("monthly: {unit: [TW]}", "unknown keys"),
        ("other: 1", "'monthly'"),
        ("monthly: [", "cannot read"),
    ):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ReportsConfigError, match=re.escape(fragment)):
            load_reports_config(path)


def _console_login(api: Api, username: str) -> None:
    r = api.client.post(
        "/console/login", data={"username": username, "password": "mat-khau-123"}, follow_redirects=False
    )
    assert r.status_code == 303


def test_monthly_reports_are_kept_listed_downloaded_and_announced(api: Api) -> None:
    _fill(api)
    worker = ReportsWorker(api.container.scope, MonthlyReports(), api.container.texts.status_name)
    assert worker.run_once(datetime(2026, 11, 30, 23, 0, tzinfo=UTC)) == []  # not yet 07:00 on 1 December
    made = worker.run_once(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))
    assert sorted(made) == sorted((u, f) for u in ("TW", "01", "79") for f in ("docx", "xlsx"))
    assert worker.run_once(datetime(2026, 12, 1, 2, 0, tzinfo=UTC)) == []  # kept once
    with api.container.scope() as s:
        assert (s.scalar(select(func.count()).select_from(GeneratedReport)) or 0) == 6
        notices = s.scalars(select(ConsoleNotice).where(ConsoleNotice.kind == "report_ready")).all()
        assert sorted(n.unit_code for n in notices) == ["01", "79", "TW"]
        assert all("tháng 11 năm 2026" in n.text for n in notices)
        hanoi_docx = s.scalars(
            select(GeneratedReport.id).where(GeneratedReport.unit_code == "01", GeneratedReport.format == "docx")
        ).one()
        saigon = s.scalars(select(GeneratedReport.id).where(GeneratedReport.unit_code == "79")).first()

    add_official(api.container, "tinh.hn", "01", "supervisor")
    _console_login(api, "tinh.hn")
    page = api.client.get("/console/report-files")
    assert page.status_code == 200
    assert "bao-cao-01-2026-11.docx" in page.text and "bao-cao-01-2026-11.xlsx" in page.text
    assert "bao-cao-79-" not in page.text and "bao-cao-TW-" not in page.text  # only its own subtree
    assert "đã sẵn sàng" in page.text  # the notice
    r = api.client.get(f"/console/report-files/{hanoi_docx}")
    assert r.status_code == 200 and "bao-cao-01-2026-11.docx" in r.headers["content-disposition"]
    assert "THÀNH PHỐ HÀ NỘI" in _docx_text(r.content)[0]
    assert api.client.get(f"/console/report-files/{saigon}").status_code == 404
    with api.container.scope() as s:
        assert s.scalar(select(AuditLog.id).where(AuditLog.action == "download", AuditLog.actor == "tinh.hn"))


async def test_the_worker_waits_then_runs_until_stopped(api: Api) -> None:
    import asyncio

    from backend.workers import runner

    assert dict(runner.WORKERS)["reports"] is not None
    worker = ReportsWorker(api.container.scope, MonthlyReports(units=("01",), formats=["xlsx"]))  # type: ignore[arg-type]
    passes: list[datetime] = []
    loop, two_passes = asyncio.get_running_loop(), asyncio.Event()

    def fake_pass(now: datetime | None = None) -> list[tuple[str, str]]:  # runs in a thread
        passes.append(datetime.now(UTC))
        if len(passes) == 2:
            loop.call_soon_threadsafe(two_passes.set)
        return []

    worker.run_once = fake_pass  # type: ignore[method-assign]
    stop = asyncio.Event()
    started = datetime.now(UTC)
    task = asyncio.create_task(worker.run_forever(stop, every=0.05, first_after=0.3))
    await asyncio.wait_for(two_passes.wait(), timeout=10)
    assert (passes[0] - started).total_seconds() >= 0.3  # not at once: the server starts first
    stop.set()
    await asyncio.wait_for(task, timeout=2)
    assert task.done() and task.exception() is None
