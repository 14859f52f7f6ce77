"""Deadlines per category and level from the ``sla`` section of ``data/routing.yml`` (SPEC §6)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from backend.domain.deadlines import add_hours, add_working_days
from backend.domain.routing import RoutingConfigError

_KEYS = {"accept_working_days", "accept_hours", "answer_working_days"}


@dataclass(frozen=True)
class Deadline:
    accept_working_days: int | None = None
    accept_hours: float | None = None
    answer_working_days: int | None = None

    def merged(self, over: Deadline) -> Deadline:
        accept_days, accept_hours = self.accept_working_days, self.accept_hours
        if over.accept_working_days is not None or over.accept_hours is not None:
            accept_days, accept_hours = over.accept_working_days, over.accept_hours
        answer = over.answer_working_days if over.answer_working_days is not None else self.answer_working_days
        return Deadline(accept_days, accept_hours, answer)


@dataclass(frozen=True)
class SlaPolicy:
    default: Deadline = Deadline(2, None, 15)
    urgent: Deadline = Deadline(None, 4, 3)
    by_category: tuple[tuple[str, Deadline], ...] = ()
    by_level: tuple[tuple[str, Deadline], ...] = ()

    def rule(self, category: str | None, level: str, urgent: bool) -> Deadline:
        result = self.default
        result = result.merged(dict(self.by_level).get(level, Deadline()))
        result = result.merged(dict(self.by_category).get(category or "", Deadline()))
        if urgent:
            result = result.merged(self.urgent)
        return result

    def deadlines(self, category: str | None, level: str, urgent: bool, now: datetime) -> tuple[datetime, datetime]:
        rule = self.rule(category, level, urgent)
        if rule.accept_hours is not None:
            accept = add_hours(now, rule.accept_hours)
        else:
            accept = add_working_days(now, rule.accept_working_days or 2)
        return accept, add_working_days(now, rule.answer_working_days or 15)


def _deadline(raw: Any, where: str) -> Deadline:
    if not isinstance(raw, dict) or not raw or set(raw) - _KEYS:
        raise RoutingConfigError(f"{where}: expected a mapping with keys among {sorted(_KEYS)}")
    for key, value in raw.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise RoutingConfigError(f"{where}: '{key}' must be a positive number")
    if "accept_working_days" in raw and "accept_hours" in raw:
        raise RoutingConfigError(f"{where}: give accept_working_days or accept_hours, not both")
    return Deadline(raw.get("accept_working_days"), raw.get("accept_hours"), raw.get("answer_working_days"))


def load_sla(path: Path) -> SlaPolicy:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RoutingConfigError(f"{path}: cannot read SLA: {exc}") from exc
    raw = doc.get("sla")
    if raw is None:
        return SlaPolicy()
    if not isinstance(raw, dict) or set(raw) - {"default", "urgent", "by_category", "by_level"}:
        raise RoutingConfigError(f"{path}: 'sla' accepts default, urgent, by_category, by_level")
    policy = SlaPolicy()
    default = _deadline(raw["default"], f"{path} sla.default") if "default" in raw else policy.default
    urgent = _deadline(raw["urgent"], f"{path} sla.urgent") if "urgent" in raw else policy.urgent
    cats = tuple((k, _deadline(v, f"{path} sla.by_category.{k}")) for k, v in (raw.get("by_category") or {}).items())
    levels = tuple((k, _deadline(v, f"{path} sla.by_level.{k}")) for k, v in (raw.get("by_level") or {}).items())
    if any(level not in ("central", "province", "commune") for level, _ in levels):
        raise RoutingConfigError(f"{path}: sla.by_level keys must be central, province or commune")
    if (default.accept_working_days is None and default.accept_hours is None) or default.answer_working_days is None:
        raise RoutingConfigError(f"{path}: sla.default needs an accept and an answer deadline")
    return SlaPolicy(default, urgent, cats, levels)
