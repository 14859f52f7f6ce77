"""The organisation tree: seeding from the gazetteer package, and cached lookups for routing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import OrgUnit, utcnow
from backend.domain.routing import CENTRAL, Router, Rule

SessionScope = Callable[[], AbstractContextManager[Session]]
CENTRAL_NAME = "Ủy ban Trung ương Mặt trận Tổ quốc Việt Nam"


@dataclass
class SeedReport:
    added: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str, str]] = field(default_factory=list)  # code, old name, new name
    moved: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    unchanged: int = 0
    source: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.added or self.renamed or self.moved or self.deactivated)


def gazetteer_units() -> tuple[list[tuple[str, str, str, str, str | None, str]], str]:
    """(code, name, short name, level, parent code, division type) for every unit, and the data version.

    Read from the maintained ``vietnam-provinces`` package (post-1 July 2025 units, official codes).
    """
    import vietnam_provinces
    from vietnam_provinces import Province, Ward

    rows: list[tuple[str, str, str, str, str | None, str]] = [
        (CENTRAL, CENTRAL_NAME, "Trung ương", "central", None, "trung ương")
    ]
    provinces = sorted(Province.iter_all(), key=lambda p: int(p.code))
    for p in provinces:
        dtype = p.division_type.value
        name = p.name if dtype != "tỉnh" or p.name.startswith("Tỉnh ") else f"Tỉnh {p.name}"
        rows.append((f"{int(p.code):02d}", name, _short(name), "province", CENTRAL, dtype))
    for w in sorted(Ward.iter_all(), key=lambda w: int(w.code)):
        rows.append(
            (
                f"{int(w.code):05d}",
                w.name,
                _short(w.name),
                "commune",
                f"{int(w.province_code):02d}",
                w.division_type.value,
            )
        )
    return rows, f"vietnam-provinces {vietnam_provinces.__version__} (data {vietnam_provinces.__data_version__})"


_PREFIXES = ("Thành phố ", "Tỉnh ", "Phường ", "Xã ", "Đặc khu ", "Thị trấn ")


def _short(name: str) -> str:
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def seed_units(session: Session) -> SeedReport:
    """Idempotent: adds new units, renames/moves changed ones, deactivates vanished ones; reports what changed."""
    rows, version = gazetteer_units()
    report = SeedReport(source=version)
    existing = {u.code: u for u in session.scalars(select(OrgUnit))}
    seen: set[str] = set()
    now = utcnow()
    for code, name, short, level, parent, dtype in rows:  # parents come before children
        seen.add(code)
        unit = existing.get(code)
        if unit is None:
            session.add(
                OrgUnit(
                    code=code,
                    name=name,
                    short_name=short,
                    level=level,
                    parent_code=parent,
                    division_type=dtype,
                    active=True,
                    updated_at=now,
                )
            )
            report.added.append(code)
            continue
        changed = False
        if unit.name != name:
            report.renamed.append((code, unit.name, name))
            unit.name, unit.short_name, changed = name, short, True
        if unit.parent_code != parent:
            report.moved.append((code, unit.parent_code, parent))
            unit.parent_code, changed = parent, True
        if unit.division_type != dtype or not unit.active or unit.level != level:
            unit.division_type, unit.active, unit.level, changed = dtype, True, level, True
        if changed:
            unit.updated_at = now
        else:
            report.unchanged += 1
    for code, unit in existing.items():
        if code not in seen and unit.active:
            unit.active = False
            unit.updated_at = now
            report.deactivated.append(code)
    session.commit()
    return report


class UnitCache:
    """code -> (name, parent code), loaded once; reloaded after a seed."""

    def __init__(self, scope: SessionScope) -> None:
        self._scope = scope
        self._units: dict[str, tuple[str, str | None]] | None = None
        self._lock = threading.Lock()

    def units(self) -> dict[str, tuple[str, str | None]]:
        if self._units is None:
            with self._lock, self._scope() as session:
                self._units = {u.code: (u.name, u.parent_code) for u in session.scalars(select(OrgUnit))}
        return self._units

    def reload(self) -> None:
        self._units = None


def unit_lookup(scope: SessionScope, rules: list[Rule]) -> Router:
    cache = UnitCache(scope)
    return Router(
        rules,
        parent_of=lambda code: cache.units().get(code, ("", None))[1],
        name_of=lambda code: cache.units().get(code, (code, None))[0],
    )
