"""A data directory like the bundled one with a tiny NLU training set and tiny held-out files: training takes seconds
(the NLU workbench's API and browser tests, and its benchmark)."""

from __future__ import annotations

import shutil
from pathlib import Path

SMALL = {
    "gui_phan_anh/ha_tang": [
        "Đèn đường hỏng cả tháng nay",
        "Đường làng ổ gà, xe đi rất nguy hiểm",
        "Cống thoát nước bị tắc, mưa là ngập",
        "Cầu tạm xuống cấp, sắp sập",
        "Mất điện cả khu từ sáng",
        "Nước máy mất mấy ngày rồi",
        "Vỉa hè bị đào bới không hoàn trả",
        "Đường ngập sâu sau mỗi trận mưa",
    ],
    "gui_phan_anh/moi_truong": [
        "Bãi rác tự phát bốc mùi",
        "Xưởng nhuộm xả nước thải ra mương",
        "Khói lò gạch làm cả xóm ho",
        "Trại lợn xả phân ra suối",
        "Cá chết hàng loạt vì nước thải",
        "Rác không ai thu gom cả tuần",
        "Khói bụi từ nhà máy xi măng",
        "Đốt rác gây ô nhiễm không khí",
    ],
    "chao_hoi": ["xin chào", "chào bạn", "alo", "chào ad", "hello", "chào buổi sáng", "hi", "chào anh chị"],
}
HELDOUT = {
    "gui_phan_anh/ha_tang": ["Đèn đường trước nhà tôi hỏng", "Đường ổ gà rất nguy hiểm", "Cống tắc gây ngập"],
    "gui_phan_anh/moi_truong": ["Rác thải bốc mùi hôi", "Nhà máy xả nước thải", "Khói lò gạch ô nhiễm"],
}


def rasa(labels: dict[str, list[str]]) -> str:
    """Rasa NLU YAML of ``{label: [examples]}``."""
    blocks = "".join(
        f"- intent: {label}\n  examples: |\n" + "".join(f"    - {t}\n" for t in texts)
        for label, texts in labels.items()
    )
    return 'version: "3.1"\nnlu:\n' + blocks


def small_data_dir(source: Path, target: Path) -> Path:
    """``source`` (a data directory) copied to ``target`` with the tiny NLU data instead of its own."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("nlu"))
    (target / "nlu" / "seed").mkdir(parents=True)
    (target / "nlu" / "test").mkdir()
    (target / "nlu" / "seed" / "small.yml").write_text(rasa(SMALL), encoding="utf-8")
    (target / "nlu" / "test" / "heldout.yml").write_text(rasa(HELDOUT), encoding="utf-8")
    (target / "nlu" / "test" / "realworld.yml").write_text(rasa(HELDOUT), encoding="utf-8")
    return target
