"""A citizen in the web chat, in a real browser: answered buttons are disabled, "Gửi vị trí hiện tại" sends the
browser's position, and a reloaded page (also on a 390 px phone) shows the whole conversation with the ticket code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from backend.app import create_app
from backend.container import Container
from tests.liveserver import embedded_settings, live_server

SHOTS = Path("/tmp/shots/conversation")
CODE = re.compile(r"PA-[0-9A-Z]{4}-[0-9A-Z]{4}")


def _bot_text(page: Any) -> str:
    return str(page.inner_text("#log"))


def _wait_text(page: Any, fragment: str) -> None:
    page.wait_for_function("f => document.getElementById('log').innerText.includes(f)", arg=fragment, timeout=20000)


def test_web_chat_in_a_browser(browser: Any, tmp_path: Path, trained_model_dir: Path) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    settings = embedded_settings(
        tmp_path,
        model_dir=trained_model_dir,
    )
    container = Container(settings)
    with live_server(create_app(settings, container)) as url:
        context = browser.new_context(
            viewport={"width": 1366, "height": 900},
            permissions=["geolocation"],
            geolocation={"latitude": 21.02851, "longitude": 105.85427},
        )
        page = context.new_page()
        page.goto(f"{url}/chat")
        _wait_text(page, "13/2023")
        consent = page.get_by_role("button", name="Đồng ý", exact=True)
        consent.click()
        _wait_text(page, "Cảm ơn Ông/Bà đã đồng ý")
        assert consent.is_disabled()  # answered: the row no longer applies

        page.fill("#t", "Đèn đường hỏng cả tháng nay, tối đi lại rất nguy hiểm")
        page.keyboard.press("Enter")
        _wait_text(page, "ở đâu")
        assert page.get_by_role("button", name="Không rõ địa điểm").is_enabled()
        page.get_by_role("button", name="Gửi vị trí hiện tại").click()
        _wait_text(page, "Ông/Bà có muốn gửi không?")
        if "lĩnh vực nào" in _bot_text(page):
            page.get_by_role("button", name="Hạ tầng, điện, nước").click()
        assert "vị trí 21.02851, 105.85427" in _bot_text(page)
        page.get_by_role("button", name="Gửi phản ánh").last.click()
        _wait_text(page, "đã được tiếp nhận với mã")
        code = CODE.search(_bot_text(page))
        assert code
        page.screenshot(path=str(SHOTS / "webchat-1366.png"), full_page=True)
        before = _bot_text(page)

        page.reload()
        _wait_text(page, code.group(0))
        after = _bot_text(page)
        for line in ("Đèn đường hỏng cả tháng nay", "Ông/Bà có muốn gửi không?", code.group(0)):
            assert line in after
        assert len(after) >= len(before) - 40  # the page restarted with the same conversation, not a new greeting
        assert page.locator(".btns button:enabled").count() == 0  # every question there was answered
        session = page.evaluate("localStorage.getItem('gopy-webchat-session')")

        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
        phone.add_init_script(f"localStorage.setItem('gopy-webchat-session', {session!r})")
        small = phone.new_page()
        small.goto(f"{url}/chat")
        _wait_text(small, code.group(0))
        small.screenshot(path=str(SHOTS / "webchat-390.png"), full_page=True)
        assert small.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
        phone.close()
        context.close()
    container.close()
