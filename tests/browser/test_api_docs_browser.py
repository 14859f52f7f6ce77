"""The API documentation (/docs) renders in a real browser, from this server's files only: the operations are listed
(Swagger UI 4 could not read the OpenAPI 3.1 document FastAPI writes and showed "Unable to render this definition"),
the platform webhook is among them, and the page works on a 390 px phone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from backend.app import create_app
from backend.container import Container
from tests.liveserver import embedded_settings, live_server

SHOTS = Path("/tmp/shots/docs")


def test_the_api_documentation_renders(browser: Any, tmp_path: Path, trained_model_dir: Path) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    settings = embedded_settings(
        tmp_path,
        model_dir=trained_model_dir,
        telegram_token="123:abc",
        telegram_secret="docs-secret",
    )
    container = Container(settings)
    with live_server(create_app(settings, container)) as url:
        for width, height in ((1366, 900), (390, 844)):
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            requested: list[str] = []
            page.on("request", lambda r, seen=requested: seen.append(r.url))
            page.goto(f"{url}/docs")
            page.wait_for_selector(".opblock", timeout=20000)
            text = page.inner_text("body")
            assert "Unable to render" not in text
            assert "/api/tickets" in text and "/webhooks/{name}" in text
            webhook = page.locator("#operations-webhooks-webhook")
            webhook.locator(".opblock-summary").click()
            page.wait_for_selector("#operations-webhooks-webhook .responses-table", timeout=10000)
            assert "body over 256,000 bytes" in webhook.inner_text()  # the 413 row
            page.screenshot(path=str(SHOTS / f"docs-{width}.png"))
            webhook.screenshot(path=str(SHOTS / f"webhook-{width}.png"))
            assert [r for r in requested if not r.startswith(url)] == []  # no CDN, nothing from elsewhere
            context.close()
    container.close()
