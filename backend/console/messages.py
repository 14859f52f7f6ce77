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
    "telegram_unlinked": Banner("ok", "Đã huỷ liên kết Telegram. Đồng chí sẽ không nhận thông báo qua Telegram nữa."),
    "telegram_not_linked": Banner("error", "Tài khoản chưa liên kết Telegram nào."),
    # refused
    "reply_length": Banner("error", "Nội dung trả lời phải từ 1 đến {max} ký tự."),
    "note_empty": Banner("error", "Ghi chú trống."),
    "status_refused": Banner("error", "Không thể chuyển phản ánh sang trạng thái này từ trạng thái hiện tại."),
    "status_same": Banner("error", "Phản ánh đang ở đúng trạng thái này rồi."),
    "status_needs_note": Banner("error", "Trạng thái này cần ghi rõ lý do hoặc cơ quan có thẩm quyền trong ô ghi chú."),
    "status_unknown": Banner("error", "Trạng thái không hợp lệ."),
    "reassign_reason": Banner("error", "Vui lòng ghi lý do chuyển đơn vị."),
    "reassign_unknown_unit": Banner("error", "Không tìm thấy đơn vị nhận. Vui lòng chọn đơn vị trong danh sách gợi ý."),
    "reassign_same_unit": Banner("error", "Phản ánh đang do chính đơn vị này xử lý."),
    "reassign_closed": Banner("error", "Phản ánh đã đóng hoặc đã bị từ chối, không thể chuyển đơn vị."),
    "reassign_refused": Banner("error", "Không thể chuyển phản ánh sang đơn vị này."),
    "reassign_accused": Banner("error", "Phản ánh về cán bộ không được chuyển cho chính đơn vị bị phản ánh."),
    "category_same": Banner("error", "Phản ánh đang thuộc đúng lĩnh vực này rồi."),
    "category_unknown": Banner("error", "Lĩnh vực không hợp lệ."),
    "category_refused": Banner("error", "Không thể sửa lĩnh vực."),
    "error": Banner("error", "Không thực hiện được thao tác. Vui lòng thử lại."),
    # the ticket page (backend/console/routes.py ticket_page and post_*)
    "csrf": Banner("error", "Phiên làm việc đã hết hạn hoặc trang đã cũ. Vui lòng tải lại trang rồi thử lại."),
    "not_found": Banner("error", "Không tìm thấy phản ánh, hoặc phản ánh không thuộc phạm vi của đơn vị bạn."),
    "note_length": Banner("error", "Ghi chú phải từ 1 đến {max} ký tự."),
    "status_missing": Banner("error", "Vui lòng chọn trạng thái mới."),
    "status_note_length": Banner("error", "Ghi chú kèm trạng thái dài quá {max} ký tự."),
    "reassign_pick_unit": Banner("error", "Vui lòng chọn đơn vị nhận trong danh sách gợi ý (gõ tên để tìm)."),
    "reassign_reason_length": Banner("error", "Lý do chuyển đơn vị dài quá {max} ký tự."),
    "assigned": Banner("ok", "Đã giao phản ánh cho cán bộ."),
    "assign_refused": Banner("error", "Không giao được: người nhận phải là cán bộ đang hoạt động của đơn vị xử lý."),
    "assign_self_only": Banner(
        "error", "Cán bộ chỉ có thể tự nhận phản ánh cho mình; việc giao cho người khác do lãnh đạo thực hiện."
    ),
    "assign_closed": Banner("error", "Phản ánh đã đóng hoặc đã bị từ chối, không thể giao cho cán bộ."),
    "template_unknown": Banner("error", "Không tìm thấy mẫu trả lời này. Vui lòng chọn mẫu khác."),
    "template_used": Banner("ok", "Đã điền mẫu trả lời vào ô bên dưới; bạn có thể sửa trước khi gửi."),
    "cluster_none": Banner("error", "Không còn phản ánh trùng nào đang mở để gửi chung."),
    "unlinked": Banner("ok", "Đã gỡ phản ánh khỏi nhóm trùng."),
    "unlink_refused": Banner("error", "Không gỡ được: phản ánh này không nằm trong nhóm trùng bạn đang xem."),
    # officials' accounts (/console/officials); the refusal texts come from backend/services/officials.py
    "official_created": Banner("ok", "Đã tạo tài khoản {username}."),
    "official_updated": Banner("ok", "Đã lưu thay đổi của tài khoản {username}."),
    "official_password_reset": Banner(
        "ok", "Đã tạo mật khẩu tạm cho {username}; các phiên đăng nhập cũ của tài khoản này đã kết thúc."
    ),
    "official_refused": Banner("error", "{reason}"),
    "officials_forbidden": Banner("error", "Chỉ lãnh đạo đơn vị hoặc quản trị viên mới được quản lý tài khoản cán bộ."),
    # the NLU workbench (/console/nlu); refusals come from backend/services/nlu_workbench.py, in Vietnamese
    "nlu_accepted": Banner("ok", "Đã duyệt; ví dụ được đưa vào dữ liệu huấn luyện."),
    "nlu_rejected": Banner("ok", "Đã loại sửa đổi này."),
    "nlu_labelled": Banner("ok", "Đã gán nhãn; ví dụ được đưa vào dữ liệu huấn luyện."),
    "nlu_train_queued": Banner("ok", "Đã xếp hàng huấn luyện; tiến độ hiện ngay bên dưới."),
    "nlu_activated": Banner("ok", "Đã kích hoạt mô hình; mọi tiến trình dùng mô hình này trong vòng 10 giây."),
    "nlu_refused": Banner("error", "{reason}"),
    "nlu_forbidden": Banner("error", "Chỉ quản trị viên mới được dùng bàn làm việc NLU."),
    # the inbox (backend/console/routes.py ticket_list, saved views)
    "filter_invalid": Banner("error", "Bộ lọc không hợp lệ ({field}); đang hiển thị danh sách không lọc."),
    "filter_unit": Banner("error", "Đơn vị này không thuộc phạm vi của bạn; đang hiển thị danh sách không lọc."),
    "view_saved": Banner("ok", "Đã lưu bộ lọc thành một chế độ xem."),
    "view_deleted": Banner("ok", "Đã xóa chế độ xem."),
    "view_name": Banner("error", "Tên chế độ xem phải từ 1 đến 60 ký tự và chưa được dùng."),
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
    ("complaint about officials cannot go", "reassign_accused"),
    ("not in the cluster", "unlink_refused"),
    ("cannot be assigned", "assign_closed"),
    ("may only assign tickets to themselves", "assign_self_only"),
    ("is not an active official", "assign_refused"),
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


# The ticket page's history: what each event is called (ticket_events.kind).
EVENT_NAMES: dict[str, str] = {
    "created": "Người dân gửi phản ánh",
    "routed": "Tự động chuyển tới đơn vị xử lý",
    "status": "Đổi trạng thái",
    "reply": "Trả lời người dân",
    "note": "Ghi chú nội bộ",
    "info": "Người dân bổ sung thông tin",
    "rating": "Người dân đánh giá",
    "reassigned": "Chuyển đơn vị xử lý",
    "corrected": "Sửa lĩnh vực",
    "duplicate": "Đánh dấu trùng với phản ánh khác",
    "unlinked": "Gỡ khỏi nhóm phản ánh trùng",
    "escalated": "Quá hạn, báo cáo cấp trên",
    "assigned": "Giao cho cán bộ",
    "undelivered": "Không gửi được tin nhắn tới người dân",
}

# Who acted, when it was not an official (whose full name is shown).
ACTOR_NAMES: dict[str, str] = {"citizen": "Người dân", "system": "Hệ thống gopy"}

CHANNEL_NAMES: dict[str, str] = {
    "telegram": "Telegram",
    "zalo": "Zalo OA",
    "zalobot": "Zalo Bot",
    "webchat": "Trò chuyện trên trang web",
}


# The inbox's filters as the list's banners name them (backend/services/ticket_query.py QueryError.field).
FILTER_LABELS: dict[str, str] = {
    "q": "từ khóa",
    "status": "trạng thái",
    "category": "lĩnh vực",
    "unit": "đơn vị",
    "urgent": "khẩn",
    "overdue": "quá hạn",
    "channel": "kênh",
    "from": "từ ngày",
    "to": "đến ngày",
    "assignee": "người được giao",
    "sort": "sắp xếp",
}


def event_name(kind: str) -> str:
    return EVENT_NAMES.get(kind, "Cập nhật khác")
