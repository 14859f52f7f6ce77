"""Periodic reports of a Front committee as files: DOCX in the usual layout of a Vietnamese administrative report
(national motto, issuing committee, number, place and date, title, sections, recipients) and XLSX with the same
figures as sheets with native charts plus the ticket list.

The figures come from the summary service (``backend.services.reports.summarize``); the representative petitions and
the ticket list are read here, anonymised (names, phone numbers and e-mail addresses masked).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db.models import OrgUnit, Ticket
from backend.domain.deadlines import VN_TZ
from backend.domain.routing import CENTRAL
from backend.domain.taxonomy import CATEGORIES
from backend.services.exports import mask_personal, ticket_record
from backend.services.tickets import unit_subtree

MEDIA_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
FORMATS = tuple(MEDIA_TYPES)
EXAMPLES_PER_CATEGORY = 3
EXAMPLE_MAX_CHARS = 320
TICKET_LIST_MAX = 200_000
CHANNEL_NAMES = {
    "zalo": "Zalo",
    "zalobot": "Zalo Bot",
    "telegram": "Telegram",
    "webchat": "Trang web",
    "open311": "API",
}
FONT = "Times New Roman"


class ReportError(ValueError):
    """A report that cannot be made (unknown unit, empty or inverted period)."""


# -- periods -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    start: date  # first day (Vietnam calendar)
    end: date  # last day, inclusive

    @classmethod
    def month(cls, value: str) -> Period:
        """``YYYY-MM`` → the whole month."""
        match = re.fullmatch(r"(\d{4})-(\d{2})", value.strip())
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise ReportError(f"period must be YYYY-MM, got '{value}'")
        year, month = int(match.group(1)), int(match.group(2))
        first = date(year, month, 1)
        following = date(year + (month == 12), month % 12 + 1, 1)
        return cls(first, following - timedelta(days=1))

    @classmethod
    def between(cls, start: date, end: date) -> Period:
        if end < start:
            raise ReportError("the end of the period is before its start")
        if (end - start).days + 1 > 366:
            raise ReportError("a report covers at most 366 days")
        return cls(start, end)

    @property
    def is_month(self) -> bool:
        return self.start.day == 1 and (self.end + timedelta(days=1)).day == 1 and self.start.month == self.end.month

    @property
    def label(self) -> str:
        return self.start.strftime("%Y-%m") if self.is_month else f"{self.start:%Y%m%d}-{self.end:%Y%m%d}"

    @property
    def vietnamese(self) -> str:
        if self.is_month:
            return f"tháng {self.start.month} năm {self.start.year}"
        return f"từ ngày {self.start:%d/%m/%Y} đến ngày {self.end:%d/%m/%Y}"

    def utc_bounds(self) -> tuple[datetime, datetime]:
        """[start 00:00, day after end 00:00) in Vietnam time, as UTC."""
        lo = datetime.combine(self.start, time(0), VN_TZ).astimezone(UTC)
        hi = datetime.combine(self.end + timedelta(days=1), time(0), VN_TZ).astimezone(UTC)
        return lo, hi


# -- the data of one report ----------------------------------------------------------------------------------------
@dataclass
class Example:
    code: str
    place: str
    text: str


@dataclass
class ReportData:
    unit_code: str
    unit_name: str
    unit_short: str
    unit_level: str
    province_name: str | None
    period: Period
    summary: dict[str, Any]
    status_names: dict[str, str]
    examples: dict[str, list[Example]] = field(default_factory=dict)
    tickets: Callable[[], Iterator[dict[str, Any]]] = field(default=lambda: iter(()))
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def filename_stem(self) -> str:
        return f"bao-cao-{self.unit_code}-{self.period.label}"


def _as_dict(value: Any) -> dict[str, Any]:
    """The summary as plain data, whatever the summary service returns (dict, pydantic model, dataclass)."""
    if isinstance(value, dict):
        return value
    if hasattr(value, "model_dump"):
        dumped: dict[str, Any] = value.model_dump(mode="json")
        return dumped
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"unexpected summary type {type(value).__name__}")


def load_summary(session: Session, unit_code: str, period: Period) -> dict[str, Any]:
    """The figures of the summary service for the unit's subtree and the period."""
    from backend.services import reports

    return _as_dict(reports.summarize(session, unit_code, period.start, period.end))


def _place(session: Session, ticket: Ticket, names: dict[str, str]) -> str:
    code = ticket.commune_code or ticket.province_code or ticket.unit_code
    if code not in names:
        unit = session.get(OrgUnit, code)
        names[code] = unit.name if unit else code
    return names[code]


def representative_examples(
    session: Session, unit_code: str, period: Period, per_category: int = EXAMPLES_PER_CATEGORY
) -> dict[str, list[Example]]:
    """A few petitions per field, anonymised: mid-length texts (readable on their own), newest first."""
    lo, hi = period.utc_bounds()
    names: dict[str, str] = {}
    result: dict[str, list[Example]] = {}
    length = func.length(Ticket.text)
    for category in CATEGORIES:
        rows = session.scalars(
            select(Ticket)
            .where(
                Ticket.unit_code.in_(unit_subtree(unit_code)),
                Ticket.created_at >= lo,
                Ticket.created_at < hi,
                Ticket.category == category,
                Ticket.duplicate_of.is_(None),
                length.between(40, 600),
            )
            .order_by(Ticket.urgent.desc(), Ticket.created_at.desc())
            .limit(per_category * 4)
        ).unique()
        seen: set[str] = set()
        picked: list[Example] = []
        for ticket in rows:
            text = mask_personal(" ".join((ticket.text or "").split()))
            if not text or text in seen:
                continue
            seen.add(text)
            if len(text) > EXAMPLE_MAX_CHARS:
                text = text[:EXAMPLE_MAX_CHARS].rsplit(" ", 1)[0] + "…"
            picked.append(Example(ticket.code, _place(session, ticket, names), text))
            if len(picked) == per_category:
                break
        if picked:
            result[category] = picked
    return result


def ticket_rows(
    scope: Callable[[], Any], unit_code: str, period: Period, batch: int = 1000
) -> Iterator[dict[str, Any]]:
    """The period's tickets of the unit's subtree as anonymised export records, oldest first, in batches."""
    lo, hi = period.utc_bounds()
    last_id = 0
    produced = 0
    while produced < TICKET_LIST_MAX:
        with scope() as session:
            rows = list(
                session.scalars(
                    select(Ticket)
                    .where(
                        Ticket.unit_code.in_(unit_subtree(unit_code)),
                        Ticket.created_at >= lo,
                        Ticket.created_at < hi,
                        Ticket.id > last_id,
                    )
                    .order_by(Ticket.id)
                    .limit(batch)
                ).unique()
            )
            records = [ticket_record(t) for t in rows]
            last_id = rows[-1].id if rows else last_id
        yield from records
        produced += len(records)
        if len(records) < batch:
            return


def gather(
    session: Session,
    scope: Callable[[], Any],
    unit_code: str,
    period: Period,
    status_name: Callable[[str], str],
) -> ReportData:
    """Everything one report shows."""
    unit = session.get(OrgUnit, unit_code)
    if unit is None:
        raise ReportError(f"unknown unit '{unit_code}'")
    province = session.get(OrgUnit, unit.parent_code) if unit.level == "commune" and unit.parent_code else None
    from backend.services.reports import PeriodError, UnitNotFound

    try:
        summary = load_summary(session, unit_code, period)
    except (PeriodError, UnitNotFound) as exc:
        raise ReportError(f"cannot summarise {unit_code} for {period.label}: {exc}") from exc
    statuses = set(summary.get("by_status") or {})
    return ReportData(
        unit_code=unit.code,
        unit_name=unit.name,
        unit_short=unit.short_name or unit.name,
        unit_level=unit.level,
        province_name=province.name if province else None,
        period=period,
        summary=summary,
        status_names={s: status_name(s) for s in statuses},
        examples=representative_examples(session, unit_code, period),
        tickets=lambda: ticket_rows(scope, unit_code, period),
    )


# -- figures, read defensively from the summary ---------------------------------------------------------------------
def _num(value: Any) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0


def _int(value: Any) -> int:
    return round(_num(value))


def _n(value: Any) -> str:
    """An integer as Vietnamese write it: 12.345."""
    return f"{_int(value):,}".replace(",", ".")


def _dec(value: Any, places: int) -> str:
    """A decimal as Vietnamese write it: 4,25."""
    return f"{_num(value):.{places}f}".replace(".", ",")


def _pct(value: Any) -> str:
    if value is None:
        return "chưa có"
    number = _num(value)
    number = number * 100 if number <= 1 else number
    return _dec(number, 1) + " %"


def _counts(summary: dict[str, Any], key: str) -> list[tuple[str, int]]:
    raw = summary.get(key) or {}
    if isinstance(raw, list):  # [{code|key|name, count|total}]
        pairs = [
            (str(r.get("code") or r.get("key") or r.get("name")), _int(r.get("count", r.get("total")))) for r in raw
        ]
    else:
        pairs = [(str(k), _int(v)) for k, v in raw.items()]
    return sorted(((k, v) for k, v in pairs if v), key=lambda kv: (-kv[1], kv[0]))


def category_name(code: str) -> str:
    if code in CATEGORIES:
        return CATEGORIES[code][0]
    return "Chưa phân loại" if code in ("None", "", "chua_phan_loai") else code


def _children(summary: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [r for r in summary.get("by_child_unit") or [] if isinstance(r, dict)]
    return sorted(rows, key=lambda r: (-_int(r.get("total")), str(r.get("code"))))


def _satisfaction(summary: dict[str, Any]) -> tuple[int, float | None, dict[int, int]]:
    raw = summary.get("satisfaction") or {}
    dist_raw = raw.get("distribution") or {}
    if isinstance(dist_raw, list):
        dist = {i + 1: _int(v) for i, v in enumerate(dist_raw[:5])}
    else:
        dist = {int(k): _int(v) for k, v in dist_raw.items() if str(k).isdigit()}
    mean = raw.get("mean")
    return _int(raw.get("count")), (None if mean is None else _num(mean)), {s: dist.get(s, 0) for s in range(1, 6)}


def _trend(summary: dict[str, Any]) -> list[tuple[str, int]]:
    raw = summary.get("trend") or []
    if isinstance(raw, dict):  # {"unit": "day", "points": [...]} or {"2026-11-01": n}
        raw = (
            raw.get("points")
            or raw.get("data")
            or raw.get("buckets")
            or [{"start": k, "total": v} for k, v in raw.items()]
        )
    points = []
    for r in raw:
        if not isinstance(r, dict):
            continue
        key = str(r.get("start") or r.get("date") or r.get("period") or r.get("day") or r.get("week") or "")
        total = r.get("total")
        if total is None and isinstance(r.get("by_category"), dict):
            total = sum(_int(v) for v in r["by_category"].values())
        points.append((key[:10], _int(total)))
    return points


def _topics(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in summary.get("topics") or [] if isinstance(t, dict)][:10]


def _answered(summary: dict[str, Any]) -> int:
    if summary.get("answered") is not None:
        return _int(summary["answered"])
    by_status = dict(_counts(summary, "by_status"))
    return by_status.get("da_tra_loi", 0) + by_status.get("da_dong", 0)


# -- charts (matplotlib PNG) ---------------------------------------------------------------------------------------
def _png(draw: Callable[[Any], None], width: float = 6.3, height: float = 3.2) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=150)
    figure.set_layout_engine("constrained")
    axes = figure.add_subplot()
    draw(axes)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _style(axes: Any) -> None:
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.tick_params(labelsize=8)


def chart_categories(data: ReportData) -> bytes | None:
    pairs = _counts(data.summary, "by_category")
    if not pairs:
        return None

    def draw(axes: Any) -> None:
        labels = [category_name(k) for k, _ in reversed(pairs)]
        values = [v for _, v in reversed(pairs)]
        bars = axes.barh(labels, values, color="#b22222")
        axes.bar_label(bars, fontsize=7, padding=2)
        axes.set_title("Số ý kiến, kiến nghị theo lĩnh vực", fontsize=10)
        _style(axes)

    return _png(draw, height=max(2.4, 0.28 * len(pairs) + 0.9))


def chart_trend(data: ReportData) -> bytes | None:
    points = _trend(data.summary)
    if len(points) < 2:
        return None

    def draw(axes: Any) -> None:
        labels = [_short_date(k) for k, _ in points]
        axes.plot(range(len(points)), [v for _, v in points], marker="o", markersize=3, color="#b22222")
        step = max(1, len(points) // 10)
        axes.set_xticks(range(0, len(points), step), labels[::step], rotation=0)
        axes.set_ylim(bottom=0)
        axes.set_title("Diễn biến số ý kiến, kiến nghị tiếp nhận", fontsize=10)
        axes.grid(axis="y", alpha=0.3)
        _style(axes)

    return _png(draw, height=2.6)


def chart_children(data: ReportData) -> bytes | None:
    rows = _children(data.summary)[:15]
    if not rows:
        return None

    def draw(axes: Any) -> None:
        labels = [_short_unit(str(r.get("name") or r.get("code"))) for r in reversed(rows)]
        totals = [_int(r.get("total")) for r in reversed(rows)]
        overdue = [_int(r.get("overdue")) for r in reversed(rows)]
        axes.barh(labels, totals, color="#4a6fa5", label="Tổng số")
        axes.barh(labels, overdue, color="#d9822b", label="Quá hạn")
        axes.legend(fontsize=7, frameon=False, loc="lower right")
        axes.set_title("Đơn vị trực thuộc: số tiếp nhận và số quá hạn", fontsize=10)
        _style(axes)

    return _png(draw, height=max(2.4, 0.26 * len(rows) + 0.9))


def _short_date(key: str) -> str:
    try:
        return datetime.strptime(key[:10], "%Y-%m-%d").strftime("%d/%m")
    except ValueError:
        return key


def _short_unit(name: str) -> str:
    for prefix in ("Thành phố ", "Tỉnh ", "Phường ", "Xã ", "Đặc khu "):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


# -- DOCX ----------------------------------------------------------------------------------------------------------
def _issuer_lines(data: ReportData) -> tuple[str, str]:
    """(upper line, bold line) of the issuing committee block."""
    if data.unit_code == CENTRAL:
        return "ỦY BAN TRUNG ƯƠNG", "MẶT TRẬN TỔ QUỐC VIỆT NAM"
    if data.unit_level == "province":
        return "ỦY BAN MTTQ VIỆT NAM", data.unit_name.upper()
    return (f"ỦY BAN MTTQ VIỆT NAM {(data.province_name or '').upper()}".strip(), data.unit_name.upper())


def _place_name(data: ReportData) -> str:
    if data.unit_code == CENTRAL:
        return "Hà Nội"
    return _short_unit(data.unit_name)


def build_docx(data: ReportData) -> bytes:
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    document = Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.top_margin, section.bottom_margin = Cm(2), Cm(2)
    section.left_margin, section.right_margin = Cm(3), Cm(1.5)

    normal = document.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(14)
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)
    fmt = normal.paragraph_format
    fmt.space_after = Pt(6)
    fmt.line_spacing = 1.15
    for name in ("Table Grid",):
        document.styles[name].font.name = FONT

    def para(
        text: str = "",
        *,
        bold: bool = False,
        italic: bool = False,
        size: float | None = None,
        align: Any = WD_ALIGN_PARAGRAPH.JUSTIFY,
        indent: bool = True,
        after: float = 6,
        container: Any = None,
    ) -> Any:
        paragraph = (container or document).add_paragraph()
        paragraph.alignment = align
        paragraph.paragraph_format.space_after = Pt(after)
        paragraph.paragraph_format.space_before = Pt(0)
        if indent and align == WD_ALIGN_PARAGRAPH.JUSTIFY:
            paragraph.paragraph_format.first_line_indent = Cm(1)
        if text:
            run = paragraph.add_run(text)
            run.bold, run.italic = bold, italic
            run.font.name = FONT
            if size:
                run.font.size = Pt(size)
        return paragraph

    def cell_para(cell: Any, text: str, *, bold: bool = False, italic: bool = False, size: float = 13) -> Any:
        paragraph = cell.paragraphs[0] if not cell.paragraphs[0].text and len(cell.paragraphs) == 1 else None
        if paragraph is None:
            paragraph = cell.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        paragraph.paragraph_format.space_after = Pt(0)
        paragraph.paragraph_format.first_line_indent = None
        run = paragraph.add_run(text)
        run.bold, run.italic = bold, italic
        run.font.size = Pt(size)
        run.font.name = FONT
        return paragraph

    # header: issuing committee (left) opposite the national motto (right)
    header = document.add_table(rows=1, cols=2)
    header.alignment = WD_TABLE_ALIGNMENT.CENTER
    header.autofit = False
    widths = (Cm(7.2), Cm(9.3))
    for index, width in enumerate(widths):
        header.columns[index].width = width
        header.rows[0].cells[index].width = width
    left, right = header.rows[0].cells
    upper, bold_line = _issuer_lines(data)
    cell_para(left, upper, size=12)
    cell_para(left, bold_line, bold=True, size=12)
    cell_para(left, "BAN THƯỜNG TRỰC", bold=True, size=12)
    cell_para(left, "———", size=10)
    cell_para(left, "Số:        /BC-MTTQ-BTT", size=13)
    cell_para(right, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold=True, size=12)
    cell_para(right, "Độc lập - Tự do - Hạnh phúc", bold=True, size=13)
    cell_para(right, "———————————", size=10)
    cell_para(
        right, f"{_place_name(data)}, ngày     tháng     năm {data.generated_at.astimezone(VN_TZ).year}", italic=True
    )

    para(after=6)
    para("BÁO CÁO", bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, after=0, size=14)
    para(
        "Tổng hợp ý kiến, kiến nghị của Nhân dân",
        bold=True,
        align=WD_ALIGN_PARAGRAPH.CENTER,
        after=0,
    )
    para(
        f"qua kênh góp ý Mặt trận số {data.period.vietnamese}",
        bold=True,
        align=WD_ALIGN_PARAGRAPH.CENTER,
        after=0,
    )
    para("————", align=WD_ALIGN_PARAGRAPH.CENTER, after=12, size=10)

    s = data.summary
    total = _int(s.get("total"))
    by_category = _counts(s, "by_category")
    by_channel = _counts(s, "by_channel")
    by_status = _counts(s, "by_status")
    para(
        f"Thực hiện chức năng tập hợp, phản ánh ý kiến, kiến nghị của Nhân dân, Ban Thường trực {_committee(data)} "
        f"báo cáo kết quả tiếp nhận, xử lý ý kiến, kiến nghị của Nhân dân qua kênh góp ý Mặt trận số "
        f"{data.period.vietnamese} (từ ngày {data.period.start:%d/%m/%Y} đến ngày {data.period.end:%d/%m/%Y}) như sau:"
    )

    # I. overall situation
    para("I. TÌNH HÌNH CHUNG", bold=True, indent=False)
    channels = ", ".join(f"{CHANNEL_NAMES.get(k, k)}: {_n(v)}" for k, v in by_channel) or "không có"
    para(
        f"Trong kỳ, {_committee(data)} và các đơn vị trực thuộc đã tiếp nhận {_n(total)} ý kiến, kiến nghị của Nhân "
        f"dân (theo kênh: {channels}); trong đó {_n(s.get('urgent'))} ý kiến thuộc diện khẩn cấp và "
        f"{_n(s.get('overdue'))} ý kiến quá hạn xử lý."
    )
    if by_category:
        top = ", ".join(f"{category_name(k).lower()} ({v})" for k, v in by_category[:3])
        para(f"Các lĩnh vực được Nhân dân quan tâm nhiều nhất: {top}.")
    topics = _topics(s)
    if topics:
        labels = "; ".join(
            str(t.get("label") or ", ".join(t.get("keywords") or [])) + f" ({_int(t.get('count'))})" for t in topics[:5]
        )
        para(f"Những vấn đề nổi lên trong kỳ: {labels}.")
    trend_png = chart_trend(data)
    if trend_png:
        _picture(document, trend_png, Cm(15.5))

    # II. by field
    para("II. Ý KIẾN, KIẾN NGHỊ THEO LĨNH VỰC", bold=True, indent=False)
    if by_category:
        table = document.add_table(rows=1, cols=3)
        table.style = "Table Grid"
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        _row(table.rows[0].cells, ["Lĩnh vực", "Số ý kiến", "Tỷ lệ"], bold=True)
        for code, count in by_category:
            share = _dec(100 * count / total, 1) + " %" if total else "—"
            _row(table.add_row().cells, [category_name(code), _n(count), share])
        _row(table.add_row().cells, ["Tổng cộng", _n(total), "100 %" if total else "—"], bold=True)
        _widths(table, (Cm(9.5), Cm(3.5), Cm(3.5)))
        _repeat_header(table)
        para(after=3)
        chart = chart_categories(data)
        if chart:
            _picture(document, chart, Cm(15.5))
        for number, (code, count) in enumerate(by_category, start=1):
            para(f"{number}. {category_name(code)}: {_n(count)} ý kiến", bold=True, indent=False)
            examples = data.examples.get(code, [])
            if not examples:
                para("Không có ý kiến tiêu biểu để trích dẫn.", italic=True)
            for example in examples:
                p = para(f"- {example.place}: ", indent=True)
                run = p.add_run(f"“{example.text}”")
                run.italic = True
                p.add_run(f" ({example.code}).")
    else:
        para("Trong kỳ không có ý kiến, kiến nghị nào.")

    # III. handling results
    para("III. KẾT QUẢ TIẾP NHẬN, XỬ LÝ", bold=True, indent=False)
    answered = _answered(s)
    median = s.get("median_first_response_hours")
    para(
        f"Đã trả lời, giải quyết {_n(answered)} ý kiến; tỷ lệ trả lời đúng hạn: {_pct(s.get('on_time_rate'))}; "
        f"số ý kiến quá hạn: {_n(s.get('overdue'))}"
        + (f"; thời gian phản hồi đầu tiên (trung vị): {_dec(median, 1)} giờ." if median is not None else ".")
    )
    if by_status:
        statuses = "; ".join(f"{data.status_names.get(k, k)}: {v}" for k, v in by_status)
        para(f"Tình trạng xử lý đến cuối kỳ: {statuses}.")
    children = _children(s)
    if children:
        para("Kết quả theo đơn vị trực thuộc:", indent=True)
        table = document.add_table(rows=1, cols=5)
        table.style = "Table Grid"
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        _row(table.rows[0].cells, ["TT", "Đơn vị", "Tiếp nhận", "Quá hạn", "Đúng hạn"], bold=True)
        for index, child in enumerate(children[:40], start=1):
            _row(
                table.add_row().cells,
                [
                    str(index),
                    str(child.get("name") or child.get("code")),
                    str(_int(child.get("total"))),
                    str(_int(child.get("overdue"))),
                    _pct(child.get("on_time_rate")),
                ],
            )
        _widths(table, (Cm(1.2), Cm(7.3), Cm(2.6), Cm(2.4), Cm(3.0)))
        _repeat_header(table)
        if len(children) > 40:
            para(f"(và {len(children) - 40} đơn vị khác, xem tệp Excel kèm theo).", italic=True)
        para(after=3)
        chart = chart_children(data)
        if chart:
            _picture(document, chart, Cm(15.5))

    # IV. satisfaction
    para("IV. MỨC ĐỘ HÀI LÒNG CỦA NGƯỜI DÂN", bold=True, indent=False)
    count, mean, distribution = _satisfaction(s)
    if count:
        spread = ", ".join(f"{stars} sao: {distribution[stars]}" for stars in range(5, 0, -1))
        para(
            f"Có {_n(count)} lượt đánh giá của người dân về kết quả xử lý; điểm trung bình "
            f"{_dec(mean or 0, 2)}/5 ({spread})."
        )
    else:
        para("Trong kỳ chưa có đánh giá của người dân.")

    # V. recommendations, for the official to complete
    para("V. KIẾN NGHỊ, ĐỀ XUẤT", bold=True, indent=False)
    para("(Ban Thường trực bổ sung trước khi ban hành.)", italic=True)
    for _ in range(4):
        para("." * 120, indent=False, after=2, size=11)

    para(
        f"Trên đây là báo cáo tổng hợp ý kiến, kiến nghị của Nhân dân {data.period.vietnamese} của {_committee(data)}."
    )

    # recipients (left) and signature (right)
    footer = document.add_table(rows=1, cols=2)
    footer.autofit = False
    for index, width in enumerate((Cm(8), Cm(8.5))):
        footer.columns[index].width = width
        footer.rows[0].cells[index].width = width
    recipients, signature = footer.rows[0].cells
    p = recipients.paragraphs[0]
    run = p.add_run("Nơi nhận:")
    run.bold, run.italic = True, True
    run.font.size = Pt(12)
    for line in _recipients(data):
        q = recipients.add_paragraph()
        q.paragraph_format.space_after = Pt(0)
        r = q.add_run(line)
        r.font.size = Pt(11)
    cell_para(signature, "TM. BAN THƯỜNG TRỰC", bold=True, size=14)
    cell_para(signature, "CHỦ TỊCH", bold=True, size=14)
    cell_para(signature, "(Ký, ghi rõ họ tên, đóng dấu)", italic=True, size=12)

    # the ticket list is in the XLSX; a note on the method
    para(after=12)
    para(
        "Ghi chú: số liệu được tổng hợp tự động từ kênh góp ý Mặt trận số (gopy) lúc "
        f"{data.generated_at.astimezone(VN_TZ):%H:%M ngày %d/%m/%Y}; các trích dẫn đã được lược bỏ họ tên, "
        "số điện thoại của người gửi.",
        italic=True,
        size=11,
        indent=False,
    )
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _committee(data: ReportData) -> str:
    if data.unit_code == CENTRAL:
        return "Ủy ban Trung ương MTTQ Việt Nam"
    return f"Ủy ban MTTQ Việt Nam {data.unit_name}"


def _recipients(data: ReportData) -> list[str]:
    if data.unit_code == CENTRAL:
        return [
            "- Ban Bí thư Trung ương Đảng;",
            "- Văn phòng Quốc hội, Văn phòng Chính phủ;",
            "- Các vị Phó Chủ tịch UBTW MTTQ Việt Nam;",
            "- Ban Thường trực UBMTTQ các tỉnh, thành phố;",
            "- Lưu: VT.",
        ]
    upper = "Ban Thường trực UBTW MTTQ Việt Nam" if data.unit_level == "province" else "Ban Thường trực UBMTTQ cấp tỉnh"
    return [
        f"- {upper};",
        "- Thường trực cấp ủy, HĐND, UBND cùng cấp;",
        "- Các thành viên Ban Thường trực;",
        "- Lưu: VT.",
    ]


def _row(cells: Any, values: list[str], bold: bool = False) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    for index, (cell, value) in enumerate(zip(cells, values, strict=False)):
        paragraph = cell.paragraphs[0]
        paragraph.paragraph_format.space_after = Pt(0)
        paragraph.paragraph_format.first_line_indent = None
        numeric = index > 0 and (value[:1].isdigit() or value in ("—",) or value.endswith("%"))
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER if bold or numeric else WD_ALIGN_PARAGRAPH.LEFT
        run = paragraph.add_run(value)
        run.bold = bold
        run.font.size = Pt(13)
        run.font.name = FONT


def _repeat_header(table: Any) -> None:
    """The first row is repeated at the top of each page the table runs over."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    mark = OxmlElement("w:tblHeader")
    mark.set(qn("w:val"), "true")
    table.rows[0]._tr.get_or_add_trPr().append(mark)


def _widths(table: Any, widths: tuple[Any, ...]) -> None:
    table.autofit = False
    for column, width in zip(table.columns, widths, strict=False):
        column.width = width  # the grid (LibreOffice reads it)
    for row in table.rows:
        for cell, width in zip(row.cells, widths, strict=False):
            cell.width = width


def _picture(document: Any, png: bytes, width: Any) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    document.add_picture(io.BytesIO(png), width=width)
    document.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER


# -- XLSX ----------------------------------------------------------------------------------------------------------
def build_xlsx(data: ReportData) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.chart import BarChart, LineChart, PieChart, Reference
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    s = data.summary
    bold = Font(name=FONT, bold=True)
    head_fill = PatternFill("solid", fgColor="F2DCDB")
    # write-only: rows go to a temporary file as they are added, so a long ticket list keeps memory flat
    workbook = Workbook(write_only=True)

    def styled(ws: Any, value: Any, *, font: Any = None, fill: Any = None, number_format: str | None = None) -> Any:
        cell = WriteOnlyCell(ws, value=value)
        if font is not None:
            cell.font = font
        if fill is not None:
            cell.fill = fill
            cell.alignment = Alignment(wrap_text=True, vertical="center")
        if number_format is not None and value is not None:
            cell.number_format = number_format
        return cell

    def sheet(
        title: str, header: list[str], rows: list[list[Any]], widths: list[int], percent: tuple[int, ...] = ()
    ) -> Any:
        ws = workbook.create_sheet(title)
        for index, width in enumerate(widths, start=1):  # widths and panes first: write-only sheets need them so
            ws.column_dimensions[get_column_letter(index)].width = width
        ws.freeze_panes = "A2"
        ws.append([styled(ws, h, font=bold, fill=head_fill) for h in header])
        for row in rows:
            for i in percent:
                row[i] = styled(ws, row[i], number_format="0.0%")
            ws.append(row)
        return ws

    overview = workbook.create_sheet("Tổng hợp")
    overview.column_dimensions["A"].width = 48
    overview.column_dimensions["B"].width = 16
    title = f"BÁO CÁO Tổng hợp ý kiến, kiến nghị của Nhân dân {data.period.vietnamese}"
    overview.append([styled(overview, title, font=Font(name=FONT, bold=True, size=14))])
    overview.append([_committee(data)])
    overview.append([f"Từ ngày {data.period.start:%d/%m/%Y} đến ngày {data.period.end:%d/%m/%Y}"])
    overview.append([])
    count, mean, distribution = _satisfaction(s)
    on_time = s.get("on_time_rate")
    figures: list[tuple[str, Any]] = [
        ("Tổng số ý kiến, kiến nghị", _int(s.get("total"))),
        ("Khẩn cấp", _int(s.get("urgent"))),
        ("Quá hạn", _int(s.get("overdue"))),
        ("Đã trả lời, giải quyết", _answered(s)),
        ("Tỷ lệ trả lời đúng hạn", None if on_time is None else _num(on_time)),
        ("Thời gian phản hồi đầu tiên, trung vị (giờ)", s.get("median_first_response_hours")),
        ("Số lượt đánh giá", count),
        ("Điểm hài lòng trung bình (1-5)", mean),
    ]
    overview.append([styled(overview, h, font=bold, fill=head_fill) for h in ("Chỉ tiêu", "Giá trị")])
    for label, value in figures:
        percent = "0.0%" if label.startswith("Tỷ lệ") else None
        overview.append([label, styled(overview, value, number_format=percent)])

    categories = _counts(s, "by_category")
    ws = sheet(
        "Theo lĩnh vực",
        ["Mã", "Lĩnh vực", "Số ý kiến"],
        [[k, category_name(k), v] for k, v in categories],
        [22, 30, 12],
    )
    if categories:
        chart = BarChart()
        chart.type = "bar"
        chart.title = "Số ý kiến theo lĩnh vực"
        chart.legend = None
        chart.add_data(Reference(ws, min_col=3, min_row=1, max_row=len(categories) + 1), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=2, min_row=2, max_row=len(categories) + 1))
        chart.height, chart.width = max(7.5, 0.6 * len(categories)), 16
        ws.add_chart(chart, "E2")

    statuses = _counts(s, "by_status")
    ws = sheet(
        "Theo trạng thái",
        ["Mã", "Trạng thái", "Số ý kiến"],
        [[k, data.status_names.get(k, k), v] for k, v in statuses],
        [16, 24, 12],
    )
    if statuses:
        pie = PieChart()
        pie.title = "Tình trạng xử lý"
        pie.add_data(Reference(ws, min_col=3, min_row=1, max_row=len(statuses) + 1), titles_from_data=True)
        pie.set_categories(Reference(ws, min_col=2, min_row=2, max_row=len(statuses) + 1))
        ws.add_chart(pie, "E2")

    channels = _counts(s, "by_channel")
    ws = sheet("Theo kênh", ["Kênh", "Số ý kiến"], [[CHANNEL_NAMES.get(k, k), v] for k, v in channels], [18, 12])
    if channels:
        pie = PieChart()
        pie.title = "Kênh tiếp nhận"
        pie.add_data(Reference(ws, min_col=2, min_row=1, max_row=len(channels) + 1), titles_from_data=True)
        pie.set_categories(Reference(ws, min_col=1, min_row=2, max_row=len(channels) + 1))
        ws.add_chart(pie, "D2")

    children = _children(s)
    ws = sheet(
        "Đơn vị trực thuộc",
        ["Mã", "Đơn vị", "Tiếp nhận", "Quá hạn", "Tỷ lệ đúng hạn"],
        [
            [
                c.get("code"),
                c.get("name"),
                _int(c.get("total")),
                _int(c.get("overdue")),
                None if c.get("on_time_rate") is None else _num(c.get("on_time_rate")),
            ]
            for c in children
        ],
        [10, 34, 12, 12, 16],
        percent=(4,),
    )
    if children:
        chart = BarChart()
        chart.type = "bar"
        chart.title = "Tiếp nhận và quá hạn theo đơn vị"
        shown = min(len(children), 40)
        chart.add_data(Reference(ws, min_col=3, max_col=4, min_row=1, max_row=shown + 1), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=2, min_row=2, max_row=shown + 1))
        chart.height, chart.width = max(7.5, 0.5 * shown), 18
        ws.add_chart(chart, "G2")

    points = _trend(s)
    ws = sheet("Xu hướng", ["Từ ngày", "Số ý kiến"], [[k, v] for k, v in points], [14, 12])
    if len(points) >= 2:
        line = LineChart()
        line.title = "Diễn biến số ý kiến tiếp nhận"
        line.legend = None
        line.add_data(Reference(ws, min_col=2, min_row=1, max_row=len(points) + 1), titles_from_data=True)
        line.set_categories(Reference(ws, min_col=1, min_row=2, max_row=len(points) + 1))
        line.width = 20
        ws.add_chart(line, "D2")

    ws = sheet("Hài lòng", ["Số sao", "Số lượt"], [[stars, distribution[stars]] for stars in range(1, 6)], [10, 12])
    if count:
        chart = BarChart()
        chart.title = "Đánh giá của người dân"
        chart.legend = None
        chart.add_data(Reference(ws, min_col=2, min_row=1, max_row=6), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=6))
        ws.add_chart(chart, "D2")

    sheet(
        "Chủ đề nổi lên",
        ["Chủ đề", "Từ khóa", "Số ý kiến", "Tăng so với kỳ trước", "Ví dụ"],
        [
            [
                str(t.get("label") or ""),
                ", ".join(str(k) for k in t.get("keywords") or []),
                _int(t.get("count")),
                t.get("growth"),
                ", ".join(str(c) for c in (t.get("examples") or t.get("example_codes") or [])[:5]),
            ]
            for t in _topics(s)
        ],
        [40, 40, 12, 18, 40],
    )

    examples = [[category_name(code), e.code, e.place, e.text] for code, items in data.examples.items() for e in items]
    sheet(
        "Ý kiến tiêu biểu",
        ["Lĩnh vực", "Mã", "Địa bàn", "Nội dung (đã ẩn thông tin cá nhân)"],
        examples,
        [24, 16, 28, 100],
    )

    from backend.services.exports import COLUMNS, CONTACT_KEYS

    keys = [k for k, _ in COLUMNS if k not in CONTACT_KEYS]
    titles = dict(COLUMNS)
    widths = [80 if k == "text" else 30 if k in ("unit_name", "location_text") else 14 for k in keys]
    ws = sheet("Danh sách phản ánh", [titles[k] for k in keys], [], widths)
    for record in data.tickets():
        ws.append(["" if record[k] is None else record[k] for k in keys])

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def build(data: ReportData, fmt: str) -> bytes:
    if fmt == "docx":
        return build_docx(data)
    if fmt == "xlsx":
        return build_xlsx(data)
    raise ReportError(f"format must be one of {', '.join(FORMATS)}")
