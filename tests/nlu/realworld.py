"""The real-world held-out set (data/nlu/test/realworld.yml): gold labels and the figures measured on it.

Gold places come from the annotated spans ``[as written](commune|district|province)`` by exact table look-ups,
independently of the extractor being measured: a province span is a current province or a pre-2025 province
(mapped by the official old→new table shipped with underthesea); a commune span is resolved through the old
ward → new commune table when the address is an old one (a district is named, or the ward is a "thị trấn"), else
as a current commune of the province. A span that resolves to no unit, or to several, gives no gold for that level.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from nlu.gazetteer import key, load_gazetteer, short_name
from nlu.rasa_data import strip_entities

ROOT = Path(__file__).resolve().parents[2]
REALWORLD = ROOT / "data" / "nlu" / "test" / "realworld.yml"
TEAM_HELDOUT = ROOT / "data" / "nlu" / "test" / "heldout.yml"
_SPAN = re.compile(r"\[([^\]]+)\]\((commune|district|province)\)")
_PROVINCE_PREFIX = re.compile(r"^(?:thanh pho|tinh|tp)\s+")
_WARD_PREFIX = re.compile(r"^(?:phuong|xa|thi tran|dac khu|p|x|tt|f)\s+")
_DISTRICT_PREFIX = re.compile(r"^(?:quan|huyen|thi xa|thanh pho|tp|tx|q|h)\s+")
_ALIASES = {
    "thua thien hue": "46",
    "hcm": "79",
    "tp hcm": "79",
    "tphcm": "79",
    "ho chi minh": "79",
    "sai gon": "79",
    "hue": "46",
}


@dataclass(frozen=True)
class RealItem:
    text: str
    category: str
    province: str | None  # gold province code, when a place is named and resolves
    commune: str | None  # gold commune code, when a commune is named and resolves to exactly one unit
    names_place: bool  # any place annotated at all


def _span_key(span: str, prefix: re.Pattern[str]) -> str:
    k = key(span)
    k = prefix.sub("", k)
    return k


@lru_cache(maxsize=1)
def _tables() -> dict[str, Any]:
    g = load_gazetteer()
    provinces = {key(p.short_name): p.code for p in g.provinces}
    provinces.update(_ALIASES)
    old_provinces = dict(g.old_provinces)
    communes: dict[tuple[str, str], list[str]] = {}
    for c in g.communes:
        communes.setdefault((c.parent_code or "", key(c.short_name)), []).append(c.code)
    old: dict[str, list[Any]] = {}
    district_owner: dict[str, set[str]] = {}
    for w in g.old_wards:
        old.setdefault(key(short_name(w.old_ward)), []).append(w)
        unit = g.get(w.new_commune)
        if unit is not None and unit.parent_code:
            district_owner.setdefault(key(short_name(w.old_district)), set()).add(unit.parent_code)
    return {
        "g": g,
        "provinces": provinces,
        "old_provinces": old_provinces,
        "communes": communes,
        "old": old,
        "district_owner": district_owner,
    }


def gold_place(spans: list[tuple[str, str]]) -> tuple[str | None, str | None]:
    t = _tables()
    g = t["g"]
    pspan = next((s for s, kind in spans if kind == "province"), None)
    dspan = next((s for s, kind in spans if kind == "district"), None)
    cspan = next((s for s, kind in spans if kind == "commune"), None)
    province: str | None = None
    old_province_key: str | None = None
    if pspan:
        pk = _span_key(pspan, _PROVINCE_PREFIX)
        province = t["provinces"].get(pk) or t["old_provinces"].get(pk)
        old_province_key = pk
    dkey = _span_key(dspan, _DISTRICT_PREFIX) if dspan else None
    if province is None and dkey is not None:
        owners = t["district_owner"].get(dkey, set())
        if len(owners) == 1:
            province = next(iter(owners))
    commune: str | None = None
    if cspan:
        ckey = _span_key(cspan, _WARD_PREFIX)
        town = key(cspan).startswith(("thi tran", "tt "))
        records = t["old"].get(ckey, [])
        if dkey is not None:
            records = [r for r in records if key(short_name(r.old_district)) == dkey]
        if old_province_key is not None:
            same = [r for r in records if key(short_name(r.old_province)) == old_province_key]
            records = same or records
        old_codes = {r.new_commune for r in records}
        if province is not None:
            old_codes = {c for c in old_codes if (u := g.get(c)) is not None and u.parent_code == province}
        new_codes = t["communes"].get((province or "", ckey), []) if province else []
        if (dkey is not None or town) and old_codes:
            commune = next(iter(old_codes)) if len(old_codes) == 1 else None
        elif new_codes:
            commune = new_codes[0] if len(new_codes) == 1 else None
        elif old_codes:
            commune = next(iter(old_codes)) if len(old_codes) == 1 else None
        if commune is not None and province is None:
            unit = g.get(commune)
            province = unit.parent_code if unit else None
    return province, commune


def load_items(path: Path = REALWORLD) -> list[RealItem]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    items: list[RealItem] = []
    for block in data["nlu"]:
        category = str(block["intent"]).split("/", 1)[1]
        for line in str(block.get("examples", "")).splitlines():
            raw = line.strip().removeprefix("- ").strip()
            if not raw:
                continue
            spans = [(m.group(1), m.group(2)) for m in _SPAN.finditer(raw)]
            province, commune = gold_place(spans)
            items.append(RealItem(strip_entities(raw), category, province, commune, bool(spans)))
    return items


def measure(parsed: list[dict[str, Any]], items: list[RealItem]) -> dict[str, Any]:
    """Intent and category accuracy, places, and urgency on the held-out items (all ordinary petitions)."""
    n = len(items)
    intent_ok = sum(p["intent"]["name"] == "gui_phan_anh" for p in parsed)
    cat_ok = sum((p.get("category") or {}).get("name") == it.category for p, it in zip(parsed, items, strict=True))
    prov = [
        (p.get("location") or {}).get("province_code") == it.province
        for p, it in zip(parsed, items, strict=True)
        if it.province
    ]
    comm = [
        (p.get("location") or {}).get("commune_code") == it.commune
        for p, it in zip(parsed, items, strict=True)
        if it.commune
    ]
    unnamed = [p for p, it in zip(parsed, items, strict=True) if not it.names_place]
    invented = sum(1 for p in unnamed if (p.get("location") or {}).get("province_code"))
    urgent = sum(bool(p.get("urgent")) for p in parsed)
    return {
        "n": n,
        "intent_acc": intent_ok / n,
        "category_acc": cat_ok / n,
        "province_acc": sum(prov) / max(len(prov), 1),
        "province_n": len(prov),
        "commune_acc": sum(comm) / max(len(comm), 1),
        "commune_n": len(comm),
        "invented_rate": invented / max(len(unnamed), 1),
        "unnamed_n": len(unnamed),
        "false_urgent_rate": urgent / n,
    }


def errors(parsed: list[dict[str, Any]], items: list[RealItem]) -> list[str]:
    out = []
    for p, it in zip(parsed, items, strict=True):
        loc = p.get("location") or {}
        cat = (p.get("category") or {}).get("name")
        if cat != it.category:
            out.append(f"category {it.category} -> {cat} ({p['intent']['name']}): {it.text[:110]}")
        if it.province and loc.get("province_code") != it.province:
            out.append(f"province {it.province} -> {loc.get('province_code')} [{loc.get('text')}]: {it.text[:90]}")
        if it.commune and loc.get("commune_code") != it.commune:
            out.append(f"commune {it.commune} -> {loc.get('commune_code')} [{loc.get('text')}]: {it.text[:90]}")
        if not it.names_place and loc.get("province_code"):
            out.append(f"invented place [{loc.get('text')}]: {it.text[:90]}")
        if p.get("urgent"):
            out.append(f"false urgent: {it.text[:110]}")
    return out
