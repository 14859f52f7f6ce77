"""The console's ticket page: readable history, citizen panel, overdue badge, template picker, reassign with a unit
picker and a confirmation, status form in workflow order, and a Vietnamese banner or page for every refusal."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from backend.db.models import AuditLog, Citizen, Message, Official, OutboxItem, Ticket, TicketEvent, utcnow
from backend.domain import statuses as st
from backend.domain.deadlines import VN_TZ
from backend.services.security import hash_password
from handlers.ports import TicketDraft
from nlu.vocab import MAX_TEXT

from .conftest import Api, add_official


def _file(api: Api, user: str = "w-1", text: str = "Đèn đường hỏng", *, anonymous: bool = False) -> str:
    with api.container.scope() as s:
        citizen = Citizen(channel="webchat", platform_user_id=user, chat_id=user)
        s.add(citizen)
        s.flush()
        draft = TicketDraft(
            text=text, category="ha_tang", province_code="01", commune_code="00070", anonymous=anonymous
        )
        code = api.container.ops.file(s, citizen, draft).code
        s.commit()
        return code


def _login(api: Api, username: str, code: str) -> str:
    r = api.client.post(
        "/console/login", data={"username": username, "password": "mat-khau-123"}, follow_redirects=False
    )
    assert r.status_code == 303
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', api.client.get(f"/console/tickets/{code}").text)
    assert match
    return match.group(1)


def _officer(api: Api, username: str = "xa.hk", unit: str = "00070", role: str = "officer") -> None:
    with api.container.scope() as s:
        s.add(
            Official(
                username=username,
                full_name="Nguyễn Thị Lan",
                password_hash=hash_password("mat-khau-123"),
                role=role,
                unit_code=unit,
            )
        )
        s.commit()


def _state(api: Api) -> tuple[int, int, list[tuple[str, str, int | None]]]:
    """(events, outbox items, (code, status, duplicate_of) of every ticket): what a refused action must not change."""
    with api.container.scope() as s:
        events = s.scalar(select(func.count()).select_from(TicketEvent)) or 0
        outbox = s.scalar(select(func.count()).select_from(OutboxItem)) or 0
        tickets = [(t.code, t.status, t.duplicate_of) for t in s.scalars(select(Ticket).order_by(Ticket.id))]
        return events, outbox, tickets


def _banner(html: str) -> str:
    found = re.search(r'<p class="(?:ok|error)" role="(?:status|alert)">([^<]*)</p>', html)
    assert found, html[:2000]
    return found.group(1)


def test_the_page_reads_in_vietnamese(api: Api) -> None:
    _officer(api)
    add_official(api.container, "tinh.hn", "01", "supervisor")
    code = _file(api, anonymous=True)
    other = _file(api, "w-2", "Cống tắc ở ngõ khác")
    with api.container.scope() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.code == code)).one()
        ticket.deadline = utcnow() - timedelta(days=1)
        ticket.rating, ticket.rating_comment = 4, "Xử lý nhanh.\nCảm ơn cán bộ."
        for tid, text in ((ticket.id, "Dòng một\nDòng hai"), (None, "Tin nhắn của phản ánh khác")):
            s.add(Message(channel="webchat", direction="in", ticket_id=tid, text=text, citizen_id=ticket.citizen_id))
        s.commit()
    csrf = _login(api, "xa.hk", code)
    api.client.post(f"/console/tickets/{code}/reply", data={"text": "Đã nhận", "csrf": csrf})
    api.client.post(f"/console/tickets/{code}/status", data={"status": "dang_xu_ly", "csrf": csrf})
    api.client.post(f"/console/tickets/{code}/category", data={"category": "moi_truong", "csrf": csrf})
    page = api.client.get(f"/console/tickets/{code}").text

    assert 'id="overdue"' in page and "Quá hạn" in page
    assert "Trò chuyện trên trang web" in page and "Ẩn danh" in page and "4/5" in page
    assert "Xử lý nhanh.\nCảm ơn cán bộ." in page and "Dòng một\nDòng hai" in page  # kept lines (pre-line CSS)
    assert "Tin nhắn của phản ánh khác" not in page and other not in page
    assert f'maxlength="{MAX_TEXT}"' in page
    history = page[page.index('id="history"') :]
    for words in ("Người dân gửi phản ánh", "Trả lời người dân", "Đổi trạng thái", "Sửa lĩnh vực", "Nguyễn Thị Lan"):
        assert words in history, words
    assert "&lt;ha_tang&gt; → &lt;moi_truong&gt;" in history  # category names (the test's texts mark them <...>)
    assert "&lt;da_tiep_nhan&gt; → &lt;dang_xu_ly&gt;" in history
    assert "xa.hk" not in history and "corrected" not in history and "gui_phan_anh" not in history
    # the status form: workflow order, no status chosen in advance, which ones need a note
    form = page[page.index('name="status"') : page.index("</select>", page.index('name="status"'))]
    assert '<option value="" selected disabled>' in form
    workflow = [s for s in st.ALL_STATUSES if s in st.TRANSITIONS[st.DANG_XU_LY]]  # the vocabulary's order
    assert re.findall(r'<option value="([a-z_]+)"', form) == workflow and len(workflow) == 4
    assert form.count("(cần ghi chú)") == 3 and re.search(r'value="da_tra_loi">[^<]*cần ghi chú', form) is None
    assert "Nguyễn Thị Lan" in page[page.index("Cán bộ phụ trách") :]  # the assign control lists the unit's officials


def test_the_template_picker_fills_the_reply_box(api: Api) -> None:
    _officer(api)
    code = _file(api)
    _login(api, "xa.hk", code)
    page = api.client.get(f"/console/tickets/{code}").text
    option = re.search(r'<option value="(\d+)" data-text="([^"]*)">Đã tiếp nhận', page)
    assert option and code in option.group(2) and "Phường Hoàn Kiếm" in option.group(2)
    assert '<script src="/console/static/ticket.js" defer></script>' in page
    # without the script: "Dùng mẫu" reloads the page with the filled text in the box, still editable
    page = api.client.get(f"/console/tickets/{code}", params={"template": option.group(1)}).text
    box = re.search(r'<textarea name="text" id="reply-text"[^>]*>([^<]*)</textarea>', page)
    assert box and code in box.group(1) and "{" not in box.group(1)
    assert "Đã điền mẫu trả lời" in _banner(page)
    page = api.client.get(f"/console/tickets/{code}", params={"template": "99999"}).text
    assert "Không tìm thấy mẫu trả lời" in _banner(page)
    assert api.client.get("/console/static/ticket.js").headers["content-type"].startswith("text/javascript")


def test_reassign_picks_a_unit_by_name_and_asks_for_confirmation(api: Api) -> None:
    _officer(api)
    code = _file(api)
    csrf = _login(api, "xa.hk", code)
    page = api.client.get(f"/console/tickets/{code}").text
    labels = re.findall(r'<option value="([^"]+)"></option>', page)
    assert "Phường Cửa Nam — Thành phố Hà Nội" in labels and "Thành phố Hà Nội" in labels
    assert not any("Hoàn Kiếm" in label for label in labels)  # not the unit that handles it now
    assert "Sài Gòn" not in " ".join(labels)  # an officer hands over near the ticket only
    assert "lý do này được gửi tới người dân" in page
    before = _state(api)
    data = {"unit": "Phường Cửa Nam — Thành phố Hà Nội", "reason": "Đoạn đường\nthuộc Cửa Nam", "csrf": csrf}
    confirm = api.client.post(f"/console/tickets/{code}/reassign", data=data)
    assert confirm.status_code == 200 and "Xác nhận chuyển đơn vị" in confirm.text
    assert "Người dân sẽ nhận được thông báo" in confirm.text and "Phường Cửa Nam" in confirm.text
    assert _state(api) == before  # nothing happens before the confirmation
    r = api.client.post(f"/console/tickets/{code}/reassign", data={**data, "confirm": "1"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console?msg=reassigned"
    with api.container.scope() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.code == code)).one()
        assert ticket.unit_code == "00073"
        note = s.scalars(select(TicketEvent.note).where(TicketEvent.kind == "reassigned")).one()
        assert note == "Đoạn đường\nthuộc Cửa Nam"


BAD_POSTS = [
    # (path, form, banner words)
    ("reply", {"text": "   "}, "Nội dung trả lời phải từ 1 đến 4000 ký tự"),
    ("reply", {"text": "a" * (MAX_TEXT + 1)}, "Nội dung trả lời phải từ 1 đến 4000 ký tự"),
    ("reply", {"text": "x" * 9000, "cluster": "1"}, "Nội dung trả lời phải từ 1 đến 4000 ký tự"),
    ("status", {"status": ""}, "Vui lòng chọn trạng thái mới"),
    ("status", {}, "Vui lòng chọn trạng thái mới"),
    ("status", {"status": "khong_co"}, "Trạng thái không hợp lệ"),
    ("status", {"status": "da_dong"}, "Không thể chuyển phản ánh sang trạng thái này"),
    ("status", {"status": "tu_choi"}, "cần ghi rõ lý do"),
    ("status", {"status": "dang_xu_ly", "note": "n" * (MAX_TEXT + 1)}, "Ghi chú kèm trạng thái dài quá 4000 ký tự"),
    ("note", {"text": ""}, "Ghi chú trống"),
    ("note", {"text": "g" * 9000}, "Ghi chú phải từ 1 đến 4000 ký tự"),
    ("category", {"category": "khong_co"}, "Lĩnh vực không hợp lệ"),
    ("category", {"category": "ha_tang"}, "đúng lĩnh vực này rồi"),
    ("reassign", {"unit": "00073", "reason": "mã gõ tay"}, "Vui lòng chọn đơn vị nhận trong danh sách"),
    ("reassign", {"unit": "Phường Không Có", "reason": "x"}, "Vui lòng chọn đơn vị nhận trong danh sách"),
    ("reassign", {"unit": "Phường Cửa Nam — Thành phố Hà Nội", "reason": "  "}, "Vui lòng ghi lý do"),
    ("reassign", {"unit": "Thành phố Hà Nội", "reason": "r" * 9000}, "Lý do chuyển đơn vị dài quá 4000 ký tự"),
    ("assign", {"username": "tinh.hn"}, "Cán bộ chỉ có thể tự nhận phản ánh"),
    ("unlink", {"member": "PA-0000-0000"}, "Không gỡ được"),
]


def test_every_refusal_is_a_vietnamese_banner_and_changes_nothing(api: Api) -> None:
    _officer(api)
    add_official(api.container, "tinh.hn", "01", "supervisor")
    code = _file(api)
    csrf = _login(api, "xa.hk", code)
    before = _state(api)
    for action, form, words in BAD_POSTS:
        r = api.client.post(f"/console/tickets/{code}/{action}", data={**form, "csrf": csrf})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), (action, form)
        assert words in _banner(r.text), (action, form, _banner(r.text))
        assert '"detail"' not in r.text
        assert _state(api) == before, (action, form)


def test_a_stale_form_or_an_unknown_ticket_gets_a_vietnamese_page(api: Api) -> None:
    _officer(api)
    code = _file(api)
    csrf = _login(api, "xa.hk", code)
    before = _state(api)
    form = {"text": "Trả lời", "status": "dang_xu_ly", "category": "moi_truong", "unit": "Thành phố Hà Nội"}
    for action in ("reply", "status", "note", "category", "reassign", "assign", "unlink"):
        for stale in ("", "0" * 64):
            r = api.client.post(f"/console/tickets/{code}/{action}", data={**form, "reason": "x", "csrf": stale})
            assert r.status_code == 403 and "Phiên làm việc đã hết hạn" in _banner(r.text), action
            assert f'href="/console/tickets/{code}"' in r.text and "CSRF" not in r.text
        r = api.client.post(f"/console/tickets/PA-0000-0000/{action}", data={**form, "reason": "x", "csrf": csrf})
        assert r.status_code == 404 and "Không tìm thấy phản ánh" in _banner(r.text) and '"detail"' not in r.text
    assert _state(api) == before
    r = api.client.get("/console/tickets/PA-0000-0000")
    assert r.status_code == 404 and "Không tìm thấy phản ánh" in _banner(r.text)


def test_the_deadline_is_shown_in_vietnam_time(api: Api) -> None:
    _officer(api)
    code = _file(api)
    with api.container.scope() as s:
        deadline = s.scalars(select(Ticket.deadline).where(Ticket.code == code)).one()
    assert deadline is not None
    _login(api, "xa.hk", code)
    assert deadline.astimezone(VN_TZ).strftime("%d/%m/%Y") in api.client.get(f"/console/tickets/{code}").text


def test_login_and_logout_are_audited_by_the_use_case(api: Api) -> None:
    _officer(api)
    code = _file(api)
    csrf = _login(api, "xa.hk", code)
    r = api.client.post("/console/logout", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    r = api.client.post("/console/login", data={"username": "xa.hk", "password": "sai"})
    assert "Sai tên đăng nhập" in r.text
    with api.container.scope() as s:
        actions = [a.action for a in s.scalars(select(AuditLog).order_by(AuditLog.id)) if "log" in a.action]
    assert actions == ["login", "logout", "login_failed"]
