"""GET /api/tickets/export: scope, filters, CSV with BOM, XLSX, JSON Lines, contacts for admins only (audited), the
JSON Schema of the exported record, batches."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema_rs
from openpyxl import load_workbook
from sqlalchemy import select

from backend.db.models import AuditLog, Official, Ticket
from backend.services import exports
from backend.services.exports import mask_personal

from .conftest import Api, add_official
from .helpers import file_ticket

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((ROOT / "docs" / "schema" / "ticket-record.v1.json").read_text(encoding="utf-8"))


def _seed(api: Api) -> dict[str, str]:
    c = api.container
    return {
        "hk1": file_ticket(
            c,
            "Đèn đường hỏng ở Hoàn Kiếm, gọi tôi 0912 345 678",
            "01",
            "00070",
            name="Nguyễn Văn An",
            phone="0912345678",
        ),
        "hk2": file_ticket(
            c, "Tôi là Trần Thị Bình, cống tắc ở phố Hàng Bông", "01", "00070", user="w-2", anonymous=True
        ),
        "cn": file_ticket(c, "Vỉa hè bị lấn chiếm ở Cửa Nam", "01", "00073", user="w-3"),
        "sg": file_ticket(c, "Ngập ở Sài Gòn sau mưa", "79", "26734", user="w-4"),
    }


def _csv(body: bytes) -> list[dict[str, str]]:
    assert body.startswith(b"\xef\xbb\xbf"), "UTF-8 byte-order mark so that Excel shows Vietnamese"
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def test_csv_export_is_scoped_filtered_and_readable_in_excel(api: Api) -> None:
    codes = _seed(api)
    add_official(api.container, "xa.hk", "00070")
    add_official(api.container, "tinh.hn", "01", "supervisor")
    add_official(api.container, "tinh.sg", "79", "supervisor")

    hk = api.login("xa.hk")
    r = api.client.get("/api/tickets/export", params={"format": "csv"}, headers=hk)
    assert r.status_code == 200, r.text  # not taken for a ticket code by /api/tickets/{code}
    assert r.headers["content-type"].startswith("text/csv") and "attachment" in r.headers["content-disposition"]
    rows = _csv(r.content)
    assert {row["Mã phản ánh"] for row in rows} == {codes["hk1"], codes["hk2"]}
    assert "Họ tên người gửi" not in rows[0] and "Điện thoại người gửi" not in rows[0]  # no contacts by default
    texts = {row["Mã phản ánh"]: row["Nội dung"] for row in rows}
    assert "0912" not in texts[codes["hk1"]] and "[số điện thoại]" in texts[codes["hk1"]]
    assert "Trần Thị Bình" not in texts[codes["hk2"]] and "[họ tên]" in texts[codes["hk2"]]
    assert {row["Đơn vị xử lý"] for row in rows} == {"Phường Hoàn Kiếm"}

    province = api.login("tinh.hn")
    listed = api.client.get("/api/tickets", headers=province).json()
    rows = _csv(api.client.get("/api/tickets/export", headers=province).content)
    assert len(rows) == listed["count"] == 3  # same scope as GET /api/tickets: never Sài Gòn
    assert codes["sg"] not in {row["Mã phản ánh"] for row in rows}
    newest = api.client.get("/api/tickets", params={"sort": "-created_at"}, headers=province).json()
    assert [row["Mã phản ánh"] for row in rows] == [t["code"] for t in newest["data"]]  # newest first
    saigon = _csv(api.client.get("/api/tickets/export", headers=api.login("tinh.sg")).content)
    assert [row["Mã phản ánh"] for row in saigon] == [codes["sg"]]

    # the same status filter as the list
    r = api.client.get("/api/tickets/export", params={"status": "da_dong"}, headers=province)
    assert r.status_code == 200 and _csv(r.content) == []
    unknown = api.client.get("/api/tickets/export", params={"status": "khong-co"}, headers=province)
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["query", "status"]  # the documented validation-error list
    assert api.client.get("/api/tickets/export", params={"format": "pdf"}, headers=province).status_code == 422
    assert api.client.get("/api/tickets/export").status_code == 401
    with api.container.scope() as s:
        actions = s.scalars(select(AuditLog.action).where(AuditLog.actor == "tinh.hn")).all()
    assert "export" in actions


def test_contact_details_only_for_admins_who_ask_and_audited(api: Api) -> None:
    codes = _seed(api)
    add_official(api.container, "tinh.hn", "01", "supervisor")
    add_official(api.container, "admin.hn", "01", "admin")

    r = api.client.get("/api/tickets/export", params={"contacts": "true"}, headers=api.login("tinh.hn"))
    assert r.status_code == 403
    admin = api.login("admin.hn")
    plain = _csv(api.client.get("/api/tickets/export", headers=admin).content)
    assert "Điện thoại người gửi" not in plain[0]  # an admin too must ask explicitly
    rows = _csv(api.client.get("/api/tickets/export", params={"contacts": "true"}, headers=admin).content)
    by_code = {row["Mã phản ánh"]: row for row in rows}
    assert by_code[codes["hk1"]]["Họ tên người gửi"] == "Nguyễn Văn An"
    assert by_code[codes["hk1"]]["Điện thoại người gửi"] == "0912345678"
    assert "0912 345 678" in by_code[codes["hk1"]]["Nội dung"]
    assert by_code[codes["hk2"]]["Họ tên người gửi"] == "" and by_code[codes["hk2"]]["Điện thoại người gửi"] == ""
    with api.container.scope() as s:
        logged = s.execute(select(AuditLog.actor, AuditLog.action, AuditLog.detail).order_by(AuditLog.id)).all()
    refused = [(actor, detail) for actor, action, detail in logged if action == "export_refused"]
    granted = [(actor, detail) for actor, action, detail in logged if action == "export_contacts"]
    assert [a for a, _ in refused] == ["tinh.hn"] and [a for a, _ in granted] == ["admin.hn"]
    assert granted[0][1]["contacts"] is True


def test_xlsx_export_opens_with_vietnamese_columns(api: Api) -> None:
    codes = _seed(api)
    add_official(api.container, "tinh.hn", "01", "supervisor")
    r = api.client.get("/api/tickets/export", params={"format": "xlsx"}, headers=api.login("tinh.hn"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(r.content), read_only=True)["Phản ánh"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("Phiên bản lược đồ", "Mã phản ánh", "Thời điểm nhận (UTC)")
    assert {row[1] for row in rows[1:]} == {codes["hk1"], codes["hk2"], codes["cn"]}
    assert any("Vỉa hè bị lấn chiếm ở Cửa Nam" in str(cell) for row in rows for cell in row)


def test_every_exported_record_validates_against_the_schema(api: Api) -> None:
    assert jsonschema_rs.meta.is_valid(SCHEMA)
    validator = jsonschema_rs.validator_for(SCHEMA)
    _seed(api)
    add_official(api.container, "admin.tw", "TW", "admin")
    admin = api.login("admin.tw")
    for params in ({"format": "jsonl"}, {"format": "jsonl", "contacts": "true"}):
        r = api.client.get("/api/tickets/export", params=params, headers=admin)
        records = [json.loads(line) for line in r.text.splitlines()]
        assert len(records) == 4
        for record in records:
            errors = [e.message for e in validator.iter_errors(record)]
            assert errors == [], (record["code"], errors)
        assert ("contact_phone" in records[0]) is ("contacts" in params)
    # the CSV columns are the schema's properties, in order
    assert [key for key, _ in exports.COLUMNS] == list(SCHEMA["properties"])
    # and a record that breaks the framework is caught
    bad = dict(records[0], status="lost", code="PA-1234")
    assert len(list(validator.iter_errors(bad))) == 2


def test_records_are_read_in_batches_without_skipping_ties(api: Api) -> None:
    same = datetime(2026, 11, 5, 3, 0, tzinfo=UTC)
    codes = [file_ticket(api.container, f"Phản ánh số {i}", "01", "00070", created_at=same) for i in range(5)]
    add_official(api.container, "xa.hk", "00070")
    with api.container.scope() as s:
        official_id = s.scalars(select(Official.id)).one()
    seen = [r["code"] for r in exports.iter_records(api.container.scope, official_id, exports.ExportFilter(), batch=2)]
    assert sorted(seen) == sorted(codes) and len(seen) == 5


def test_mask_personal() -> None:
    text = "Tôi là Lê Văn Cường, sđt +84 912.345.678, email cuong@example.vn; bà Hoa ở ngõ 5 biết rõ, ĐT 0243 826 1234"
    masked = mask_personal(text)
    for secret in ("Lê Văn Cường", "912.345.678", "cuong@example.vn", "Hoa", "0243 826 1234"):
        assert secret not in masked
    assert masked.startswith("Tôi là [họ tên], sđt [số điện thoại], email [email]; bà [họ tên] ở ngõ 5")
    assert mask_personal("Đường 32 hỏng 300 m từ năm 2019") == "Đường 32 hỏng 300 m từ năm 2019"


def _record(**values: Any) -> dict[str, Any]:
    return dict.fromkeys(exports.KEYS, None) | {"schema_version": "1", "urgent": False, "anonymous": False} | values


def _xlsx_rows(body: bytes) -> dict[str, list[tuple[Any, ...]]]:
    """Every sheet's rows as openpyxl reads them, in both its modes (which must agree)."""
    full = load_workbook(io.BytesIO(body))
    streamed = load_workbook(io.BytesIO(body), read_only=True)
    sheets = {ws.title: list(ws.iter_rows(values_only=True)) for ws in full.worksheets}
    assert {ws.title: list(ws.iter_rows(values_only=True)) for ws in streamed.worksheets} == sheets
    return sheets


def test_xlsx_export_keeps_texts_that_xml_cannot_carry_as_is(api: Api) -> None:
    # Word's line break (vertical tab) and other control characters pasted into a petition, and markup characters
    code = file_ticket(api.container, "Cống <số 3> & rãnh\x0bbị tắc\x1f từ tuần trước", "01", "00070")
    add_official(api.container, "xa.hk", "00070")
    r = api.client.get("/api/tickets/export", params={"format": "xlsx"}, headers=api.login("xa.hk"))
    assert r.status_code == 200
    rows = _xlsx_rows(r.content)["Phản ánh"]
    text = dict(zip(rows[0], rows[1], strict=True))
    assert text["Mã phản ánh"] == code
    assert text["Nội dung"] == "Cống <số 3> & rãnhbị tắc từ tuần trước"


def test_xlsx_cells_keep_types_spaces_and_excel_limits() -> None:
    long_text = "Nội dung rất dài. " * 2000  # 36,000 characters: more than an Excel cell holds
    records = [
        _record(code="PA-0000-0001", urgent=True, rating=4, text="  thụt đầu dòng", unit_name="Phường Hoàn Kiếm"),
        _record(code="PA-0000-0002", text=long_text, location_text=""),
    ]
    body = b"".join(exports.xlsx_chunks(iter(records), contacts=False))
    header, first, second = _xlsx_rows(body)["Phản ánh"]
    assert header == tuple(title for key, title in exports.COLUMNS if key not in exports.CONTACT_KEYS)
    one, two = dict(zip(header, first, strict=True)), dict(zip(header, second, strict=True))
    assert one["Khẩn cấp"] == "có" and one["Ẩn danh"] == "không" and one["Quá hạn"] is None
    assert one["Đánh giá (1-5)"] == 4  # a number, not text
    assert one["Nội dung"] == "  thụt đầu dòng" and one["Đơn vị xử lý"] == "Phường Hoàn Kiếm"
    assert two["Đánh giá (1-5)"] is None and two["Địa điểm"] is None
    assert len(two["Nội dung"]) == exports.XLSX_MAX_CHARS and two["Nội dung"].endswith("…")
    emoji = "👍" * 20_000  # 40,000 UTF-16 units as Excel counts them: cut between two emoji, not inside one
    body = b"".join(exports.xlsx_chunks(iter([_record(text=emoji)]), contacts=False))
    cut = _xlsx_rows(body)["Phản ánh"][1][header.index("Nội dung")]
    assert cut == "👍" * 16_383 + "…"
    workbook = load_workbook(io.BytesIO(body))
    sheet = workbook["Phản ánh"]
    assert sheet["A1"].font.b and not sheet["A2"].font.b and sheet.freeze_panes == "A2"
    # with contacts the two contact columns come last
    body = b"".join(exports.xlsx_chunks(iter([_record(contact_name="Nguyễn Văn An")]), contacts=True))
    header, row = _xlsx_rows(body)["Phản ánh"]
    assert header[-2:] == ("Họ tên người gửi", "Điện thoại người gửi") and row[-2:] == ("Nguyễn Văn An", None)
    # no record at all: the header alone
    assert _xlsx_rows(b"".join(exports.xlsx_chunks(iter([]), contacts=False)))["Phản ánh"] == [header[:-2]]


def test_xlsx_is_streamed_while_records_are_read() -> None:
    consumed = 0

    def records() -> Iterator[dict[str, Any]]:
        nonlocal consumed
        for i in range(20_000):
            consumed += 1
            yield _record(code=f"PA-{i:04d}-0000", text=f"Phản ánh số {i} về đèn đường hỏng ở tổ dân phố {i % 97}")

    chunks = exports.xlsx_chunks(records(), contacts=False, chunk=16 * 1024)
    first = next(chunks)
    assert first.startswith(b"PK\x03\x04") and consumed < 20_000  # bytes go out before the last row is read
    body = first + b"".join(chunks)
    assert consumed == 20_000
    rows = _xlsx_rows(body)["Phản ánh"]
    assert len(rows) == 20_001 and rows[-1][1] == "PA-19999-0000"


def test_xlsx_continues_on_a_new_sheet_beyond_the_row_limit() -> None:
    records = [_record(code=f"PA-0000-000{i}") for i in range(5)]
    sheets = _xlsx_rows(b"".join(exports.xlsx_stream(iter(records), False, 64 * 1024, rows_per_sheet=3)))
    assert list(sheets) == ["Phản ánh", "Phản ánh (2)", "Phản ánh (3)"]
    assert [len(rows) for rows in sheets.values()] == [3, 3, 2]  # each with the header
    assert all(rows[0][1] == "Mã phản ánh" for rows in sheets.values())
    assert [row[1] for rows in sheets.values() for row in rows[1:]] == [r["code"] for r in records]
    # and before a sheet's XML outgrows a zip entry without ZIP64 (here: 1 byte, one row per sheet)
    body = b"".join(exports.xlsx_stream(iter(records[:2]), False, 1, exports.XLSX_MAX_ROWS, bytes_per_sheet=1))
    sheets = _xlsx_rows(body)
    assert [rows[1][1] for rows in sheets.values()] == ["PA-0000-0000", "PA-0000-0001"] and len(sheets) == 2


def test_records_come_newest_first_across_batches(api: Api) -> None:
    times = [datetime(2026, 11, day, 3, 0, tzinfo=UTC) for day in (1, 3, 3, 3, 2, 5, 4)]
    codes = [file_ticket(api.container, f"Phản ánh số {i}", "01", "00070", created_at=t) for i, t in enumerate(times)]
    add_official(api.container, "xa.hk", "00070")
    with api.container.scope() as s:
        official_id = s.scalars(select(Official.id)).one()
        ids = {code: ident for code, ident in s.execute(select(Ticket.code, Ticket.id))}
    expected = sorted(codes, key=lambda c: (times[codes.index(c)], ids[c]), reverse=True)
    for batch in (1, 2, 3, 1000):
        seen = exports.iter_records(api.container.scope, official_id, exports.ExportFilter(), batch=batch)
        assert [r["code"] for r in seen] == expected, batch
