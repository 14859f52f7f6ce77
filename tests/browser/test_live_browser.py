"""Live updates in chromium: two officials' pages have the list open (desktop 1366 px and phone 390 px); a ticket is
filed; both lists show it without a reload. On a ticket page with a reply being typed, a change shows a banner
instead of reloading. The officials' page and the base layout are photographed at both widths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from backend.app import create_app
from backend.container import Container
from backend.db.migrate import upgrade
from backend.db.models import Citizen, Official, OrgUnit
from backend.services.security import hash_password
from handlers.ports import TicketDraft
from tests.liveserver import embedded_settings, live_server, log_in

SHOTS = Path("/tmp/shots/live")


def _file(container: Container, text: str) -> str:
    with container.scope() as s:
        citizen = s.scalars(select(Citizen).where(Citizen.platform_user_id == "w-live-1")).first()
        if citizen is None:
            citizen = Citizen(channel="webchat", platform_user_id="w-live-1", chat_id="w-live-1")
            s.add(citizen)
            s.flush()
        draft = TicketDraft(text=text, category="ha_tang", province_code="01", commune_code="00070", urgent=True)
        code = container.ops.file(s, citizen, draft).code
        s.commit()
        return code


def _login(browser: Any, url: str, username: str, width: int, height: int) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": width, "height": height})
    problems: list[str] = []  # scripts or styles blocked by the Content-Security-Policy, script errors
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{url}/console/login")
    log_in(page, url, username)
    return page, problems


def _no_sideways_scroll(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), page.url


def test_the_list_updates_live_and_a_draft_is_kept(browser: Any, tmp_path: Path) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
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
        for username, unit, role, full_name in [
            ("canbo.hk", "00070", "officer", "Nguyễn Văn An"),
            ("lanhdao.hn", "01", "supervisor", "Trần Thị Bình"),
        ]:
            s.add(
                Official(
                    username=username,
                    password_hash=hash_password("mat-khau-123"),
                    role=role,
                    unit_code=unit,
                    full_name=full_name,
                )
            )
        s.commit()
    first = _file(container, "Cây đổ chắn ngang phố Hàng Bài")

    with live_server(create_app(settings, container)) as url:
        desk, desk_problems = _login(browser, url, "canbo.hk", 1366, 900)
        phone, phone_problems = _login(browser, url, "lanhdao.hn", 390, 844)
        for page in (desk, phone):
            page.wait_for_selector("html[data-live=on]", timeout=15_000)
            page.evaluate("window.__notReloaded = true")
            assert page.locator(f"text={first}").count() >= 1
        assert desk.locator("a[href='/console/officials']").count() == 0  # officers: no accounts page
        assert phone.locator("a[href='/console/officials']").count() == 1
        desk.wait_for_timeout(800)  # the hub's subscription is in place

        code = _file(container, "Ngập sâu nửa mét ở phố Lê Lợi, xe máy chết máy hàng loạt")
        for page in (desk, phone):
            page.wait_for_selector(f"text={code}", timeout=15_000)
            assert page.evaluate("window.__notReloaded === true")  # updated in place, not reloaded
        desk.screenshot(path=str(SHOTS / "list-live-1366.png"), full_page=True)
        phone.screenshot(path=str(SHOTS / "list-live-390.png"), full_page=True)
        _no_sideways_scroll(phone)

        # a reply being typed on the ticket page is kept: a banner offers to reload instead
        desk.goto(f"{url}/console/tickets/{code}")
        desk.wait_for_selector("html[data-live=on]", timeout=15_000)
        desk.wait_for_timeout(800)
        desk.locator("textarea").first.fill("Chúng tôi đã cử đội thoát nước tới")
        desk.evaluate("window.__notReloaded = true")
        with container.scope() as s:
            from backend.db.models import Ticket

            ticket = s.scalars(select(Ticket).where(Ticket.code == code)).one()
            official = s.scalars(select(Official).where(Official.username == "lanhdao.hn")).one()
            container.ops.add_note(s, official, ticket, "Đã gọi cho phường")
            s.commit()
        desk.wait_for_selector("#live-banner:not([hidden])", timeout=15_000)
        assert "Phản ánh vừa được cập nhật" in desk.inner_text("#live-banner")
        assert desk.locator("textarea").first.input_value() == "Chúng tôi đã cử đội thoát nước tới"
        assert desk.evaluate("window.__notReloaded === true")
        desk.screenshot(path=str(SHOTS / "ticket-banner-1366.png"))
        desk.click("#live-reload")
        desk.wait_for_selector("text=Đã gọi cho phường", timeout=15_000)

        # the supervisor's accounts page, on the phone
        phone.goto(f"{url}/console/officials")
        assert phone.locator("text=canbo.hk").count() >= 1
        phone.screenshot(path=str(SHOTS / "officials-390.png"), full_page=True)
        _no_sideways_scroll(phone)
        phone.click("summary")
        phone.fill("input[name=username]", "canbo.moi")
        phone.fill("form.stack input[name=full_name]", "Lê Văn Cường")
        phone.click("form.stack button[type=submit]")
        phone.wait_for_selector(".temp-password", timeout=15_000)
        assert "Đã tạo tài khoản canbo.moi" in phone.inner_text("main")
        phone.screenshot(path=str(SHOTS / "officials-created-390.png"), full_page=True)
        wide = browser.new_page(viewport={"width": 1366, "height": 900})
        wide.context.add_cookies(phone.context.cookies())
        wide.goto(f"{url}/console/officials")
        wide.screenshot(path=str(SHOTS / "officials-1366.png"), full_page=True)
        favicon = wide.request.get(f"{url}/console/static/favicon.svg")
        assert favicon.ok and favicon.headers["content-type"].startswith("image/svg+xml")
        assert desk_problems == [] and phone_problems == []
