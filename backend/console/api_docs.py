"""The interactive API documentation (``/docs``), served entirely from this server, so the page works without any
CDN (and under a strict Content-Security-Policy: see ``backend/security_headers.py``).

The Swagger UI files in ``static/swagger_ui/`` are Swagger UI 5.17.14 (Apache License 2.0,
https://github.com/swagger-api/swagger-ui), copied unchanged from the ``django-static-swagger-ui`` 5.17.14.1 wheel.
Swagger UI 5 is the first to render OpenAPI 3.1, the version FastAPI writes (the ``swagger-ui-bundle`` package
carries 4.15 and showed "Unable to render this definition")."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse

ASSETS = Path(__file__).parent / "static" / "swagger_ui"
FAVICON = Path(__file__).parent / "static" / "favicon.svg"
TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
}
router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=str(request.app.openapi_url),
        title="gopy — API (tài liệu)",
        oauth2_redirect_url="/docs/oauth2-redirect",
        swagger_js_url="/docs/assets/swagger-ui-bundle.js",
        swagger_css_url="/docs/assets/swagger-ui.css",
        swagger_favicon_url="/docs/assets/favicon.svg",
    )


@router.get("/docs/oauth2-redirect", response_class=HTMLResponse)
def oauth2_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/docs/assets/{name}")
def asset(name: str) -> FileResponse:
    """The two Swagger UI files the page loads, and the console's icon."""
    if name == "favicon.svg":
        return FileResponse(FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})
    if name not in TYPES:
        raise HTTPException(404, "Not found / Không tìm thấy")
    return FileResponse(ASSETS / name, media_type=TYPES[name], headers={"Cache-Control": "public, max-age=86400"})


VN_EXAMPLE = "2026-03-01T09:30:00+07:00"


def _with_example(prop: dict[str, Any]) -> None:
    timed = prop.get("format") == "date-time" or any(
        isinstance(o, dict) and o.get("format") == "date-time" for o in prop.get("anyOf", [])
    )
    if timed and "examples" not in prop and "example" not in prop:
        prop["examples"] = [VN_EXAMPLE]


def _domain_refusals(schemas: dict[str, Any]) -> None:
    """A 422 carries either FastAPI's list of field errors or one sentence (a use case's refusal, in Vietnamese):
    the documented schema says both, so clients and schema checkers expect what the API really sends."""
    error = schemas.get("HTTPValidationError", {}).get("properties", {})
    if "detail" in error:
        error["detail"] = {
            "title": "Detail",
            "anyOf": [error["detail"], {"type": "string", "description": "A refusal in plain words"}],
        }


def vietnam_time_examples(
    app: FastAPI, extend: Callable[[dict[str, Any]], object] | None = None
) -> Callable[[], dict[str, Any]]:
    """``app.openapi`` with a Vietnam-time example (``+07:00``) on every timestamp field that has none, and 422s
    documented as they are sent (field errors or one sentence); ``extend`` adds what FastAPI cannot describe. The
    document is built once and cached."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = plain()
            components = schema.get("components", {}).get("schemas", {})
            for component in components.values():
                for prop in component.get("properties", {}).values():
                    _with_example(prop)
            _domain_refusals(components)
            if extend is not None:
                extend(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi
