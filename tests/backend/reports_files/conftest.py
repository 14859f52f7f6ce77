"""The app over the small organisation tree of tests/backend/api, plus helpers to file tickets quickly."""

from __future__ import annotations

from tests.backend.api.conftest import UNITS, Api, add_official, api

__all__ = ["UNITS", "Api", "add_official", "api"]
