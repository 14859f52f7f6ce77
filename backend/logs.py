"""Logging helpers: keep secrets that travel in query strings (web-chat sessions, API keys, tokens) out of logs."""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

# A query parameter whose name says it carries a secret: session, api_key / apikey, token, access_token, secret,
# password, signature, ... The value is replaced, the name kept (so the log still says what was sent).
SECRET_PARAM = re.compile(
    r"(?i)([?&;][^&;=#\s]*(?:session|api[-_]?key|token|secret|password|passwd|signature|sig|auth)[^&;=#\s]*=)"
    r"[^&;#\s\"]*"
)


def redact(text: str) -> str:
    """``/x?session=abc&after=3`` → ``/x?session=***&after=3``."""
    return SECRET_PARAM.sub(r"\1***", text) if "=" in text else text


class RedactSecrets(logging.Filter):
    """Redacts secret query parameters in a record's message and arguments (uvicorn's access log passes the path
    with its query string as an argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def access_log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with :class:`RedactSecrets` on the access and error logs."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact"] = {"()": RedactSecrets}
    for name in ("uvicorn.access", "uvicorn.error"):
        config["loggers"].setdefault(name, {})["filters"] = ["redact"]
    return config
