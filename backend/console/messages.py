"""The console's banners (shown after an action), in one reviewable place.

A redirect carries only a code (``?msg=replied``); the page shows the text mapped here. Text from the URL is never
shown, so a crafted link cannot put words of an attacker's choosing in front of an official.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Banner:
    kind: str  # "ok" (role=status) or "error" (role=alert)
    text: str


BANNERS: dict[str, Banner] = {
    # done
    "replied": Banner("ok", "Đã gửi trả lời tới người dân."),
    "replied_many": Banner("ok", "Đã gửi trả lời tới {n} phản ánh."),
    "status_changed": Banner("ok", "Đã cập nhật trạng thái."),
    "note_added": Banner("ok", "Đã thêm ghi chú nội bộ."),
    "category_corrected": Banner("ok", "Đã sửa lĩnh vực; ghi nhận làm dữ liệu huấn luyện."),
    "reassigned": Banner("ok", "Đã chuyển phản ánh sang đơn vị khác."),
    "done": Banner("ok", "Đã thực hiện."),
    # refused
    "reply_length": Banner("error", "Nội dung trả lời phải từ 1 đến {max} ký tự."),
    "note_empty": Banner("error", "Ghi chú trống."),
    "status_refused": Banner("error", "Không thể chuyển phản ánh sang trạng thái này từ trạng thái hiện tại."),
    "status_same": Banner("error", "Phản ánh đang ở đúng trạng thái này rồi."),
    "status_needs_note": Banner("error", "Trạng thái này cần ghi rõ lý do hoặc cơ quan có thẩm quyền trong ô ghi chú."),
    "status_unknown": Banner("error", "Trạng thái không hợp lệ."),
    "reassign_reason": Banner("error", "Vui lòng ghi lý do chuyển đơn vị."),
    "reassign_unknown_unit": Banner("error", "Không có đơn vị với mã này. Vui lòng kiểm tra lại mã đơn vị."),
    "reassign_same_unit": Banner("error", "Phản ánh đang do chính đơn vị này xử lý."),
    "reassign_closed": Banner("error", "Phản ánh đã đóng hoặc đã bị từ chối, không thể chuyển đơn vị."),
    "reassign_refused": Banner("error", "Không thể chuyển phản ánh sang đơn vị này."),
    "category_same": Banner("error", "Phản ánh đang thuộc đúng lĩnh vực này rồi."),
    "category_unknown": Banner("error", "Lĩnh vực không hợp lệ."),
    "category_refused": Banner("error", "Không thể sửa lĩnh vực."),
    "error": Banner("error", "Không thực hiện được thao tác. Vui lòng thử lại."),
    # login page
    "login_failed": Banner("error", "Sai tên đăng nhập hoặc mật khẩu."),
    "login_throttled": Banner(
        "error", "Bạn đã đăng nhập sai quá nhiều lần. Vui lòng thử lại sau khoảng {minutes} phút."
    ),
    "logged_out": Banner("ok", "Bạn đã đăng xuất."),
}

# Which banner a refusal from the ticket services gets (their messages are English, for the API and the logs).
_REFUSALS: list[tuple[str, str]] = [
    ("reassigning needs a reason", "reassign_reason"),
    ("unknown unit", "reassign_unknown_unit"),
    ("ticket is already handled by", "reassign_same_unit"),
    ("cannot be reassigned", "reassign_closed"),
    ("unknown category", "category_unknown"),
    ("category is already", "category_same"),
    ("unknown status", "status_unknown"),
    ("ticket is already", "status_same"),
    ("cannot change status", "status_refused"),
    ("needs a note", "status_needs_note"),
]


def refusal_code(message: str, default: str) -> str:
    """The banner code for a refusal message of the ticket services (``default`` when none fits)."""
    return next((code for fragment, code in _REFUSALS if fragment in message), default)


def code_for_text(text: str, default: str) -> str:
    """The code of a banner text (for callers that still pass a text): never lets the text itself through."""
    return next((code for code, banner in BANNERS.items() if banner.text == text), default)


def banner(code: str | None, **values: object) -> Banner | None:
    """The banner for ``code`` with its placeholders filled; ``None`` for no code or an unknown one."""
    found = BANNERS.get(code or "")
    if found is None:
        return None
    try:
        return Banner(found.kind, found.text.format(**values))
    except (KeyError, IndexError, ValueError):
        return None
