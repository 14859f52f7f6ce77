"""Administrative units after 1 July 2025 (34 provinces, 3,321 communes) and the old→new mapping.

Current units come from the ``vietnam-provinces`` package; the pre-2025 ward/district/province → new unit mapping
from the data file shipped with ``underthesea`` (``underthesea/address/data/mapping.json``). Nothing is typed by hand.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

from nlu.vocab import fold_chars

Level = Literal["province", "commune"]
_PREFIX = re.compile(r"^(?:thành phố|tỉnh|phường|xã|đặc khu|thị trấn|quận|huyện|thị xã)\s+", re.I)


def key(text: str) -> str:
    """A matching key: folded, punctuation removed, single spaces."""
    return " ".join(str(int(w)) if w.isdigit() else w for w in re.sub(r"[^\w]+", " ", fold_chars(text)).split())


def short_name(name: str) -> str:
    return _PREFIX.sub("", name).strip()


@dataclass(frozen=True, slots=True)
class AdminUnit:
    code: str
    name: str
    short_name: str
    level: Level
    parent_code: str | None
    division_type: str


@dataclass(frozen=True, slots=True)
class OldWard:
    """One record of the pre-2025 → post-2025 mapping."""

    old_province: str
    old_district: str
    old_ward: str
    new_commune: str  # code
    mapping_type: str


@dataclass
class Gazetteer:
    provinces: list[AdminUnit]
    communes: list[AdminUnit]
    old_provinces: dict[str, str]  # key of old province short name → new province code
    old_wards: list[OldWard]
    data_version: str
    _by_code: dict[str, AdminUnit] = field(default_factory=dict)
    _by_province: dict[str, list[AdminUnit]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_code = {u.code: u for u in (*self.provinces, *self.communes)}
        by_province: dict[str, list[AdminUnit]] = defaultdict(list)
        for c in self.communes:
            by_province[c.parent_code or ""].append(c)
        self._by_province = dict(by_province)

    def get(self, code: str) -> AdminUnit | None:
        return self._by_code.get(code)

    def communes_of(self, province_code: str) -> list[AdminUnit]:
        return list(self._by_province.get(province_code, []))


def _package_file(module: str, *parts: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"the {module} package is required for the gazetteer")
    return Path(spec.origin).parent.joinpath(*parts)


@lru_cache(maxsize=1)
def load_gazetteer() -> Gazetteer:
    import vietnam_provinces
    from vietnam_provinces import Province, Ward

    provinces = []
    for p in sorted(Province.iter_all(), key=lambda p: int(p.code)):
        dtype = p.division_type.value
        name = p.name if dtype != "tỉnh" or p.name.startswith("Tỉnh ") else f"Tỉnh {p.name}"
        provinces.append(AdminUnit(f"{int(p.code):02d}", name, short_name(name), "province", None, dtype))
    communes = [
        AdminUnit(
            f"{int(w.code):05d}",
            w.name,
            short_name(w.name),
            "commune",
            f"{int(w.province_code):02d}",
            w.division_type.value,
        )
        for w in sorted(Ward.iter_all(), key=lambda w: int(w.code))
    ]
    province_by_key = {key(p.short_name): p.code for p in provinces}
    commune_by_name: dict[tuple[str, str], str] = {(c.parent_code or "", key(c.name)): c.code for c in communes}

    mapping = json.loads(_package_file("underthesea", "address", "data", "mapping.json").read_text(encoding="utf-8"))
    old_provinces: dict[str, str] = {}
    for old_key, info in mapping["old_province_names"].items():
        new_key = mapping["province_mapping"].get(old_key)
        new_name = mapping["province_names"].get(new_key, {}).get("short") if new_key else None
        code = province_by_key.get(key(new_name)) if new_name else None
        if code:
            old_provinces[key(info["short"])] = code
    old_wards = []
    for rec in mapping["ward_mapping"]:
        new_province = province_by_key.get(key(short_name(rec["new_province"])))
        code = commune_by_name.get((new_province or "", key(rec["new_ward"])))
        if code and rec.get("old_ward"):
            old_wards.append(
                OldWard(rec["old_province"], rec["old_district"], rec["old_ward"], code, rec["mapping_type"])
            )
    version = (
        f"vietnam-provinces {vietnam_provinces.__version__}; {mapping['metadata'].get('source')} "
        f"{mapping['metadata'].get('version')}"
    )
    return Gazetteer(provinces, communes, old_provinces, old_wards, version)
