"""Routing of tickets to Front committees by ordered rules from ``data/routing.yml`` (SPEC §5)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

CENTRAL = "TW"
TARGETS = ("central", "commune", "province", "location", "above_location", "triage")
Precision = Literal["commune", "province", "none"]
DEFAULT_SENSITIVE = frozenset({"can_bo_tham_nhung"})  # complaints about officials are never published


class RoutingConfigError(ValueError):
    """The rules file is malformed; the message names the file and line."""


@dataclass(frozen=True)
class Rule:
    name: str
    route: str
    reason: str
    categories: frozenset[str] | None = None
    urgent: bool | None = None
    precision: str | None = None
    alert: tuple[str, ...] = ()

    def matches(self, category: str | None, urgent: bool, precision: Precision) -> bool:
        if self.categories is not None and category not in self.categories:
            return False
        if self.urgent is not None and self.urgent != urgent:
            return False
        return self.precision is None or self.precision == precision


@dataclass(frozen=True)
class RoutingInput:
    category: str | None
    urgent: bool
    province_code: str | None
    commune_code: str | None

    @property
    def precision(self) -> Precision:
        if self.commune_code:
            return "commune"
        return "province" if self.province_code else "none"


@dataclass(frozen=True)
class RoutingDecision:
    unit_code: str
    rule: str
    reason: str
    alerts: tuple[str, ...] = field(default_factory=tuple)


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping: dict[str, Any] = dict(loader.construct_mapping(node, deep=True))  # type: ignore[arg-type]
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise RoutingConfigError(f"{path}{line}: invalid YAML: {exc}") from exc
    except OSError as exc:
        raise RoutingConfigError(f"{path}: cannot read routing rules: {exc}") from exc


@dataclass(frozen=True)
class PublicPolicy:
    """What the public (keyless) Open311 API may publish: never tickets of these categories."""

    sensitive_categories: frozenset[str] = DEFAULT_SENSITIVE


def _public_policy(doc: dict[str, Any], path: Path) -> PublicPolicy:
    from backend.domain.taxonomy import CATEGORIES

    if "public" not in doc:
        return PublicPolicy()
    raw = doc["public"]
    if not isinstance(raw, dict):
        raise RoutingConfigError(f"{path} line {_top_key_line(path, 'public')}: 'public' must be a mapping")
    where = f"{path} line {raw.get('__line__', '?')}"
    unknown = set(raw) - {"sensitive_categories", "__line__"}
    if unknown:
        raise RoutingConfigError(f"{where}: unknown keys in 'public': {sorted(unknown)}")
    if "sensitive_categories" not in raw:
        return PublicPolicy()  # the safe default, not "publish everything"
    cats = raw["sensitive_categories"]
    if not isinstance(cats, list) or not all(isinstance(c, str) for c in cats):
        raise RoutingConfigError(f"{where}: 'public.sensitive_categories' must be a list of category codes")
    bad = sorted(set(cats) - set(CATEGORIES))
    if bad:
        raise RoutingConfigError(f"{where}: 'public.sensitive_categories' has unknown categories {bad}")
    return PublicPolicy(frozenset(cats))


def _top_key_line(path: Path, key: str) -> int | str:
    """The line of a top-level key (for values that carry no line of their own)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next((n for n, text in enumerate(lines, 1) if re.match(rf"{re.escape(key)}\s*:", text)), "?")


def load_public_policy(path: Path) -> PublicPolicy:
    """The ``public`` section of the rules file (default: ``can_bo_tham_nhung`` is never published)."""
    doc = _read(path)
    if not isinstance(doc, dict):
        raise RoutingConfigError(f"{path} line 1: expected a mapping with a non-empty 'rules' list")
    return _public_policy(doc, path)


def load_rules(path: Path) -> list[Rule]:
    doc = _read(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list) or not doc["rules"]:
        raise RoutingConfigError(f"{path} line 1: expected a mapping with a non-empty 'rules' list")
    _public_policy(doc, path)  # validated with the rules, so a bad section stops the start-up too
    rules: list[Rule] = []
    for raw in doc["rules"]:
        line = raw.get("__line__", "?") if isinstance(raw, dict) else "?"
        where = f"{path} line {line}"
        if not isinstance(raw, dict):
            raise RoutingConfigError(f"{where}: each rule must be a mapping")
        unknown = set(raw) - {"name", "when", "route", "alert", "reason", "__line__"}
        if unknown:
            raise RoutingConfigError(f"{where}: unknown keys {sorted(unknown)}")
        name, route, reason = raw.get("name"), raw.get("route"), raw.get("reason")
        if not isinstance(name, str) or not name:
            raise RoutingConfigError(f"{where}: rule needs a 'name'")
        if route not in TARGETS:
            raise RoutingConfigError(f"{where}: rule '{name}' route must be one of {', '.join(TARGETS)}")
        if not isinstance(reason, str) or not reason:
            raise RoutingConfigError(f"{where}: rule '{name}' needs a 'reason'")
        when = raw.get("when") or {}
        if not isinstance(when, dict) or set(when) - {"category", "urgent", "precision", "__line__"}:
            raise RoutingConfigError(f"{where}: rule '{name}' 'when' accepts category, urgent, precision")
        cats = when.get("category")
        categories = frozenset([cats] if isinstance(cats, str) else cats) if cats is not None else None
        precision = when.get("precision")
        if precision not in (None, "commune", "province", "none"):
            raise RoutingConfigError(f"{where}: rule '{name}' precision must be commune, province or none")
        urgent = when.get("urgent")
        if urgent is not None and not isinstance(urgent, bool):
            raise RoutingConfigError(f"{where}: rule '{name}' urgent must be true or false")
        alert_raw = raw.get("alert") or []
        alerts = tuple([alert_raw] if isinstance(alert_raw, str) else alert_raw)
        if any(a not in TARGETS for a in alerts):
            raise RoutingConfigError(f"{where}: rule '{name}' alert targets must be among {', '.join(TARGETS)}")
        rules.append(Rule(name, route, reason, categories, urgent, precision, alerts))
    return rules


class Router:
    """Applies the rules; ``parent_of`` and ``name_of`` look units up in the organisation tree."""

    def __init__(
        self,
        rules: list[Rule],
        parent_of: Callable[[str], str | None],
        name_of: Callable[[str], str],
    ) -> None:
        self.rules = rules
        self._parent_of = parent_of
        self._name_of = name_of

    def _target(self, target: str, inp: RoutingInput) -> str:
        most_precise = inp.commune_code or inp.province_code
        match target:
            case "central":
                return CENTRAL
            case "commune":
                return inp.commune_code or inp.province_code or CENTRAL
            case "province" | "triage":
                return inp.province_code or CENTRAL
            case "location":
                return most_precise or CENTRAL
            case "above_location":
                return (self._parent_of(most_precise) or CENTRAL) if most_precise else CENTRAL
        raise AssertionError(target)

    def route(self, inp: RoutingInput) -> RoutingDecision:
        for rule in self.rules:
            if rule.matches(inp.category, inp.urgent, inp.precision):
                unit = self._target(rule.route, inp)
                alerts = tuple(dict.fromkeys(a for a in (self._target(t, inp) for t in rule.alert) if a != unit))
                place = inp.commune_code or inp.province_code
                location = self._name_of(place) if place else "chưa rõ địa điểm"
                if inp.commune_code and inp.province_code:
                    location = f"{location}, {self._name_of(inp.province_code)}"
                reason = rule.reason.format_map(_Fmt(unit=self._name_of(unit), location=location))
                return RoutingDecision(unit, rule.name, reason, alerts)
        return RoutingDecision(CENTRAL, "fallback", f"Không quy tắc nào khớp: chuyển {self._name_of(CENTRAL)}.")


class _Fmt(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def directory_router(rules: list[Rule], units: Mapping[str, tuple[str, str | None]]) -> Router:
    """A router over an in-memory map code -> (name, parent_code)."""
    return Router(
        rules,
        parent_of=lambda code: units[code][1] if code in units else None,
        name_of=lambda code: units[code][0] if code in units else code,
    )
