"""The ticket page in chromium: pick a reply template, edit it, send; reassign with the unit picker and the
confirmation; on a 390 px phone the page does not scroll sideways and the actions sit below the text."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import select

from backend.app import create_app
from backend.config import Settings
from backend.container import Container
from backend.db.migrate import upgrade
from backend.db.models import Citizen, Message, Official, OrgUnit, OutboxItem, Ticket
from backend.services.security import hash_password
from handlers.ports import TicketDraft
from tests.liveserver import embedded_settings, live_server, log_in

SHOTS = Path(os.environ.get("GOPY_SHOTS_DIR", "/tmp/shots/ticket"))
UNITS = [
    ("TW", "Ủy ban Trung ương MTTQ Việt Nam", "central", None),
    ("01", "Thành phố Hà Nội", "province", "TW"),
    ("00070", "Phường Hoàn Kiếm", "commune", "01"),
    ("00073", "Phường Cửa Nam", "commune", "01"),
]


def _world(tmp_path: Path) -> tuple[Settings, Container, list[str]]:
    settings = embedded_settings(tmp_path)
    container = Container(settings)
    upgrade(container.engine)
    codes = []
    with container.scope() as s:
        for code, name, level, parent in UNITS:
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
        s.commit()  # the units exist before the first report is routed (the router reads their names)
        for i, text in enumerate(
            [
                "Đèn đường phố Hàng Bài hỏng cả tuần nay, buổi tối rất tối và nguy hiểm cho người đi bộ",
                "Cống thoát nước trước nhà số 12 phố Tràng Tiền bị tắc, nước tràn lên vỉa hè mỗi khi mưa",
                "cong thoat nuoc truoc nha so 12 pho trang tien bi tac, nuoc tran len via he moi khi mua",
            ]
        ):
            citizen = Citizen(channel="telegram", platform_user_id=f"tg-{i}", chat_id=f"tg-{i}")
            s.add(citizen)
            s.flush()
            draft = TicketDraft(text=text, category="ha_tang", province_code="01", commune_code="00070")
            ticket = container.ops.file(s, citizen, draft)
            s.add(
                Message(
                    channel="telegram",
                    direction="in",
                    citizen_id=citizen.id,
                    ticket_id=ticket.id,
                    text=f"{text}\nXin cảm ơn cán bộ.",
                )
            )
            codes.append(ticket.code)
        s.commit()
    return settings, container, codes


def _login(page: Any, url: str) -> None:
    page.goto(f"{url}/console/login")
    log_in(page, url, "canbo.hk")


def test_template_reply_and_reassign_in_the_browser(browser: Any, tmp_path: Path) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    settings, container, (first, second, third) = _world(tmp_path)
    with live_server(create_app(settings, container)) as url:
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        problems: list[str] = []  # scripts or styles blocked by the Content-Security-Policy, script errors
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        _login(page, url)
        page.goto(f"{url}/console/tickets/{first}")
        assert "Xin cảm ơn cán bộ." in page.inner_text(".ticket-main")
        assert not page.is_visible("#template-picker button")  # with the script, choosing fills at once
        label = page.locator("#template option", has_text="Đã tiếp nhận").inner_text()
        page.select_option("#template", label=label)
        filled = page.input_value("#reply-text")
        assert first in filled and "Phường Hoàn Kiếm" in filled and "{" not in filled
        page.fill("#reply-text", filled + " Cán bộ phụ trách: Nguyễn Văn An.")
        page.screenshot(path=str(SHOTS / "ticket-1366.png"), full_page=True)
        page.click("text=Gửi trả lời")
        assert "Đã gửi trả lời" in page.inner_text("p.ok[role=status]")

        # reassign: pick the unit by its name in the list, give a reason, confirm on the next page
        options = page.eval_on_selector_all("#unit-choices option", "els => els.map(e => e.value)")
        assert "Phường Cửa Nam — Thành phố Hà Nội" in options
        page.fill("#reassign-unit", "Phường Cửa Nam — Thành phố Hà Nội")
        page.fill("#reassign-reason", "Đoạn phố này thuộc địa bàn phường Cửa Nam.")
        page.click('button:has-text("Tiếp tục…")')
        assert "Phường Cửa Nam" in page.inner_text("#confirm-unit")
        assert "Người dân sẽ nhận được thông báo" in page.inner_text("main")
        page.screenshot(path=str(SHOTS / "reassign-confirm-1366.png"), full_page=True)
        page.click('button:has-text("Xác nhận chuyển")')
        page.wait_for_url(f"{url}/console?msg=reassigned")
        page.close()

        # a phone: no sideways scrolling, the actions come after the ticket's text
        phone = browser.new_page(viewport={"width": 390, "height": 844})
        phone.on("pageerror", lambda e: problems.append(str(e)))
        _login(phone, url)
        phone.goto(f"{url}/console/tickets/{second}")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        text_box = phone.locator(".ticket-main").bounding_box()
        actions = phone.locator(".ticket-actions").bounding_box()
        assert text_box and actions and actions["y"] >= text_box["y"] + text_box["height"] - 1
        phone.screenshot(path=str(SHOTS / "ticket-390.png"), full_page=True)
        phone.select_option("#template", index=1)
        assert second in phone.input_value("#reply-text")
        # a reply to the whole duplicate cluster: first a page listing every ticket it will reach
        phone.check("input[name=cluster]")
        phone.click('button:has-text("Gửi trả lời")')
        assert "Gửi cho 2 phản ánh" in phone.inner_text("main")
        assert second in phone.inner_text("#cluster-members") and third in phone.inner_text("#cluster-members")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        phone.screenshot(path=str(SHOTS / "cluster-preview-390.png"), full_page=True)
        phone.go_back()
        phone.fill("#reassign-unit", "Thành phố Hà Nội")
        phone.fill("#reassign-reason", "Cần thành phố chỉ đạo.")
        phone.click('button:has-text("Tiếp tục…")')
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        phone.screenshot(path=str(SHOTS / "reassign-confirm-390.png"), full_page=True)
        phone.close()
        assert problems == []

    with container.scope() as s:
        tickets = {t.code: t for t in s.scalars(select(Ticket))}
        assert tickets[first].unit_code == "00073" and tickets[second].unit_code == "00070"
        sent = [o.text for o in s.scalars(select(OutboxItem).where(OutboxItem.ticket_id == tickets[first].id))]
        assert any("Cán bộ phụ trách: Nguyễn Văn An." in text and first in text for text in sent)
    container.close()
