"""Urgency on real citizens' words: every real emergency stays urgent, ordinary petitions never cry wolf.

The emergency path skips consent and confirmation, alerts the province and tells the citizen to call 113/114/115,
so both lists matter: a threat to life or a disaster in progress must be caught, with or without diacritics, and
chronic problems, past events, requests for relief procedures and words that merely contain "cứu" must not be.
"""

from __future__ import annotations

import pytest

from nlu.urgency import is_urgent, urgency_cues
from tests.nlu.realworld import load_items

# Threats to life and disasters in progress, as people type them (several follow events reported on public pages:
# landslides burying houses in the Trà My highlands, people trapped in a burning building, flash floods).
EMERGENCIES = [
    "Cứu với, nhà tôi đang cháy, lửa lan sang nhà bên rồi",
    "cuu voi nha toi dang chay o hem 12",
    "Nước lũ đang lên rất nhanh, cả nhà tôi phải leo lên mái, xin cứu hộ gấp",
    "nuoc lu dang len nhanh lam, ngap toi mai nha roi",
    "nc dang len ngap het nha o thon 3, ba con chua ra dc",
    "Sạt lở đất vùi lấp hai căn nhà ở thôn 2, có người bên trong",
    "sat lo dat vui 2 nha o thon tren, nguoi con ket ben trong",
    "Đất đá từ đồi sau nhà đổ xuống làm sập tường, cả nhà 4 người còn mắc kẹt",
    "Có người bị nước cuốn trôi ở suối đầu bản, cần cứu hộ ngay",
    "co nguoi bi nuoc cuon troi o suoi, can cuu ho",
    "Một cháu bé vừa rơi xuống giếng ở xóm 5, mọi người đang tìm cách kéo lên",
    "chau be roi xuong ao sau nha, chua vot len dc",
    "Có người đuối nước ở hồ Tây gần đền Quán Thánh",
    "Bếp nhà tôi rò rỉ gas mùi nồng nặc, không dám bật điện",
    "ro ri gas o tang 3 chung cu, mui nong nac",
    "Nổ bình gas ở quán ăn đầu ngõ, có người bị thương",
    "Nhà bên cạnh vừa đổ sập, còn người ở trong",
    "Giàn giáo công trình vừa sập đè lên công nhân",
    "Cầu treo qua suối bị sập, có người rơi xuống sông",
    "Có thanh niên cầm dao đuổi chém người ngoài chợ",
    "co nguoi cam dao duoi chem nguoi o dau hem, goi cong an gap",
    "Chồng hàng xóm đang đánh vợ con, tiếng la hét kinh lắm",
    "Con tôi đang bị bắt cóc, chúng nó gọi đòi tiền",
    "Mẹ tôi ngất xỉu bất tỉnh trong nhà, cần cấp cứu",
    "me toi bat tinh, can cap cuu gap",
    "Một người đàn ông đứng trên lan can cầu nói muốn tự tử",
    "Cháy rừng lớn đang lan xuống gần khu dân cư",
    "chay rung dang lan xuong gan nha dan",
    "Vỡ đê bao ở ấp 3, nước tràn vào nhà dân",
    "Bão đang quật tốc mái cả dãy nhà, cây đổ chắn đường",
    "Xưởng gỗ cạnh nhà tôi đang bốc cháy, khói đen mù mịt",
    "Thuyền chở 6 người bị lật giữa sông",
    "cứu tôi với, có người đang đuổi đánh tôi",
    "SOS nhà tôi bị kẹt trong lũ quét",
]

# Ordinary petitions and questions that used to trip the old cue list.
NOT_EMERGENCIES = [
    "Tôi muốn tra cứu tình trạng hồ sơ PA-7K2M-Q9XD",
    "tra cuu ho so dat dai cua toi",
    "Con tôi làm nghiên cứu sinh, xin hỏi chế độ hỗ trợ",
    "Đề nghị cứu xét lại hồ sơ hộ nghèo của gia đình tôi",
    "Đoạn đường này rất nguy hiểm, ổ gà khắp nơi",
    "Nhà tôi bị cháy từ năm ngoái mà đến giờ chưa được hỗ trợ làm lại nhà",
    "nha toi bi chay tu nam ngoai chua dc ho tro",
    "Xin hỏi thủ tục nhận tiền hỗ trợ sau bão cho nhà bị tốc mái",
    "Mỗi khi mưa to là nước ngập tới đầu gối trong ngõ",
    "Khu tôi thiếu nước sinh hoạt kéo dài cả năm nay",
    "Khai thác cát trái phép gây sạt lở bờ sông, đề nghị xử lý",
    "Núi sau nhà có nguy cơ sạt lở, xin được di dời",
    "Trận lũ tháng trước cuốn trôi 2 con bò, xin hỗ trợ khôi phục sản xuất",
    "Cảm ơn các chiến sĩ cứu hỏa đã dập tắt đám cháy nhà tôi tối qua",
    "Cảm ơn bác sĩ đã cứu con tôi qua cơn nguy kịch",
    "Xe tải chạy rất nhanh qua khu dân cư, đề nghị đặt gờ giảm tốc",
    "xe dang chay thi chet may giua duong ngap",
    "Đề nghị xử lý khẩn cấp bãi rác tự phát bốc mùi",
    "Quán karaoke hát đến 2 giờ sáng, cứ tối là ồn ào",
    "Trạm y tế xã thiếu thuốc cấp cứu, đề nghị bổ sung",
]


@pytest.mark.parametrize("text", EMERGENCIES)
def test_real_emergencies_are_urgent(text: str) -> None:
    assert is_urgent(text), text


@pytest.mark.parametrize("text", NOT_EMERGENCIES)
def test_ordinary_petitions_are_not_urgent(text: str) -> None:
    assert not is_urgent(text), (text, urgency_cues(text))


def test_the_lists_are_big_enough_and_typed_both_ways() -> None:
    from nlu.normalize import has_diacritics

    assert len(EMERGENCIES) >= 30
    assert sum(not has_diacritics(t) for t in EMERGENCIES) >= 8


def test_cues_are_whole_words() -> None:
    for text in ("tra cứu", "nghiên cứu", "cứu xét", "cứu trợ", "cấp cứu viên", "chạy xe", "đang chạy"):
        assert urgency_cues(text) == [], text


def test_the_category_alone_never_makes_a_message_urgent() -> None:
    assert not is_urgent("Xin hỏi chế độ hỗ trợ hộ bị thiệt hại do hạn mặn", "thien_tai_khan_cap", 0.99)


def test_false_alarms_on_real_petitions_stay_below_two_percent() -> None:
    items = load_items()
    flagged = [it.text for it in items if is_urgent(it.text, it.category, 1.0)]
    assert len(items) >= 150
    assert len(flagged) / len(items) <= 0.02, flagged
