"""Request body limits, shared by the API's middleware (``BodyLimit`` in backend/app.py) and the platform webhooks'
bare endpoint (backend/api/routes/webhooks.py): the same refusals, in the same words."""

from __future__ import annotations

from starlette.datastructures import Headers

TOO_LARGE = "request body too large / dữ liệu gửi lên quá lớn"
BAD_LENGTH = "invalid Content-Length / độ dài dữ liệu không hợp lệ"
CLOSE = {"Connection": "close"}  # the server then closes the connection instead of reading the rest of the body


def declared_length_refusal(headers: Headers, limit: int) -> tuple[int, str] | None:
    """``(status, detail)`` when the declared Content-Length is not a number (400) or passes ``limit`` (413), before
    any of the body is read; ``None`` when there is none or it is within the limit (the bytes are counted as they
    arrive all the same: a client may send more than it declared, or declare nothing)."""
    length = headers.get("content-length")
    if length is None:
        return None
    if not (length.isascii() and length.isdigit()):
        return 400, BAD_LENGTH
    if int(length) > limit:
        return 413, TOO_LARGE
    return None
