"""The labels of SPEC §4: dialogue intents and feedback categories (code → Vietnamese name, description).

The codes themselves are the shared vocabulary's (``nlu.vocab``); a test keeps this table's keys equal to them.
"""

from __future__ import annotations

from typing import Final

from nlu import vocab

INTENTS: Final = vocab.INTENTS

# The Vietnamese name and description of each category code (codes: ``nlu.vocab.CATEGORIES``, in that order).
CATEGORIES: Final[dict[str, tuple[str, str]]] = {
    "dat_dai": ("Đất đai, nhà ở", "Đất đai, nhà ở, giải phóng mặt bằng, bồi thường, tái định cư, xây dựng trái phép"),
    "moi_truong": ("Môi trường", "Ô nhiễm, rác thải, nước thải, khói bụi, phá rừng, khai thác cát"),
    "ha_tang": ("Hạ tầng", "Đường, cầu, ngập úng, đèn đường, điện, nước sạch, sóng viễn thông"),
    "an_sinh": (
        "An sinh xã hội",
        "Hộ nghèo, trợ cấp, người có công, người khuyết tật, người cao tuổi, lương hưu, BHXH",
    ),
    "y_te": ("Y tế", "Cơ sở y tế, bảo hiểm y tế, dịch bệnh, an toàn thực phẩm"),
    "giao_duc": ("Giáo dục", "Trường học, học phí, giáo viên, dạy thêm, bữa ăn bán trú, tuyển sinh"),
    "an_ninh_trat_tu": ("An ninh, trật tự", "Trộm cắp, ma túy, cờ bạc, tín dụng đen, lừa đảo, đua xe, đánh nhau"),
    "can_bo_tham_nhung": ("Cán bộ, tham nhũng", "Tác phong cán bộ, hối lộ, tham ô, lạm quyền, bao che"),
    "thu_tuc_hanh_chinh": ("Thủ tục hành chính", "Thủ tục, cổng dịch vụ công, hộ tịch, cư trú, căn cước"),
    "kinh_te_viec_lam": (
        "Kinh tế, việc làm",
        "Giá cả, nông nghiệp, thủy sản, việc làm, nợ lương, thuế hộ kinh doanh, chợ",
    ),
    "thien_tai_khan_cap": ("Thiên tai, khẩn cấp", "Lũ lụt, bão, sạt lở, cháy, hạn mặn, cứu trợ (khẩn cấp)"),
    "chinh_sach_phap_luat": ("Chính sách, pháp luật", "Ý kiến về luật, dự thảo luật, chính sách, Hiến pháp"),
    "khen_ngoi": ("Khen ngợi", "Khen ngợi, cảm ơn cán bộ, đơn vị, công trình"),
    "khac": ("Khác", "Văn hóa, tôn giáo, thiện nguyện, tìm người thân và các nội dung khác"),
}
