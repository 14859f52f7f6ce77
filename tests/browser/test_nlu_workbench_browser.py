"""An admin uses the NLU workbench in chromium: labels a correction from the keyboard, trains a model (the progress
bar reaches done), reads the evaluation and activates the model; an officer sees no link and gets 403."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import select

from backend.app import create_app
from backend.config import bundled_data_dir
from backend.container import Container
from backend.db.migrate import upgrade
from backend.db.models import Citizen, NluCorrection, Official, OrgUnit
from backend.services.security import hash_password
from backend.workers.nlu_train import NluTrainWorker
from handlers.ports import TicketDraft
from nlu.store import ModelStore
from tests.liveserver import embedded_settings, live_server, log_in
from tests.nlu_small import small_data_dir

SHOTS = Path("/tmp/shots/workbench")


def _setup(tmp_path: Path) -> Container:
    settings = embedded_settings(
        tmp_path,
        data_dir=small_data_dir(bundled_data_dir(), tmp_path / "data"),
    )
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
        for username, role, unit in (("quan.tri", "admin", "TW"), ("canbo.hk", "officer", "00070")):
            s.add(Official(username=username, password_hash=hash_password("mat-khau-123"), role=role, unit_code=unit))
        citizen = Citizen(channel="webchat", platform_user_id="w-nlu-1", chat_id="w-nlu-1")
        s.add(citizen)
        s.flush()
        for text, confidence in (("Cột điện nghiêng sắp đổ ngay đầu ngõ", 0.9), ("Chỗ tôi có chuyện cần báo", 0.3)):
            draft = TicketDraft(
                text=text,
                category="moi_truong",
                category_confidence=confidence,
                province_code="01",
                commune_code="00070",
            )
            container.ops.file(s, citizen, draft)
        s.commit()
    return container


class _Worker(threading.Thread):
    """The nlu-train worker, as `gopy worker` runs it, beside the live server."""

    def __init__(self, container: Container) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        s = container.settings
        self.worker = NluTrainWorker(container.scope, container.kv, s.database_url, s.model_dir, s.data_dir)

    def run(self) -> None:
        while not self.stop.is_set():
            asyncio.run(self.worker.run_once())
            self.stop.wait(0.5)


def _login(page: Any, url: str, username: str) -> None:
    page.goto(f"{url}/console/login")
    log_in(page, url, username)


def _shots(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name} scrolls sideways at {width}"
    page.set_viewport_size({"width": 1366, "height": 900})


def test_an_admin_labels_trains_and_activates_in_the_browser(browser: Any, tmp_path: Path) -> None:
    container = _setup(tmp_path)
    with container.scope() as s:  # an officer corrects the first ticket's category (the console's use case)
        officer = s.scalars(select(Official).where(Official.username == "canbo.hk")).one()
        first = container.ops.list_for(s, officer)[0][-1].code  # newest first
        container.cases.correct_category(s, officer, first, "an_ninh_trat_tu")
    worker = _Worker(container)
    worker.start()
    try:
        with live_server(create_app(container.settings, container)) as url:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.set_default_timeout(120_000)  # a loaded shared machine: activation loads the model to check it
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))

            _login(page, url, "quan.tri")
            page.goto(f"{url}/console/nlu")
            problems.clear()  # only this page's problems count (the ticket list is another helper's work)
            assert page.locator("header nav a[href='/console/nlu']").count() == 1
            assert page.locator("#queue .nlu-item").count() == 1
            assert page.locator("#unsure .nlu-item").count() == 1
            _shots(page, "nlu-queues")

            # keyboard: j selects the correction, 3 picks "Hạ tầng", Enter accepts it; the item leaves the queue
            page.keyboard.press("j")
            page.keyboard.press("3")
            assert page.locator("#queue .nlu-item.selected select").input_value() == "gui_phan_anh/ha_tang"
            page.keyboard.press("Enter")
            page.wait_for_selector("#queue .nlu-item", state="detached")

            page.click("#nlu-train")
            page.wait_for_url(f"{url}/console/nlu?msg=nlu_train_queued&job=1#train")
            assert page.locator("#nlu-progress").count() == 1
            page.wait_for_selector("#nlu-job[data-status=done]", timeout=180_000)  # the page reloads when done
            assert "Hoàn tất" in page.inner_text("#nlu-job")
            assert page.locator("#nlu-progress").get_attribute("value") == "1.0"
            assert "Bộ kiểm thử thực tế" in page.inner_text("#report")
            page.wait_for_load_state("load")
            assert page.evaluate("document.querySelector('.nlu-matrix img').naturalWidth") > 0
            _shots(page, "nlu-report")

            page.click("#models button:has-text('Kích hoạt')")
            assert "Đã kích hoạt mô hình" in page.inner_text("main [role=status]")
            assert "đang dùng" in page.inner_text("#models")
            assert "Kích hoạt mô hình" in page.inner_text("#trail")
            _shots(page, "nlu-models")

            page.click("text=Đăng xuất")
            page.wait_for_url(f"{url}/console/login?msg=logged_out")
            _login(page, url, "canbo.hk")
            response = page.goto(f"{url}/console/nlu")
            assert response is not None and response.status == 403
            assert page.locator("header nav a[href='/console/nlu']").count() == 0  # no link for officers
            assert "Chỉ quản trị viên" in page.inner_text("main [role=alert]")
            problems = [p for p in problems if "403" not in p]  # the refused page itself
            page.close()
            assert problems == []
    finally:
        worker.stop.set()
        worker.join(timeout=30)

    with container.scope() as s:
        row = s.scalars(select(NluCorrection)).one()
        assert (row.status, row.label, row.reviewer) == ("accepted", "gui_phan_anh/ha_tang", "quan.tri")
    store = ModelStore(container.settings.model_dir)
    assert store.active_version() == store.versions()[0].version
    container.close()
