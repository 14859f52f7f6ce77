"""/docs works without a CDN: the page names no external URL, its Swagger UI files are served here, and its
Content-Security-Policy allows exactly its own inline script."""

from __future__ import annotations

import re

from backend.security_headers import inline_hashes
from tests.backend.api.conftest import Api


def test_docs_load_from_this_server_only(api: Api) -> None:
    page = api.client.get("/docs")
    assert page.status_code == 200
    html = page.text
    assert "http://" not in html and "https://" not in html  # no CDN, no external icon
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sorted(assets) == [
        "/docs/assets/favicon.svg",
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
    ]
    types = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}
    for url in assets:
        r = api.client.get(url)
        assert r.status_code == 200, url
        assert r.headers["content-type"].startswith(types[url.rsplit(".", 1)[1]])
        assert len(r.content) > 100
    assert b"SwaggerUIBundle" in api.client.get("/docs/assets/swagger-ui-bundle.js").content
    csp = page.headers["content-security-policy"]
    assert "script-src 'self' " + inline_hashes(html, "script")[0] in csp
    assert "unsafe-inline" not in csp and "default-src 'none'" in csp
    assert "'/openapi.json'" in html or '"/openapi.json"' in html


def test_no_other_asset_and_no_redoc(api: Api) -> None:
    assert api.client.get("/docs/assets/index.html").status_code == 404
    assert api.client.get("/docs/assets/..%2F..%2Fsetup.py").status_code == 404
    assert api.client.get("/redoc").status_code == 404
    redirect = api.client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200 and "https://" not in redirect.text
    assert inline_hashes(redirect.text, "script")[0] in redirect.headers["content-security-policy"]


def test_api_examples_show_vietnam_time(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    for name, field in (("OfficialPublic", "created_at"), ("TicketPublic", "created_at"), ("TicketPublic", "deadline")):
        assert components[name]["properties"][field]["examples"][0].endswith("+07:00"), (name, field)
