"""Urgency: a threat to life or a disaster in progress, independent of the category (with or without diacritics).

The emergency path skips consent and confirmation, alerts the province and tells the citizen to call 113/114/115,
so a false alarm is costly. Only explicit cues of something happening now count: a cry for help, a fire burning,
water rising, a landslide burying something, drowning, a gas leak, a collapse, violence in progress, someone
unconscious. Cues are whole words or phrases ("tra cứu", "nghiên cứu", "cứu xét" are not cries for help), and a
cue in a sentence that puts it in the past ("bị cháy từ năm ngoái") or makes it a recurring condition ("mỗi khi
mưa") does not count. A request about relief procedures (support, compensation, papers) is not an emergency
unless it also says something is happening now. "Nguy hiểm", "khẩn cấp" alone are ordinary words in petitions.

Each accented word of a pattern also matches its diacritic-free spelling, so "dang chay" matches "đang cháy" while
"đang chạy" (running) does not.
"""

from __future__ import annotations

import re
from functools import lru_cache

from nlu.normalize import lowered_words
from nlu.vocab import strip_diacritics

_WORD = re.compile(r"[^\W\d_]+")


def _loose(pattern: str) -> str:
    """Every accented word ``w`` of the pattern → ``(?:w|fold(w))``."""

    def alt(m: re.Match[str]) -> str:
        word = m.group(0)
        folded = strip_diacritics(word)
        return word if folded == word else f"(?:{word}|{folded})"

    return _WORD.sub(alt, pattern)


def _compile(*parts: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(?:" + "|".join(_loose(p) for p in parts) + r")(?!\w)")


# Happening now, or an explicit cry for help: a relief or paperwork word elsewhere does not cancel these.
_STRONG = _compile(
    r"(?<!tra )(?<!nghiên )(?<!đã )(?<!được )(?<!kịp thời )(?<!giúp )"
    r"cứu (?:với|tôi|em|con|cháu|mẹ|bố|ba|chồng|vợ|chúng tôi|gia đình|mạng|gấp|giúp với)",
    r"cứu cứu",
    r"sos",
    r"help",
    r"(?:cần|gọi|xin) cấp cứu",
    r"cần cứu hộ",
    r"cứu hộ gấp",
    r"đang (?:bị )?(?:cháy|bốc cháy|chìm|sập|sạt lở|sạt|bị vùi|bị cuốn|đuối nước|hấp hối)",
    r"lửa (?:đang|bốc|cháy|lan)",
    r"nước (?:lũ |sông |suối )?(?:đang )?(?:lên|dâng) (?:nhanh|rất nhanh|cao|tới|đến|ngập)",
    r"nước (?:lũ |sông |suối )?đang (?:lên|dâng)",
    r"lũ (?:đang )?(?:về|lên|dâng) (?:nhanh|rất nhanh|ngập)",
    r"lũ đang (?:về|lên|dâng)",
    r"mắc kẹt",
    r"bị kẹt (?:trong|dưới|lại trong)",
    r"kẹt (?:trong|dưới) (?:nhà|đống|xe|thang máy|đất)",
    r"đang (?:đánh|chém|đâm|đập|hành hung) (?:nhau|người|vợ|chồng|con|mẹ|bố|cháu|tôi|em|dân)",
    r"đang bị (?:đánh|chém|đâm|đập|hành hung|bắt cóc|bạo hành)",
    r"cầm (?:dao|mã tấu|kiếm|súng|hung khí|gậy sắt|tuýp sắt) (?:đuổi|đòi|dọa|xông|chém|đánh|đâm)",
)

# Emergencies unless the sentence puts them in the past, makes them recurring, or the message is about relief.
_EVENT = _compile(
    r"cháy (?:nhà|lớn|to|dữ dội|rừng|xưởng|chợ|kho)",
    r"(?:nhà|xưởng|chợ|kho|xe|rừng|quán|phòng trọ)(?: tôi| em| mình| chúng tôi| hàng xóm| bên cạnh| dân)?"
    r" (?:bị |đã |vừa )?(?:cháy|bốc cháy)",
    r"bốc cháy",
    r"hỏa hoạn",
    r"(?:nổ|rò rỉ|rò|xì) (?:bình |khí |ga |)(?:gas|ga)",
    r"rò rỉ khí",
    r"mùi (?:gas|ga) (?:nồng|rất nồng|nồng nặc)",
    r"lũ (?:quét|ống)",
    r"(?:ngập|nước) (?:lên |dâng )?(?:tới|đến|ngang|quá) (?:mái|nóc|cổ|ngực|đầu|cửa sổ)",
    r"(?:bị )?nước (?:lũ )?cuốn (?:trôi|đi|mất)",
    r"cuốn trôi",
    r"vỡ (?:đê|đập|bờ bao)",
    r"tràn (?:đê|đập)",
    r"sạt lở (?:đất |núi |đồi )?(?:vùi|đè|lấp|cuốn|làm sập|sập)",
    r"(?:đất|đá|đất đá|bùn đất) (?:đổ|tràn|sạt|lăn|vùi|lấp) (?:xuống|vào|lấp|vùi) ?(?:nhà|người|xe|lối)?",
    r"bị (?:vùi|đè|chôn) (?:lấp|dưới|trong)",
    r"đuối nước",
    r"chết đuối",
    r"(?:rơi|ngã|té|rớt) xuống (?:sông|giếng|hồ|ao|mương|kênh|suối|biển|hố)",
    r"(?:thuyền|ghe|tàu|xuồng|đò)(?: \w+){0,4} (?:bị )?(?:chìm|lật)",
    r"(?:sập|đổ sập) (?:nhà|cầu|tường|trần|giàn giáo|công trình|mái)",
    r"(?:nhà|cầu|tường|trần|giàn giáo|công trình|mái nhà)(?: tôi| em| mình| hàng xóm| bên cạnh)?"
    r" (?:bị |vừa |đã )?(?:sập|đổ sập)",
    r"đâm chém",
    r"chém người",
    r"đâm người",
    r"bắt cóc",
    r"(?:dọa|đòi|hăm) giết",
    r"tự tử",
    r"tự sát",
    r"muốn chết",
    r"nhảy cầu",
    r"bất tỉnh",
    r"ngất xỉu",
    r"co giật",
    r"ngạt (?:khí|khói|thở)",
    r"động đất",
    r"(?:bão|lốc|lốc xoáy) (?:đang|đổ bộ|quật|làm tốc|tốc)",
    r"tốc mái",
)

# The sentence puts it in the past.
_PAST = _compile(
    r"năm (?:ngoái|trước|rồi|kia|\d{4})",
    r"(?:tháng|tuần) trước",
    r"hôm (?:qua|trước|kia)",
    r"(?:đêm|tối|sáng|chiều) qua",
    r"(?:từ|hồi|vào|trong) (?:năm|tháng) \d+",
    r"tháng \d{1,2}[/-]\d{4}",
    r"\d{1,2}[/-]\d{1,2}[/-]\d{4}",
    r"trước đây",
    r"cách đây",
    r"đã lâu",
    r"từ lâu",
    r"hồi đó",
    r"lần trước",
    r"vừa qua",
    r"đã (?:được )?(?:dập tắt|khống chế|cứu|di dời|sơ tán)",
    r"không còn",
)

# The sentence describes a recurring condition, a risk or something seen elsewhere, not an event happening now.
_NOT_NOW = _compile(
    r"(?:nhiều|mấy|vài|hai|ba|\d+) (?:năm|tháng|mùa) (?:nay|qua|trước|rồi|liền)",
    r"(?:nhiều|mấy|vài) (?:năm|tháng|mùa)",
    r"mỗi (?:khi|lần|năm|mùa|trận|đợt|đêm|tối)",
    r"hễ",
    r"cứ (?:mưa|đến|tới|mỗi)",
    r"thường xuyên",
    r"(?:hằng|hàng) năm",
    r"nguy cơ",
    r"lo (?:sợ|ngại)",
    r"sợ rằng",
    r"phòng (?:chống|ngừa|cháy)",
    r"diễn tập",
    r"tin (?:đồn|giả)",
    r"trên (?:phim|mạng|báo|tivi)",
)
_THANKS = _compile(r"cảm ơn", r"cám ơn", r"biết ơn", r"tri ân", r"khen ngợi", r"tuyên dương")

# Paperwork and relief after the fact.
_RELIEF = _compile(
    r"thủ tục",
    r"hồ sơ",
    r"hỗ trợ",
    r"trợ cấp",
    r"cứu trợ",
    r"bồi thường",
    r"đền bù",
    r"khắc phục",
    r"tái định cư",
    r"xin hỏi",
    r"cho (?:tôi )?hỏi",
    r"bảo hiểm",
    r"xây lại",
    r"sửa lại",
)
_CLAUSE = re.compile(r"[.!?;\n]+|,\s*(?:nhưng|mà|còn|giờ|nay|bây giờ)\s")


# Chat spellings that matter here (the general table also turns "roi" into "rồi", which would hide "rơi").
_SHORT = {"nc": "nước", "ng": "người", "ko": "không", "k": "không", "dc": "được", "đc": "được", "vs": "với"}


# Without diacritics "dang chay" is also "đang chạy" (running): after a vehicle or a person it is not a fire.
_RUNS = frozenset(["xe", "tau", "may", "ghe", "thuyen", "nguoi", "em", "no", "ho", "toi", "minh", "dong", "ho"])


def _running(clause: str, m: re.Match[str]) -> bool:
    if not m.group(0).endswith("chay") or strip_diacritics(m.group(0)) != m.group(0):
        return False
    before = clause[: m.start()].split()
    return bool(before) and before[-1] in _RUNS


@lru_cache(maxsize=4096)
def _prepared(text: str) -> str:
    words = lowered_words(text)
    return " ".join(map(_SHORT.get, words, words))


def urgency_cues(text: str) -> list[str]:
    """The cues that make the message urgent (empty when it is not)."""
    norm = _prepared(text)
    after_the_fact = bool(_RELIEF.search(norm) or _THANKS.search(norm))
    cues: list[str] = []
    for clause in _CLAUSE.split(norm):
        if not clause.strip() or _PAST.search(clause):
            continue
        cues += [m.group(0) for m in _STRONG.finditer(clause) if not _running(clause, m)]
        if not after_the_fact and not _NOT_NOW.search(clause):
            cues += [m.group(0) for m in _EVENT.finditer(clause)]
    return cues


def is_urgent(text: str, category: str | None = None, category_confidence: float = 0.0) -> bool:
    """True for a threat to life or a disaster in progress.

    The category alone never makes a message urgent: chronic flooding, drought and requests for relief are filed
    as ``thien_tai_khan_cap`` or ``ha_tang`` too, and they take the ordinary path with consent and confirmation.
    """
    del category, category_confidence  # kept for callers; the decision rests on what the message says
    return bool(urgency_cues(text))
