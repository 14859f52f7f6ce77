"""An official links Telegram from the console in a real browser: the page shows a one-time code, the (fake)
Telegram user sends ``/lienket CODE`` to the bot, and the page then shows the link (desktop and phone widths)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from backend.app import create_app
from backend.container import Container
from backend.db.migrate import upgrade
from backend.db.models import Official
from backend.db.official_links_models import OfficialChannelLink
from backend.services.security import hash_password
from tests.fakes.telegram_server import fake_telegram
from tests.liveserver import embedded_settings, live_server, log_in, wait_for

SECRET = "webhook-Secret_123"
SHOTS = Path("/tmp/shots/tgofficials")


def test_the_console_links_a_telegram_account(browser: Any, tmp_path: Path) -> None:
    with fake_telegram() as fake:
        settings = embedded_settings(
            tmp_path,
            run_workers=True,
            bootstrap_model=False,
            telegram_token=fake.token,
            telegram_secret=SECRET,
            telegram_api_url=fake.base_url,
            outbox_base_delay=0.05,
            outbox_max_delay=0.2,
        )
        container = Container(settings)
        upgrade(container.engine)
        with container.scope() as s:
            from backend.services.units import seed_units

            seed_units(s)
            s.add(
                Official(
                    username="canbo.hk",
                    password_hash=hash_password("mat-khau-123"),
                    role="officer",
                    unit_code="00070",
                    full_name="Nguyễn Văn An",
                )
            )
            s.commit()
        SHOTS.mkdir(parents=True, exist_ok=True)
        with live_server(create_app(settings, container)) as url:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"{url}/console/login")
            log_in(page, url, "canbo.hk")
            page.goto(f"{url}/console/account")
            assert "Chưa liên kết Telegram" in page.inner_text("#telegram")
            page.click("#tg-link")
            code = page.get_attribute("[data-code]", "data-code")
            assert code is not None and f"/lienket {code}" in page.inner_text("#telegram")
            page.screenshot(path=str(SHOTS / "account-code-1366.png"), full_page=True)

            update = {
                "update_id": 91_001,
                "message": {
                    "message_id": 91_001,
                    "date": 1800000000,
                    "text": f"/lienket {code}",
                    "chat": {"id": 8801, "type": "private"},
                    "from": {"id": 8801, "is_bot": False, "first_name": "An", "last_name": "Nguyễn"},
                },
            }
            r = httpx.post(f"{url}/webhooks/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
            assert r.status_code == 200
            wait_for(lambda: any("Đã liên kết Telegram này" in c["text"] for c in fake.sent()))

            page.reload()  # the form was posted: reload shows the link, no code any more
            page.goto(f"{url}/console/account")
            status = page.inner_text("[data-telegram]")
            assert "Đã liên kết với Telegram của An Nguyễn" in status
            assert page.query_selector("[data-code]") is None
            page.screenshot(path=str(SHOTS / "account-linked-1366.png"), full_page=True)

            page.set_viewport_size({"width": 390, "height": 844})
            page.reload()
            assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
            page.screenshot(path=str(SHOTS / "account-linked-390.png"), full_page=True)
            page.click("#tg-unlink")
            assert "Đã huỷ liên kết Telegram. Đồng chí" in page.inner_text("main p.ok")
            page.click("#tg-link")
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            page.screenshot(path=str(SHOTS / "account-code-390.png"), full_page=True)
            page.close()
            assert problems == []
        with container.scope() as s:
            assert list(s.scalars(select(OfficialChannelLink))) == []
        container.close()
