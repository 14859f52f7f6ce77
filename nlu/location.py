"""Where did it happen? Finds provinces and communes in free text, new names and pre-2025 addresses alike.

Matching runs on diacritic-free, lower-cased text whose characters line up one-to-one with the original, so the
reported spans point into what the citizen wrote. A commune needs a prefix (phường/xã/thị trấn/đặc khu and their
abbreviations) or an "ở/tại" before a multi-syllable name, so ordinary words are not taken for places. An old
ward is resolved through the official mapping, using the old district when one is named; an old ward split between
several new communes, or a name found in several provinces, yields candidates for the citizen to choose from.

Real petitions add their own traps, handled here: an old district written without "quận/huyện" ("ở Cầu Giấy", a
capitalised "Đồng Hỷ") still gives the province, and "quận" vs "huyện" tells Tân Phú (Hồ Chí Minh City) from Tân
Phú (Đồng Nai); a province name used for a street, river, hamlet or hometown ("đường Hậu Giang", "Điện Biên Phủ",
"thôn Hòa Bình", "quê Nghệ An") only counts when nothing stronger is named; when several provinces are named, the
one owning the named district or ward wins; ordinary words after "phường/xã" ("báo phường từ năm ngoái", "cấp xã")
are not names; typed diacritics and the prefix keep "phường Phú Yên" (a current ward) apart from "Phù Yên" and from
the old province; and "xóm 8 Nghi Kim, TP Vinh" is read as an old ward of the district that follows it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import itertools
import pickle
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from nlu.cache import cached_build, files_digest
from nlu.gazetteer import AdminUnit, Gazetteer, key, load_gazetteer, short_name
from nlu.vocab import fold_chars, nfc

INDEX_VERSION = 1  # raise when the index's layout changes without a change of this file


def index_sources() -> list[Path]:
    """What the location index is built from: the data of vietnam-provinces and underthesea's old→new mapping
    (the gazetteer), and the code that builds it. A change in any of them gives a new cache file."""
    here = Path(__file__)
    files = [here, *(here.with_name(name) for name in ("gazetteer.py", "normalize.py", "vocab.py"))]
    spec = importlib.util.find_spec("vietnam_provinces")
    if spec is not None and spec.origin is not None:
        root = Path(spec.origin).parent
        files += sorted(p for p in root.rglob("*") if p.suffix in (".py", ".json") and "__pycache__" not in p.parts)
    spec = importlib.util.find_spec("underthesea")
    if spec is not None and spec.origin is not None:
        files.append(Path(spec.origin).parent / "address" / "data" / "mapping.json")
    return files


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
    "thua thien hue": "46",
    "tt hue": "46",
}
# A province name right after these words names a street, a river, a bridge...: "đường Hậu Giang" is in Hồ Chí Minh
# City. Such a mention only counts when the message names no other place.
STREET_WORDS = (
    ("dai", "lo"),
    ("quoc", "lo"),
    ("tinh", "lo"),
    ("benh", "vien"),
    ("ben", "xe"),
    ("duong",),
    ("pho",),
    ("song",),
    ("cau",),
    ("cho",),
    ("ngo",),
    ("hem",),
    ("kiet",),
    ("kenh",),
    ("ql",),
    ("tl",),
    ("thon",),
    ("xom",),
    ("ap",),
    ("khom",),
    ("que",),
)
# "cấp xã", "các phường", "mỗi xã": the word is not the prefix of a name.
NOT_PREFIX_AFTER = frozenset(["cap", "cac", "moi", "nhieu", "nhung", "hai", "may", "tung", "toan"])
# Words that follow "phường"/"xã" in ordinary sentences ("báo phường từ năm ngoái") and are not one-word names.
NOT_NAMES = frozenset(
    [
        "tu",
        "da",
        "roi",
        "nay",
        "do",
        "nao",
        "minh",
        "toi",
        "em",
        "ta",
        "thi",
        "la",
        "va",
        "cho",
        "voi",
        "khong",
        "cung",
        "van",
        "lai",
        "ra",
        "vao",
        "len",
        "xuong",
        "ve",
        "nhung",
        "ma",
        "co",
        "dang",
        "se",
        "bi",
        "duoc",
        "nhieu",
        "it",
        "oi",
        "a",
        "nhe",
        "chua",
        "hay",
        "hoac",
        "cua",
        "ay",
        "kia",
        "ben",
        "truoc",
        "sau",
        "trong",
        "ngoai",
        "tren",
        "duoi",
        "gi",
        "sao",
        "can",
        "phai",
        "moi",
        "het",
        "deu",
        "luon",
        "giup",
        "xem",
        "biet",
        "noi",
        "bao",
        "hoi",
        "gui",
        "lam",
        "nua",
        "thoi",
        "cac",
        "nhu",
        "ho",
        "no",
    ]
)
_MARKER_WORDS = frozenset(["o", "tai", "thuoc", "ve", "den", "tu"])
PERSON_TITLES = frozenset(
    ["anh", "chi", "ong", "ba", "em", "co", "chu", "bac", "di", "cau", "thay", "ban", "chau", "con"]
)
DISTRICT_TYPES = {
    "quan": "quan",
    "q": "quan",
    "huyen": "huyen",
    "h": "huyen",
    "thi xa": "thi xa",
    "tx": "thi xa",
    "thanh pho": "thanh pho",
    "tp": "thanh pho",
}
WARD_TYPES = {
    "phuong": "phường",
    "p": "phường",
    "f": "phường",
    "xa": "xã",
    "x": "xã",
    "dac khu": "đặc khu",
    "thi tran": "thị trấn",
    "tt": "thị trấn",
}
_TOKEN = re.compile(r"[a-z0-9]+")
_WORDS = re.compile(r"([a-z0-9]+)")  # ``_TOKEN``, kept by ``split``
_SPLIT = re.compile(r"^(p|q|f|x|h)(\d{1,2})$")
_SPLIT_LETTERS = frozenset("pqfxh")


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
    name_start: int = -1  # where the name itself starts (after "phường", "quận"...)
    prefix: str = ""  # the prefix as written, folded ("phuong", "q", "thi xa"...)


_BREAK = re.compile(r"[,.;:!?\n()]")
# Where the writer (or their family) works or studies, not where the problem is: "tôi làm ở Sài Gòn, về quê Nghệ An
# thấy đường hỏng", "em đi học tại Hà Nội", "tôi vào Sài Gòn làm thuê". Read on the folded text just before (or
# around) a place; a first-person subject is required, so "công ty làm đường ở xã X" stays a place of the problem.
_AWAY_BEFORE = re.compile(
    r"\b(?:toi|em|minh|chung toi|con toi|vo toi|chong toi|con trai toi|con gai toi)"
    r"(?: (?:dang|hien|van|da|di|hien dang))*"
    r" (?:lam|lam viec|lam an|lam thue|lam cong nhan|cong tac|hoc|di hoc|di lam|di lam thue|lam nghe \w+)"
    r" (?:o|tai) $"
)
_AWAY_AROUND = re.compile(r"\b(?:toi|em|minh|chung toi|con toi) (?:vao|ra|len|xuong|o|song o) $")
_AWAY_AFTER = re.compile(r"^ (?:lam|lam viec|lam an|lam thue|lam cong nhan|di hoc|hoc|(?:tro )?ve (?:tham|que|choi))\b")


def _index(options: tuple[tuple[str, ...], ...]) -> dict[str, list[tuple[str, ...]]]:
    """Options grouped by their first word, keeping their order (longest first where it matters)."""
    out: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for option in options:
        out[option[0]].append(option)
    return dict(out)


_BY_FIRST_WORD = {
    id(o): _index(o) for o in (PROVINCE_PREFIXES, WARD_PREFIXES, DISTRICT_PREFIXES, PLACE_MARKERS, STREET_WORDS)
}


_STREET_BY_LAST: dict[str, list[tuple[str, ...]]] = defaultdict(list)
for _words in STREET_WORDS:
    _STREET_BY_LAST[_words[-1]].append(_words)


def _street_before(tokens: list[tuple[str, int, int]], i: int) -> bool:
    """One of ``STREET_WORDS`` right before token ``i`` ("đường", "sông"... ending at the token before)."""
    options = _STREET_BY_LAST.get(tokens[i - 1][0], ()) if i else ()
    return any(i >= len(w) and tuple(t[0] for t in tokens[i - len(w) : i]) == w for w in options)


def accented(text: str) -> str:
    """Lower case with diacritics, modern tone marks, single spaces: "Phú Yên" and "Phù Yên" stay apart."""
    from nlu.normalize import fix_tone_marks

    return " ".join(re.sub(r"[^\w]+", " ", fix_tone_marks(nfc(text).lower())).split())


# Names of the gazetteer, read again for every message that names their unit (a few thousand): remembered.
@lru_cache(maxsize=1 << 16)
def _name_key(name: str) -> str:
    """``key`` of a gazetteer name."""
    return key(name)


@lru_cache(maxsize=1 << 16)
def _short_key(name: str) -> str:
    """``key`` of a gazetteer name without its prefix ("quận", "phường"...)."""
    return key(short_name(name))


@lru_cache(maxsize=1 << 16)
def _accented_name(name: str, short: bool) -> str:
    """``accented`` of a gazetteer name, without its prefix when ``short``."""
    return accented(short_name(name) if short else name)


def _has_marks(text: str) -> bool:
    return fold_chars(text) != nfc(text).lower()


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
        # (district type, key) -> new province codes; type from the old name ("Quận Tân Phú" is in Hồ Chí Minh City,
        # "Huyện Tân Phú" in Đồng Nai)
        self.typed_districts: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.district_names: dict[str, set[str]] = defaultdict(set)  # district key -> accented short names
        for w in g.old_wards:
            self.old_wards[key(short_name(w.old_ward))].append(w)
            new = g.get(w.new_commune)
            if new is not None and new.parent_code:
                dkey = key(short_name(w.old_district))
                self.districts[dkey].add(new.parent_code)
                dtype = DISTRICT_TYPES.get(key(w.old_district[: len(w.old_district) - len(short_name(w.old_district))]))
                if dtype:
                    self.typed_districts[(dtype, dkey)].add(new.parent_code)
                self.district_names[dkey].add(accented(short_name(w.old_district)))
        self._max_words = 5
        # every word-prefix of every name of a table: a scan stops as soon as no name goes on
        self.name_prefixes: dict[str, frozenset[str]] = {}
        for table_name in self._TABLES:
            words = [name.split() for name in getattr(self, table_name)]
            self.name_prefixes[table_name] = frozenset(" ".join(w[:n]) for w in words for n in range(1, len(w) + 1))
        self.new_keys = frozenset({key(p.short_name) for p in self.g.provinces} | set(ALIASES))
        self._finish()

    def _finish(self) -> None:
        self._prefixes = {id(getattr(self, name)): self.name_prefixes[name] for name in self._TABLES}
        # the words a mention can start with: a prefix ("xã", "ở"...), a province or an old district name (a commune
        # or old ward is read only after a prefix); ``_scan_at`` finds nothing at any other word. At the first word
        # of an old district name only (no prefix, no province), it reads a name written with a capital only.
        starters = {p for p in self.name_prefixes["provinces"] if " " not in p}
        for options in (PROVINCE_PREFIXES, WARD_PREFIXES, DISTRICT_PREFIXES, PLACE_MARKERS):
            starters.update(_BY_FIRST_WORD[id(options)])
        self._starters = frozenset(starters)
        self._capital_starters = frozenset(p for p in self.name_prefixes["districts"] if " " not in p) - starters

    # -- the index, stored ----------------------------------------------------------------------------------
    _TABLES = ("provinces", "communes", "old_wards", "districts")
    _STATE = (
        "g",
        *_TABLES,
        "typed_districts",
        "district_names",
        "name_prefixes",
        "new_keys",
    )

    @classmethod
    def cached(cls, cache_dir: Path) -> LocationExtractor:
        """The extractor over the default gazetteer, its index read from ``cache_dir`` when it was built before
        from the same data files and code (built and stored otherwise; a corrupt or unreadable file is rebuilt)."""
        digest = files_digest(index_sources(), extra=f"locations {INDEX_VERSION}")

        def build() -> dict[str, Any]:
            made = cls()
            return {name: getattr(made, name) for name in cls._STATE}

        def valid(state: Any) -> bool:
            return (
                isinstance(state, dict)
                and set(state) == set(cls._STATE)
                and isinstance(state["g"], Gazetteer)
                and all(isinstance(state[name], dict) for name in cls._STATE[1:-1])
                and isinstance(state["new_keys"], frozenset)
            )

        state = cached_build(
            Path(cache_dir) / f"locations-{digest}.pickle",
            build=build,
            dump=lambda obj: pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL),
            load=pickle.loads,  # only files this process's store wrote (as the model itself)
            valid=valid,
        )
        made = cls.__new__(cls)
        for name in cls._STATE:
            setattr(made, name, state[name])
        made._max_words = 5
        made._finish()
        return made

    # -- scanning -----------------------------------------------------------------------------------------
    @staticmethod
    def _tokens(folded: str) -> list[tuple[str, int, int]]:
        """Tokens of the folded text (``fold_chars``): (word, start, end); "q1" is two tokens."""
        parts = _WORDS.split(folded)  # separators and words in turn, a separator (maybe empty) first and last
        words = parts[1::2]
        if all(map(str.isalpha, words)):  # most texts: no digit to read or to split off
            ends = list(itertools.accumulate(map(len, parts)))
            return list(zip(words, ends[0::2], ends[1::2], strict=False))
        out = []
        for m in _TOKEN.finditer(folded):
            word = m.group(0)
            if word.isalpha():  # most words: no digit to read or to split off
                out.append((word, *m.span()))
                continue
            split = _SPLIT.match(word) if 1 < len(word) < 4 and word[0] in _SPLIT_LETTERS else None
            if split:
                cut = m.start() + len(split.group(1))
                out += [(split.group(1), m.start(), cut), (str(int(split.group(2))), cut, m.end())]
            else:
                out.append((str(int(word)) if word.isdigit() else word, m.start(), m.end()))
        return out

    @staticmethod
    def _segments(text: str, tokens: list[tuple[str, int, int]]) -> list[int]:
        """Segment number of each token: a comma, full stop, semicolon or line break starts a new one, so a name
        never runs across "Tân Phú, Đồng Nai"."""
        breaks = [m.start() for m in _BREAK.finditer(text)]  # never inside a token: between two, or before the first
        seg, out, k = 0, [], 0
        for _, start, _ in tokens:
            if k < len(breaks) and breaks[k] < start:
                seg += 1
                while k < len(breaks) and breaks[k] < start:
                    k += 1
            out.append(seg)
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
        """The number of tokens from ``i`` (at most five, within one segment) of the longest name of ``table``."""
        prefixes = self._prefixes[id(table)]
        best, name = 0, ""
        for n in range(min(self._max_words, len(tokens) - i)):
            if seg[i + n] != seg[i]:
                break
            name = f"{name} {tokens[i + n][0]}" if n else tokens[i][0]
            if name not in prefixes:
                break
            if name in table:
                best = n + 1
        return best

    def _mentions(self, text: str, folded: str) -> list[_Mention]:
        tokens = self._tokens(folded)
        seg = self._segments(folded, tokens)
        found: list[_Mention] = []
        starters, capital = self._starters, self._capital_starters
        scanned = [
            i
            for i, (word, start, _) in enumerate(tokens)
            if word in starters or (word in capital and i > 0 and text[start].isupper())
        ]
        after = 0  # the first token after the last mention found
        for i in scanned:
            if i >= after:
                after = i + max(self._scan_at(text, tokens, seg, i, found), 1)
        if found and not any(m.kind in ("ward", "bare_ward") for m in found):
            found += self._ward_before_district(tokens, seg, found)
        return found

    def _ward_before_district(
        self, tokens: list[tuple[str, int, int]], seg: list[int], found: list[_Mention]
    ) -> list[_Mention]:
        """An address written without "phường/xã": "xóm 8 Nghi Kim, TP Vinh". The words just before the comma
        count as a ward only if they name an old ward of that very district."""
        for d in (m for m in found if m.kind == "district"):
            k = next((j for j, t in enumerate(tokens) if t[1] == d.start), None)
            if k is None or k == 0 or seg[k - 1] == seg[k]:
                continue
            for n in range(min(4, k), 0, -1):
                chunk = tokens[k - n : k]
                if len({seg[j] for j in range(k - n, k)}) != 1:
                    continue
                name = " ".join(t[0] for t in chunk)
                if any(_short_key(r.old_district) == d.name for r in self.old_wards.get(name, [])):
                    return [_Mention("ward", name, chunk[0][1], chunk[-1][2], (), chunk[0][1], "")]
        return []

    @staticmethod
    def _looks_like_name(text: str, tokens: list[tuple[str, int, int]], j: int, n: int) -> bool:
        """A one-word name after "phường"/"xã" must not be an ordinary word ("phường từ năm ngoái"); in a message
        typed with capitals, a name written in lower case after capitalised text is not taken either."""
        first = tokens[j][0]
        if first.isdigit():
            return True
        if n == 1 and first in NOT_NAMES:
            return False
        surface = text[tokens[j][1] : tokens[j + n - 1][2]]
        return not (n == 1 and surface[:1].islower() and any(ch.isupper() for ch in text[1 : tokens[j][1]]))

    @staticmethod
    def _continues_name(text: str, tokens: list[tuple[str, int, int]], seg: list[int], j: int) -> bool:
        """A province name that runs on into a longer proper name ("Điện Biên Phủ" street) is not the province."""
        if j >= len(tokens) or j == 0 or seg[j] != seg[j - 1]:
            return False
        if tokens[j - 1][0] == "bien" and tokens[j][0] == "phu":
            return True
        word = text[tokens[j][1] : tokens[j][2]]
        follows_prefix = any(tokens[j][0] == o[0] for o in (*WARD_PREFIXES, *DISTRICT_PREFIXES, *PROVINCE_PREFIXES))
        return word[:1].isupper() and not follows_prefix and _has_marks(text[tokens[j - 1][1] : tokens[j][2]])

    def _scan_at(
        self, text: str, tokens: list[tuple[str, int, int]], seg: list[int], i: int, found: list[_Mention]
    ) -> int:
        def add(kind: str, start_i: int, j: int, n: int, codes: tuple[str, ...] = ()) -> int:
            name = " ".join(t[0] for t in tokens[j : j + n])
            prefix = " ".join(t[0] for t in tokens[start_i:j])
            found.append(_Mention(kind, name, tokens[start_i][1], tokens[j + n - 1][2], codes, tokens[j][1], prefix))
            return j + n - i

        # province (explicit prefix or a known name); after "đường", "sông"... only a weak mention
        p = self._prefix(tokens, i, PROVINCE_PREFIXES)
        n = self._lookup(tokens, seg, i + p, self.provinces)
        if n and (p or n > 1 or tokens[i][0] in self.provinces):
            name = " ".join(t[0] for t in tokens[i + p : i + p + n])
            street = not p and (
                (_street_before(tokens, i) and not (i >= 2 and tokens[i - 1][0] == "que" and tokens[i - 2][0] == "ve"))
                or self._continues_name(text, tokens, seg, i + n)
            )
            return add("street" if street else "province", i, i + p, n, (self.provinces[name],))
        # ward / commune
        p = self._prefix(tokens, i, WARD_PREFIXES)
        if p and i > 0 and tokens[i - 1][0] in NOT_PREFIX_AFTER and seg[i - 1] == seg[i]:
            p = 0
        if p:
            n = max(self._lookup(tokens, seg, i + p, self.communes), self._lookup(tokens, seg, i + p, self.old_wards))
            if n and self._looks_like_name(text, tokens, i + p, n):
                return add("ward", i, i + p, n)
        # old district
        p = self._prefix(tokens, i, DISTRICT_PREFIXES)
        if p:
            n = self._lookup(tokens, seg, i + p, self.districts)
            if n and self._looks_like_name(text, tokens, i + p, n):
                return add("district", i, i + p, n)
        # "ở/tại <multi-syllable commune or old district name>"
        p = self._prefix(tokens, i, PLACE_MARKERS)
        if p and self._lookup(tokens, seg, i + p, self.provinces) > 1:
            return 1  # "ở Quảng Bình": the province, read at the next word
        if p:
            n = self._lookup(tokens, seg, i + p, self.communes)
            if n > 1:
                return add("bare_ward", i + p, i + p, n)
            n = self._lookup(tokens, seg, i + p, self.districts)
            if n > 1:
                return add("district", i + p, i + p, n)
        # a capitalised old district name written without "quận/huyện" ("Cầu Giấy", "Đồng Hỷ"), not a person's name
        if i == 0 or not text[tokens[i][1]].isupper() or tokens[i - 1][0] in PERSON_TITLES:
            return 1
        before = text[tokens[i - 1][1] : tokens[i - 1][2]]
        if before[:1].isupper() and seg[i - 1] == seg[i] and tokens[i - 1][0] not in _MARKER_WORDS:
            return 1  # inside a longer proper name: "Vi Văn Lâm" is a person, not the old district Văn Lâm
        n = self._lookup(tokens, seg, i, self.districts)
        if n > 1:
            surface = text[tokens[i][1] : tokens[i + n - 1][2]]
            words = surface.split()
            if _has_marks(surface) and len(words) == n and all(w[:1].isupper() for w in words):
                return add("district", i, i, n)
        return 1

    # -- resolving ----------------------------------------------------------------------------------------
    def _district_owners(self, d: _Mention) -> set[str]:
        owners = set(self.districts[d.name])
        dtype = DISTRICT_TYPES.get(d.prefix)
        if dtype and self.typed_districts.get((dtype, d.name)):
            owners = set(self.typed_districts[(dtype, d.name)])
        return owners

    @staticmethod
    def _away(folded: str, m: _Mention) -> bool:
        """A place where the writer works or studies (see ``_AWAY_BEFORE``), not where the problem is."""
        before = folded[max(0, m.start - 40) : m.start]
        after = folded[m.end : m.end + 20]
        return bool(_AWAY_BEFORE.search(before) or (_AWAY_AROUND.search(before) and _AWAY_AFTER.match(after)))

    def _drop_away(self, folded: str, mentions: list[_Mention]) -> list[_Mention]:
        """With places named both for work or study and for something else, keep the others (the problem's)."""
        away = [m for m in mentions if m.kind != "street" and self._away(folded, m)]
        if not away:
            return mentions
        rest = [m for m in mentions if m not in away and m.kind != "street"]
        if not rest:  # "làm ở Sài Gòn, ở quê Quảng Ngãi đường ngập": the hometown (a weak mention) is the place
            rest = [
                dataclasses.replace(m, kind="province")
                for m in mentions
                if m.kind == "street" and m.codes and folded[: m.start].endswith("que ")
            ]
            return rest or mentions
        return [m for m in mentions if m not in away]

    def extract(self, text: str) -> LocationMatch | None:
        folded = fold_chars(text)
        mentions = self._drop_away(folded, self._mentions(text, folded))
        if not mentions:
            return None
        strong = [m for m in mentions if m.kind != "street"]
        if any(m.kind in ("province", "district", "ward", "bare_ward") for m in strong):
            mentions = strong
        else:
            mentions = [_Mention("province", m.name, m.start, m.end, m.codes, m.name_start, m.prefix) for m in mentions]
        provinces = [m.codes[0] for m in mentions if m.kind == "province"]
        districts = [m for m in mentions if m.kind == "district"]
        wards = [m for m in mentions if m.kind in ("ward", "bare_ward")]
        province = provinces[0] if provinces else None
        owners = set.intersection(*(self._district_owners(d) for d in districts)) if districts else set()
        if len(set(provinces)) > 1 and owners:
            # several provinces named ("quê Quảng Ngãi ... xã Hoài Đức, huyện Hoài Nhơn, Bình Định"): the one that
            # owns the named district is where it happened
            province = next((c for c in provinces if c in owners), province)
        elif len(set(provinces)) > 1 and wards:
            province = next(
                (c for c in provinces if any(self._ward_candidates(w, c, districts, text)[0] for w in wards)), province
            )
        if province is None and len(owners) == 1:
            province = next(iter(owners))
        candidates: list[AdminUnit] = []
        via_old = False
        for ward in wards:
            candidates, via_old = self._ward_candidates(ward, province, districts, text)
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
            or any(m.kind == "province" and m.name not in self.new_keys for m in mentions),
            confidence=0.95 if commune else (0.6 if unique else 0.8),
        )

    @staticmethod
    def _same_spelling(units: list[Any], surface: str, accented_name_of: Any) -> list[Any]:
        """With diacritics typed, keep the units spelled exactly so ("Phú Yên" is not "Phù Yên"), if any."""
        if not _has_marks(surface):
            return units
        want = accented(surface)
        exact = [u for u in units if accented_name_of(u) == want]
        return exact or units

    def _ward_candidates(
        self, ward: _Mention, province: str | None, districts: list[_Mention], text: str
    ) -> tuple[list[AdminUnit], bool]:
        surface = text[ward.name_start : ward.end] if ward.name_start >= 0 else ""
        wtype = WARD_TYPES.get(ward.prefix)
        new = [c for c in self.communes.get(ward.name, []) if province is None or c.parent_code == province]
        new = self._same_spelling(new, surface, lambda u: _accented_name(u.short_name, False))
        if wtype and any(c.division_type == wtype for c in new):
            new = [c for c in new if c.division_type == wtype]
        old_records = self.old_wards.get(ward.name, [])
        old_records = self._same_spelling(old_records, surface, lambda r: _accented_name(r.old_ward, True))
        if districts:
            names = {d.name for d in districts}
            old_records = [r for r in old_records if _short_key(r.old_district) in names]
        if wtype and any(_name_key(r.old_ward).startswith(_name_key(wtype)) for r in old_records):
            old_records = [r for r in old_records if _name_key(r.old_ward).startswith(_name_key(wtype))]
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
