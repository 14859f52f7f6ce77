"""Where did it happen? Finds provinces and communes in free text, new names and pre-2025 addresses alike.

Matching runs on diacritic-free, lower-cased text whose characters line up one-to-one with the original, so the
reported spans point into what the citizen wrote. A commune needs a prefix (phường/xã/thị trấn/đặc khu and their
abbreviations) or an "ở/tại" before a multi-syllable name, so ordinary words are not taken for places. An old
ward is resolved through the official mapping, using the old district when one is named; an old ward split between
several new communes, or a name found in several provinces, yields candidates for the citizen to choose from.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from nlu.gazetteer import AdminUnit, Gazetteer, fold, key, load_gazetteer, short_name

WARD_PREFIXES = (("thi", "tran"), ("dac", "khu"), ("phuong",), ("xa",), ("p",), ("f",), ("x",), ("tt",))
DISTRICT_PREFIXES = (("thanh", "pho"), ("thi", "xa"), ("quan",), ("huyen",), ("tp",), ("tx",), ("q",), ("h",))
PROVINCE_PREFIXES = (("thanh", "pho"), ("tinh",), ("tp",), ("t",))
PLACE_MARKERS = (("o",), ("tai",), ("thuoc",))
ALIASES = {
    "hcm": "79",
    "tphcm": "79",
    "tp hcm": "79",
    "sai gon": "79",
    "sg": "79",
    "hn": "01",
    "brvt": "79",
    "ba ria vung tau": "79",
    "hue": "46",
    "dak lak": "66",
    "daklak": "66",
}
_TOKEN = re.compile(r"[a-z0-9]+")
_SPLIT = re.compile(r"^(p|q|f|x|h)(\d{1,2})$")


@dataclass(frozen=True)
class LocationMatch:
    province: AdminUnit | None
    commune: AdminUnit | None
    candidates: tuple[AdminUnit, ...]
    start: int
    end: int
    matched_text: str
    via_old_address: bool
    confidence: float


@dataclass(frozen=True)
class _Mention:
    kind: str  # province | district | ward
    name: str  # key of the name
    start: int
    end: int
    codes: tuple[str, ...] = ()  # province codes for province mentions


_BREAK = re.compile(r"[,.;:!?\n()]")


def _index(options: tuple[tuple[str, ...], ...]) -> dict[str, list[tuple[str, ...]]]:
    """Options grouped by their first word, keeping their order (longest first where it matters)."""
    out: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for option in options:
        out[option[0]].append(option)
    return dict(out)


_BY_FIRST_WORD = {id(o): _index(o) for o in (PROVINCE_PREFIXES, WARD_PREFIXES, DISTRICT_PREFIXES, PLACE_MARKERS)}


class LocationExtractor:
    def __init__(self, gazetteer: Gazetteer | None = None) -> None:
        g = self.g = gazetteer or load_gazetteer()
        self.provinces: dict[str, str] = dict(ALIASES)
        for p in g.provinces:
            self.provinces[key(p.short_name)] = p.code
        for old, code in g.old_provinces.items():
            self.provinces.setdefault(old, code)
        self.communes: dict[str, list[AdminUnit]] = defaultdict(list)
        for c in g.communes:
            self.communes[key(c.short_name)].append(c)
        self.old_wards: dict[str, list[Any]] = defaultdict(list)
        self.districts: dict[str, set[str]] = defaultdict(set)  # district key -> new province codes
        for w in g.old_wards:
            self.old_wards[key(short_name(w.old_ward))].append(w)
            new = g.get(w.new_commune)
            if new is not None and new.parent_code:
                self.districts[key(short_name(w.old_district))].add(new.parent_code)
        self._max_words = 5

    # -- scanning -----------------------------------------------------------------------------------------
    @staticmethod
    def _tokens(text: str) -> list[tuple[str, int, int]]:
        out = []
        for m in _TOKEN.finditer(fold(text)):
            split = _SPLIT.match(m.group(0))
            if split:
                cut = m.start() + len(split.group(1))
                out += [(split.group(1), m.start(), cut), (str(int(split.group(2))), cut, m.end())]
            else:
                word = m.group(0)
                out.append((str(int(word)) if word.isdigit() else word, m.start(), m.end()))
        return out

    @staticmethod
    def _segments(text: str, tokens: list[tuple[str, int, int]]) -> list[int]:
        """Segment number of each token: a comma, full stop, semicolon or line break starts a new one, so a name
        never runs across "Tân Phú, Đồng Nai"."""
        seg, out, prev_end = 0, [], 0
        for _, start, end in tokens:
            if _BREAK.search(text[prev_end:start]):
                seg += 1
            out.append(seg)
            prev_end = end
        return out

    @staticmethod
    def _prefix(tokens: list[tuple[str, int, int]], i: int, options: tuple[tuple[str, ...], ...]) -> int:
        if i >= len(tokens):
            return 0
        for option in _BY_FIRST_WORD[id(options)].get(tokens[i][0], ()):  # most tokens start no prefix at all
            if tuple(t[0] for t in tokens[i : i + len(option)]) == option:
                return len(option)
        return 0

    def _lookup(self, tokens: list[tuple[str, int, int]], seg: list[int], i: int, table: dict[str, Any]) -> int:
        for n in range(min(self._max_words, len(tokens) - i), 0, -1):
            if seg[i + n - 1] != seg[i]:
                continue
            if " ".join(t[0] for t in tokens[i : i + n]) in table:
                return n
        return 0

    def _mentions(self, text: str) -> list[_Mention]:
        tokens = self._tokens(text)
        seg = self._segments(fold(text), tokens)
        found: list[_Mention] = []
        i = 0
        while i < len(tokens):
            step = self._scan_at(tokens, seg, i, found)
            i += max(step, 1)
        return found

    def _scan_at(self, tokens: list[tuple[str, int, int]], seg: list[int], i: int, found: list[_Mention]) -> int:
        def add(kind: str, start_i: int, j: int, n: int, codes: tuple[str, ...] = ()) -> int:
            name = " ".join(t[0] for t in tokens[j : j + n])
            found.append(_Mention(kind, name, tokens[start_i][1], tokens[j + n - 1][2], codes))
            return j + n - i

        # province (explicit prefix or a known name)
        p = self._prefix(tokens, i, PROVINCE_PREFIXES)
        n = self._lookup(tokens, seg, i + p, self.provinces)
        if n and (p or n > 1 or tokens[i][0] in self.provinces):
            name = " ".join(t[0] for t in tokens[i + p : i + p + n])
            return add("province", i, i + p, n, (self.provinces[name],))
        # ward / commune
        p = self._prefix(tokens, i, WARD_PREFIXES)
        if p:
            n = max(self._lookup(tokens, seg, i + p, self.communes), self._lookup(tokens, seg, i + p, self.old_wards))
            if n:
                return add("ward", i, i + p, n)
        # old district
        p = self._prefix(tokens, i, DISTRICT_PREFIXES)
        if p:
            n = self._lookup(tokens, seg, i + p, self.districts)
            if n:
                return add("district", i, i + p, n)
        # "ở/tại <multi-syllable commune name>"
        p = self._prefix(tokens, i, PLACE_MARKERS)
        if p:
            n = self._lookup(tokens, seg, i + p, self.communes)
            if n > 1:
                return add("bare_ward", i + p, i + p, n)
        return 1

    # -- resolving ----------------------------------------------------------------------------------------
    def extract(self, text: str) -> LocationMatch | None:
        mentions = self._mentions(text)
        if not mentions:
            return None
        provinces = [m.codes[0] for m in mentions if m.kind == "province"]
        districts = [m for m in mentions if m.kind == "district"]
        wards = [m for m in mentions if m.kind in ("ward", "bare_ward")]
        province = provinces[0] if provinces else None
        if province is None and districts:
            owners = set.intersection(*(self.districts[d.name] for d in districts))
            if len(owners) == 1:
                province = next(iter(owners))
        candidates: list[AdminUnit] = []
        via_old = False
        for ward in wards:
            candidates, via_old = self._ward_candidates(ward, province, districts)
            if candidates:
                break
        if wards and not candidates and not provinces and not districts:
            return None  # a bare word that only looked like a place
        if province is None and candidates and len({c.parent_code for c in candidates}) == 1:
            province = candidates[0].parent_code
        used = [m for m in mentions if m.kind in ("province", "district") or (candidates and m in wards)]
        if not used:
            return None
        start, end = min(m.start for m in used), max(m.end for m in used)
        unique = {c.code: c for c in candidates}
        commune = next(iter(unique.values())) if len(unique) == 1 else None
        province_unit = self.g.get(province) if province else None
        if province_unit is None and commune is None and not unique:
            return None
        return LocationMatch(
            province=province_unit,
            commune=commune,
            candidates=tuple(unique.values()) if len(unique) > 1 else (),
            start=start,
            end=end,
            matched_text=text[start:end],
            via_old_address=via_old
            or bool(districts)
            or any(m.kind == "province" and m.name not in self._new_province_keys for m in mentions),
            confidence=0.95 if commune else (0.6 if unique else 0.8),
        )

    @property
    def _new_province_keys(self) -> set[str]:
        return {key(p.short_name) for p in self.g.provinces} | set(ALIASES)

    def _ward_candidates(
        self, ward: _Mention, province: str | None, districts: list[_Mention]
    ) -> tuple[list[AdminUnit], bool]:
        new = [c for c in self.communes.get(ward.name, []) if province is None or c.parent_code == province]
        old_records = self.old_wards.get(ward.name, [])
        if districts:
            names = {d.name for d in districts}
            old_records = [r for r in old_records if key(short_name(r.old_district)) in names]
        old = [u for u in (self.g.get(r.new_commune) for r in old_records) if u is not None]
        old = [u for u in old if province is None or u.parent_code == province]
        if districts and old:
            return old, True
        if new:
            return new, False
        return old, bool(old)


def as_entities(match: LocationMatch) -> list[dict[str, Any]]:
    out = []
    for name, unit in (("province", match.province), ("commune", match.commune)):
        if unit is not None:
            out.append(
                {
                    "entity": name,
                    "value": unit.name,
                    "code": unit.code,
                    "start": match.start,
                    "end": match.end,
                    "confidence": match.confidence,
                    "extractor": "gopy_gazetteer",
                }
            )
    return out
