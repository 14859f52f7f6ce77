"""/console/reports in Debian's chromium: the charts render under the console's CSP (checked on a screenshot), the
drill-down works by clicking, and the public page shows on a phone-sized screen."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from backend.app import create_app
from backend.config import Settings
from backend.container import Container
from backend.db.migrate import upgrade
from backend.db.models import Official, OrgUnit
from backend.services.security import hash_password
from tests.backend.api.conftest import UNITS
from tests.browser.conftest import browser  # noqa: F401  (the shared chromium)
from tests.liveserver import live_server

from .conftest import Api
from .test_summary_api import known_data

pytestmark = pytest.mark.browser


def red_pixels(png: bytes) -> int:
    """Pixels of the charts' red (#b71c1c), give or take antialiasing."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int(((rgb[..., 0] > 150) & (rgb[..., 1] < 60) & (rgb[..., 2] < 60)).sum())


def test_charts_render_and_drill_down_in_chromium(browser: Any, tmp_path: Path) -> None:  # noqa: F811
    settings = Settings(
        _env_file=None,
        environment="test",
        database_url=f"sqlite:///{tmp_path / 'r.db'}",
        run_workers=False,
        model_dir=tmp_path / "models",
    )
    container = Container(settings)
    upgrade(container.engine)
    with container.scope() as s:
        for code, name, level, parent in UNITS:
            s.add(OrgUnit(code=code, name=name, short_name=name, level=level, parent_code=parent))
            s.flush()
        s.add(Official(username="tw.admin", password_hash=hash_password("mat-khau-123"), role="admin", unit_code="TW"))
        s.commit()
    known_data(Api(client=None, container=container))  # type: ignore[arg-type]

    with live_server(create_app(settings, container)) as url:
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        problems: list[str] = []  # anything blocked by the Content-Security-Policy, script errors
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(f"{url}/console/login")
        page.fill("input[name=username]", "tw.admin")
        page.fill("input[name=password]", "mat-khau-123")
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}/console")
        page.click("text=Báo cáo tổng hợp")
        page.wait_for_url(f"{url}/console/reports")
        page.goto(f"{url}/console/reports?from=2026-11-01&to=2026-11-30")
        charts = page.locator("img.chart")
        assert charts.count() >= 3
        sizes = page.eval_on_selector_all("img.chart", "els => els.map(e => [e.complete, e.naturalWidth])")
        assert all(done and width > 100 for done, width in sizes), sizes
        shot = charts.first.screenshot()  # the category bars: red bars must be on the screen
        assert red_pixels(shot) > 500
        page.screenshot(path=str(tmp_path / "reports.png"), full_page=True)
        page.click("table.children >> text=Thành phố Hà Nội")
        page.wait_for_url("**/console/reports?unit=01*")
        assert "Phường Hoàn Kiếm" in page.inner_text("table.children")
        page.click("table.children >> text=Phường Hoàn Kiếm")
        page.wait_for_url("**/console/reports?unit=00070*")
        assert "Phường Hoàn Kiếm" in page.inner_text("h2 + p")
        assert problems == []

        phone = browser.new_page(viewport={"width": 390, "height": 844})
        phone.goto(f"{url}/cong-khai")
        assert "Công khai số liệu" in phone.inner_text("h2")
        assert red_pixels(phone.locator(".chart-wrap.category img.chart").screenshot()) > 100  # the bars by field
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling of the page
        phone.close()
        page.close()
