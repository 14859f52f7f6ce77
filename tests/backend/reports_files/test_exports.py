"""GET /api/tickets/export: scope, filters, CSV with BOM, XLSX, JSON Lines, contacts for admins only (audited), the
JSON Schema of the exported record, batches."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema_rs
from openpyxl import load_workbook
from sqlalchemy import select

from backend.db.models import AuditLog
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
        official_id = s.scalars(select(exports.Official.id)).one()
    seen = [r["code"] for r in exports.iter_records(api.container.scope, official_id, exports.ExportFilter(), batch=2)]
    assert sorted(seen) == sorted(codes) and len(seen) == 5


def test_mask_personal() -> None:
    text = "Tôi là Lê Văn Cường, sđt +84 912.345.678, email cuong@example.vn; bà Hoa ở ngõ 5 biết rõ, ĐT 0243 826 1234"
    masked = mask_personal(text)
    for secret in ("Lê Văn Cường", "912.345.678", "cuong@example.vn", "Hoa", "0243 826 1234"):
        assert secret not in masked
    assert masked.startswith("Tôi là [họ tên], sđt [số điện thoại], email [email]; bà [họ tên] ở ngõ 5")
    assert mask_personal("Đường 32 hỏng 300 m từ năm 2019") == "Đường 32 hỏng 300 m từ năm 2019"
