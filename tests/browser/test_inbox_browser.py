"""The inbox in chromium: urgent first, search without diacritics, filters, keyboard, assignment shown, a saved
view, and a phone-sized screen with no sideways scrolling."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from backend.app import create_app
from backend.config import Settings
from backend.container import Container
from backend.db.migrate import upgrade
from backend.db.models import Citizen, Official, OrgUnit, Ticket, utcnow
from backend.services.security import hash_password
from handlers.ports import TicketDraft
from tests.liveserver import embedded_settings, live_server, log_in

SHOTS = Path(os.environ.get("GOPY_SHOTS_DIR", "/tmp/shots/inbox"))


class Texts:
    def render(self, key: str, /, **kw: object) -> str:
        return key

    def status_name(self, code: str) -> str:
        return {"moi": "Mới", "da_tiep_nhan": "Đã tiếp nhận", "dang_xu_ly": "Đang xử lý"}.get(code, code)

    def category_name(self, code: str) -> str:
        return {"ha_tang": "Hạ tầng", "moi_truong": "Môi trường"}.get(code, code)


def _world(tmp_path: Path) -> tuple[Settings, Container, dict[str, str]]:
    settings = embedded_settings(tmp_path)
    container = Container(settings)
    upgrade(container.engine)
    container.texts = Texts()  # type: ignore[assignment]
    codes: dict[str, str] = {}
    with container.scope() as s:
        for code, name, level, parent in [
            ("TW", "Ủy ban Trung ương MTTQ Việt Nam", "central", None),
            ("01", "Thành phố Hà Nội", "province", "TW"),
            ("00070", "Phường Hoàn Kiếm", "commune", "01"),
            ("00073", "Phường Cửa Nam", "commune", "01"),
        ]:
            s.add(OrgUnit(code=code, name=name, short_name=name, level=level, parent_code=parent))
            s.flush()
        for username, unit, role in (("tinh.hn", "01", "supervisor"), ("canbo.hk", "00070", "officer")):
            s.add(Official(username=username, password_hash=hash_password("mat-khau-123"), role=role, unit_code=unit))
        citizen = Citizen(channel="webchat", platform_user_id="w-inbox", chat_id="w-inbox")
        s.add(citizen)
        s.flush()
        now = utcnow()
        tickets: list[tuple[str, str, str, str, dict[str, Any]]] = [
            ("lamp", "Đèn đường phố Hàng Bài hỏng cả tuần nay", "00070", "ha_tang",
             {"deadline": now + timedelta(days=2)}),
            ("trash", "Rác thải tồn đọng ở chợ, bốc mùi", "00073", "moi_truong",
             {"deadline": now - timedelta(days=1, hours=2), "overdue": True}),
            ("flood", "Nước ngập sâu nửa mét, xe chết máy hàng loạt " + "rất nguy hiểm " * 12, "00070", "ha_tang",
             {"urgent": True, "location_text": "đường Lê Lợi", "deadline": now + timedelta(hours=5)}),
        ]  # fmt: skip
        for key, text, commune, category, fields in tickets:
            ticket = container.ops.file(
                s, citizen, TicketDraft(text=text, category=category, province_code="01", commune_code=commune)
            )
            for name, value in fields.items():
                setattr(ticket, name, value)
            codes[key] = ticket.code
        s.commit()
    return settings, container, codes


def _no_sideways_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_an_official_finds_filters_and_opens_tickets(browser: Any, tmp_path: Path) -> None:
    settings, container, codes = _world(tmp_path)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with live_server(create_app(settings, container)) as url:
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        problems: list[str] = []  # scripts blocked by the Content-Security-Policy, script errors
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(f"{url}/console/login")
        log_in(page, url, "tinh.hn")

        rows = page.locator(".inbox-list tbody tr")
        assert rows.count() == 3
        assert codes["flood"] in rows.nth(0).inner_text()  # urgent first, then overdue, then the nearest deadline
        assert codes["trash"] in rows.nth(1).inner_text() and codes["lamp"] in rows.nth(2).inner_text()
        assert "row-urgent" in (rows.nth(0).get_attribute("class") or "")
        assert "row-overdue" in (rows.nth(1).get_attribute("class") or "")
        assert "còn 5 giờ" in rows.nth(0).inner_text() or "còn 4 giờ" in rows.nth(0).inner_text()
        assert "quá hạn 1 ngày" in rows.nth(1).inner_text()
        page.screenshot(path=str(SHOTS / "list-1366.png"), full_page=True)

        page.keyboard.press("/")  # the search box takes the focus
        assert page.evaluate("document.activeElement.id") == "q"
        page.keyboard.type("ngap sau le loi")
        page.keyboard.press("Enter")
        page.wait_for_url("**/console?q=ngap+sau+le+loi")
        assert rows.count() == 1 and codes["flood"] in rows.nth(0).inner_text()

        page.goto(f"{url}/console")  # filters: the unit picker and the category
        page.click("summary")
        page.select_option("select[name=unit]", "00073")
        page.click("text=Áp dụng")
        page.wait_for_url("**/console?unit=00073")
        assert rows.count() == 1 and codes["trash"] in rows.nth(0).inner_text()
        page.click(".tabs >> text=Khẩn")  # a built-in view
        assert rows.count() == 1 and codes["flood"] in rows.nth(0).inner_text()

        with container.scope() as s:  # the ticket page assigns (another helper's form); the list shows it
            tinh = s.scalars(select(Official).where(Official.username == "tinh.hn")).one()
            container.cases.assign(s, tinh, codes["lamp"], "canbo.hk")
        page.goto(f"{url}/console?assignee=canbo.hk")
        assert rows.count() == 1 and "canbo.hk" in rows.nth(0).inner_text()

        page.fill("input[name=name]", "Đèn của An")  # saved view
        page.click(".save-view button[type=submit]")
        page.wait_for_url("**/console?assignee=canbo.hk&msg=view_saved")
        page.goto(f"{url}/console")
        page.click(".tabs >> text=Đèn của An")
        assert rows.count() == 1 and codes["lamp"] in rows.nth(0).inner_text()

        page.goto(f"{url}/console")
        page.keyboard.press("j")
        page.keyboard.press("j")
        page.keyboard.press("k")
        assert "selected" in (rows.nth(0).get_attribute("class") or "")
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/console/tickets/{codes['flood']}")

        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"{url}/console")
        assert _no_sideways_scroll(page), "the list scrolls sideways on a phone"
        page.screenshot(path=str(SHOTS / "list-390.png"), full_page=True)
        page.click("summary")
        assert _no_sideways_scroll(page), "the open filters scroll sideways on a phone"
        page.screenshot(path=str(SHOTS / "list-390-filters.png"), full_page=True)
        assert problems == [], problems

    with container.scope() as s:
        assert s.scalars(select(Ticket.assignee).where(Ticket.code == codes["lamp"])).one() == "canbo.hk"
    container.close()
