"""Retrying a short database step after a transient failure (a dropped connection, a failover, a restart)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger(__name__)
T = TypeVar("T")
DELAYS = (0.0, 0.2, 1.0)  # a dropped connection is replaced at once; a restarting server takes a moment


def is_transient(exc: BaseException) -> bool:
    """The database connection failed (not the statement): doing it again on a new connection can succeed."""
    return isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


def retry_transient(step: Callable[[], T], what: str, delays: tuple[float, ...] = DELAYS) -> T:
    """Run ``step`` (one whole unit of work, safe to repeat), again after each transient database failure."""
    for delay in delays:
        try:
            return step()
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("%s: database connection failed (%s), trying again", what, type(exc).__name__)
            time.sleep(delay)
    return step()
