"""An official logs in to the console in a real browser, opens a ticket, replies and changes its status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from backend.app import create_app
from backend.container import Container
from backend.db.migrate import upgrade
from backend.db.models import Citizen, Official, OrgUnit, OutboxItem, Ticket
from backend.services.security import hash_password
from handlers.ports import TicketDraft
from tests.liveserver import embedded_settings, live_server, log_in


class Texts:
    def render(self, key: str, /, **kw: object) -> str:
        return f"{key}: {kw.get('text', '')}"

    def status_name(self, code: str) -> str:
        return {"moi": "Mới", "da_tiep_nhan": "Đã tiếp nhận", "dang_xu_ly": "Đang xử lý"}.get(code, code)

    def category_name(self, code: str) -> str:
        return {"ha_tang": "Hạ tầng"}.get(code, code)


def test_official_works_a_ticket_in_the_browser(browser: Any, tmp_path: Path) -> None:
    settings = embedded_settings(tmp_path)
    container = Container(settings)
    upgrade(container.engine)
    with container.scope() as s:
        for code, name, level, parent in [
            ("TW", "Ủy ban Trung ương MTTQ Việt Nam", "central", None),
            ("01", "Thành phố Hà Nội", "province", "TW"),
            ("00070", "Phường Hoàn Kiếm", "commune", "01"),
        ]:
            s.add(OrgUnit(code=code, name=name, short_name=name, level=level, parent_code=parent))
            s.flush()
        s.add(
            Official(
                username="canbo.hk",
                password_hash=hash_password("mat-khau-123"),
                role="officer",
                unit_code="00070",
                full_name="Nguyễn Văn An",
            )
        )
        citizen = Citizen(channel="webchat", platform_user_id="w-browser-1", chat_id="w-browser-1")
        s.add(citizen)
        s.flush()
        container.texts = Texts()
        code = container.ops.file(
            s,
            citizen,
            TicketDraft(
                text="Đèn đường phố Hàng Bài hỏng cả tuần nay",
                category="ha_tang",
                province_code="01",
                commune_code="00070",
            ),
        ).code
        s.commit()

    with live_server(create_app(settings, container)) as url:
        page = browser.new_page()
        problems: list[str] = []  # scripts or styles blocked by the Content-Security-Policy, script errors
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(f"{url}/console")
        assert page.url.endswith("/console/login")
        page.fill("input[name=username]", "canbo.hk")
        page.fill("input[name=password]", "sai-mat-khau")
        page.click("button[type=submit]")
        assert "Sai tên đăng nhập" in page.inner_text("[role=alert]")
        log_in(page, url, "canbo.hk")
        assert "Nguyễn Văn An" in page.inner_text("header")
        page.click(f"text={code}")
        page.wait_for_url(f"{url}/console/tickets/{code}")
        assert "Đèn đường phố Hàng Bài" in page.inner_text("main")
        page.fill("textarea[name=text] >> nth=0", "Chúng tôi đã báo Công ty Chiếu sáng đô thị.")
        page.click("text=Gửi trả lời")
        assert "Đã gửi trả lời" in page.inner_text("p[role=status]")
        assert page.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor") == "rgb(183, 28, 28)"
        page.select_option("select[name=status]", "dang_xu_ly")
        page.click("button:has-text('Cập nhật')")
        assert "Đang xử lý" in page.inner_text("#status")
        page.screenshot(path=str(tmp_path / "console.png"), full_page=True)
        # the filters sit behind "Bộ lọc và sắp xếp" and apply with one button
        page.goto(f"{url}/console")
        page.click("summary:has-text('Bộ lọc và sắp xếp')")
        page.select_option("select[name=status]", "dang_xu_ly")
        page.click("button:has-text('Áp dụng')")
        page.wait_for_url("**/console?*status=dang_xu_ly*")
        assert code in page.inner_text("main")
        # logging out ends the session on the server: the old cookie no longer opens the console
        cookies = page.context.cookies()
        page.click("text=Đăng xuất")
        page.wait_for_url(f"{url}/console/login?msg=logged_out")
        assert "Bạn đã đăng xuất" in page.inner_text("p[role=status]")
        page.context.add_cookies(cookies)
        page.goto(f"{url}/console")
        assert page.url.endswith("/console/login")
        page.close()
        assert problems == []

    with container.scope() as s:
        assert s.scalars(select(Ticket)).one().status == "dang_xu_ly"
        texts = [i.text for i in s.scalars(select(OutboxItem).order_by(OutboxItem.id))]
        assert texts[0] == "notify_reply: Chúng tôi đã báo Công ty Chiếu sáng đô thị."
    container.close()
