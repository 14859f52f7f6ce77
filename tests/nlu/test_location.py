"""Places in citizens' words → the new (post-2025) units, with or without diacritics, old addresses included."""

from __future__ import annotations

import pytest

from nlu.gazetteer import load_gazetteer
from nlu.location import LocationExtractor

EX = LocationExtractor()


def test_gazetteer_has_the_whole_country() -> None:
    g = load_gazetteer()
    assert len(g.provinces) == 34 and len(g.communes) == 3321


@pytest.mark.parametrize(
    ("text", "province", "commune", "old"),
    [
        ("Đường ở phường Hoàn Kiếm, Hà Nội bị ngập", "01", "00070", False),
        ("duong o phuong hoan kiem ha noi bi ngap", "01", "00070", False),
        ("phường Bến Nghé, quận 1, TP HCM", "79", "26740", True),  # old ward → Phường Sài Gòn
        ("p. Ben Nghe q1 tphcm", "79", "26740", True),
        ("o quan 3 tp hcm", "79", None, True),  # an old district narrows to the province only
        ("Cống tắc ở Hà Nội", "01", None, False),
    ],
)
def test_places(text: str, province: str | None, commune: str | None, old: bool) -> None:
    m = EX.extract(text)
    assert m is not None
    assert (m.province.code if m.province else None) == province
    assert (m.commune.code if m.commune else None) == commune
    assert m.via_old_address is old


def test_an_ambiguous_commune_gives_candidates_not_a_guess() -> None:
    m = EX.extract("rác thải ở xã Tân Phú")
    assert m is not None and m.commune is None and len(m.candidates) > 1
    assert len({c.parent_code for c in m.candidates}) > 1


def test_the_province_resolves_the_ambiguity() -> None:
    m = EX.extract("xã Tân Phú, Đồng Nai")
    assert m is not None and m.province is not None and m.province.code == "75"
    assert m.commune is not None or all(c.parent_code == "75" for c in m.candidates)


@pytest.mark.parametrize("text", ["", "xin chào", "tôi muốn hỏi về bảo hiểm", "12345", "!!!"])
def test_no_place_no_match(text: str) -> None:
    assert EX.extract(text) is None


# -- issue 12: places as real petitions write them ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "province"),
    [
        ("nhà tôi ở Cầu Giấy, đường ngập", "01"),
        ("khu tôi ở Thanh Xuân mất nước cả tuần", "01"),
        ("quận Tân Phú có nhiều rác không ai thu gom", "79"),  # Quận Tân Phú is in HCM City, Huyện Tân Phú in Đồng Nai
        ("huyện Tân Phú, chó thả rông khắp xóm", "75"),
        ("Tôi ở Đồng Hỷ, xe quá tải cày nát đường", "19"),
        ("tôi ở Bình Chánh, xe tải chạy ầm ầm", "79"),
        ("o huyen dong hy, xe qua tai", "19"),
        ("xã Ia Phìn, huyện Chư Prông, tỉnh Gia Lai", "52"),
        ("thị trấn Phong Điền, huyện Phong Điền, Thừa Thiên Huế", "46"),
    ],
)
def test_old_district_names_resolve_the_province(text: str, province: str) -> None:
    m = EX.extract(text)
    assert m is not None and m.province is not None and m.province.code == province, text


def test_an_old_district_narrows_the_commune_when_a_ward_is_named() -> None:
    ward_only = EX.extract("phường 12 bị cúp điện")
    with_district = EX.extract("Nhà tôi trên đường Trần Quý Cáp, P.12, Q.Bình Thạnh bị cúp điện")
    assert ward_only is None or ward_only.commune is None
    assert with_district is not None and with_district.province is not None and with_district.commune is not None
    assert with_district.province.code == "79"


def test_an_address_without_ward_prefix_before_its_district() -> None:
    m = EX.extract("con toi bi hai anh em o xom 8 Nghi Kim, TP Vinh danh dap")
    assert m is not None and m.province is not None and m.province.code == "40" and m.commune is not None


@pytest.mark.parametrize(
    ("text", "province"),
    [
        ("nhà số 5 đường Hậu Giang, phường 11, quận 6, TP HCM bị ngập", "79"),
        ("cống trên đường Hậu Giang bị vỡ, phường Bình Tiên", "79"),
        ("Hố ga ở giao lộ Điện Biên Phủ - Phan Kế Bính, P.Đa Kao, Q.1 bị hỏng nắp", "79"),
        ("nha o thon Hoa Binh, xa Thinh Loc, huyen Loc Ha, Ha Tinh", "42"),
        ("Vợ chồng tôi quê Nghệ An, tạm trú ở Hà Nội, đăng ký tạm trú bị lỗi", "01"),
        ("quê Quảng Ngãi, bố tôi ở xã Hoài Đức, huyện Hoài Nhơn, Bình Định", "52"),
    ],
)
def test_a_street_or_hometown_named_like_a_province_does_not_override_the_place(text: str, province: str) -> None:
    m = EX.extract(text)
    assert m is not None and m.province is not None and m.province.code == province, text


@pytest.mark.parametrize(
    "text",
    [
        "tôi phản ánh lên phường từ năm ngoái mà chưa ai xuống",
        "đã báo xã từ tháng trước",
        "cap xa tu lap khu vuc bo phieu ma ko can cap tren phe chuan",
        "Tôi tên Vi Văn Lâm, 36 tuổi, bán vé số",
    ],
)
def test_ordinary_words_after_phuong_or_xa_are_not_places(text: str) -> None:
    m = EX.extract(text)
    assert m is None or (m.province is None and m.commune is None), (text, m)


def test_a_current_ward_named_like_an_old_province_is_the_ward() -> None:
    m = EX.extract("tôi ở phường Phú Yên, đường hư hỏng nặng")
    assert m is not None and m.commune is not None and m.commune.name == "Phường Phú Yên"
    assert m.province is not None and m.province.code == "66"


def test_diacritics_tell_apart_names_that_fold_alike() -> None:
    m = EX.extract("khu tôi ở Thanh Xuân mất nước")  # not Xã Thạnh Xuân (Cần Thơ)
    assert m is not None and m.commune is not None and m.commune.name == "Phường Thanh Xuân"


def test_places_on_the_real_world_heldout_meet_the_targets() -> None:
    from tests.nlu.realworld import load_items

    items = load_items()
    found = [EX.extract(it.text) for it in items]
    prov = [
        (m.province.code if m and m.province else None) == it.province
        for m, it in zip(found, items, strict=True)
        if it.province
    ]
    comm = [
        (m.commune.code if m and m.commune else None) == it.commune
        for m, it in zip(found, items, strict=True)
        if it.commune
    ]
    unnamed = [m for m, it in zip(found, items, strict=True) if not it.names_place]
    invented = [m for m in unnamed if m is not None and m.province is not None]
    assert len(prov) >= 120 and len(comm) >= 60 and len(unnamed) >= 10
    assert sum(prov) / len(prov) >= 0.97
    assert sum(comm) / len(comm) >= 0.90
    assert len(invented) / len(unnamed) <= 0.02


@pytest.mark.parametrize(
    ("text", "province"),
    [
        ("Tôi làm ở Sài Gòn, tết về quê Nghệ An thấy đường liên xã hỏng nặng", "Tỉnh Nghệ An"),
        ("toi lam o sai gon, tet ve que nghe an thay duong lien xa hong nang", "Tỉnh Nghệ An"),
        ("Tôi đi làm ở Hà Nội, về quê Thanh Hóa thấy bãi rác tự phát bốc mùi", "Tỉnh Thanh Hóa"),
        ("Tôi công tác tại Đà Nẵng nhưng nhà ở xã Hoài Đức, Bình Định bị sạt lở", "Tỉnh Gia Lai"),
        ("con tôi học ở Hà Nội, ở quê Nam Định trường mầm non xuống cấp", "Tỉnh Ninh Bình"),
        ("Tôi làm công nhân ở Bình Dương, bố mẹ ở Thái Bình bị thu hồi đất không đền bù", "Tỉnh Hưng Yên"),
        ("Tôi vào Sài Gòn làm thuê, ở quê Quảng Ngãi đường làng ngập", "Tỉnh Quảng Ngãi"),
        ("toi vao sai gon lam thue, o que quang ngai duong lang ngap", "Tỉnh Quảng Ngãi"),
        # the only place named is where it happened, even where the writer works
        ("Tôi làm việc ở Cần Thơ, công ty nợ lương 3 tháng", "Thành phố Cần Thơ"),
        ("Vợ chồng tôi quê Nghệ An, tạm trú ở Hà Nội, đăng ký tạm trú bị lỗi", "Thành phố Hà Nội"),
        ("Công ty làm đường ở xã Hoài Đức, Bình Định bỏ dở, tôi ở Hà Nội về thăm thấy", "Tỉnh Gia Lai"),
    ],
)
def test_the_place_of_the_problem_not_where_the_writer_works(text: str, province: str) -> None:
    m = EX.extract(text)
    assert m is not None and m.province is not None and m.province.name == province, (text, m)
