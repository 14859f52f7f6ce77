"""The citizen-facing texts, loaded from ``data/templates/vi.yml`` and validated at start."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import yaml

from nlu.vocab import CATEGORIES, OTHER_CATEGORY, STATUSES

OFFICIAL_NOTICES = ("new", "urgent", "overdue")  # the kinds of ticket notification a linked official receives

# Every key the code uses, with the placeholders it fills in. Loading fails if the file lacks one.
REQUIRED: dict[str, set[str]] = {
    "greeting": set(),
    "privacy_notice": set(),
    "consent_question": set(),
    "consent_button_yes": set(),
    "consent_button_anonymous": set(),
    "consent_button_no": set(),
    "consent_thanks": set(),
    "consent_thanks_anonymous": set(),
    "consent_declined": set(),
    "consent_withdrawn": set(),
    "ask_feedback": set(),
    "ask_location": set(),
    "ask_location_again": set(),
    "location_skip_button": set(),
    "ask_commune_choice": set(),
    "ask_category": set(),
    "ask_category_close": set(),
    "category_other_short": set(),
    "stale_button": set(),
    "privacy_reminder": set(),
    "confirm_button_place": set(),
    "ask_place_edit": set(),
    "location_share_button": set(),
    "ask_add_info_no_photo": {"code"},
    "help_no_photo": set(),
    "category_other_button": set(),
    "summary": {"text", "category", "location", "contact"},
    "summary_location_unknown": set(),
    "summary_contact_anonymous": set(),
    "summary_contact_none": set(),
    "confirm_button_send": set(),
    "confirm_button_edit": set(),
    "confirm_button_cancel": set(),
    "ask_edit": set(),
    "filed": {"code", "unit", "deadline"},
    "filed_urgent": {"code", "unit"},
    "already_filed": {"code"},
    "ticket_rate_limited": {"minutes"},
    "draft_too_long": {"limit"},
    "draft_truncated": {"limit"},
    "urgent_consent_note": set(),
    "cancelled": set(),
    "nothing_to_cancel": set(),
    "draft_expired": set(),
    "status_none": set(),
    "status_line": {"code", "status", "unit", "updated"},
    "status_header": set(),
    "status_detail": {"code", "status", "unit", "updated"},
    "status_last_note": {"note"},
    "status_not_found": {"code"},
    "ask_which_ticket": set(),
    "ask_add_info": {"code"},
    "info_added": {"code"},
    "info_closed": {"code"},
    "handoff_forwarded": {"code"},
    "ask_withdraw_reason": {"code"},
    "withdrawn": {"code"},
    "withdraw_closed": {"code"},
    "no_open_tickets": set(),
    "ask_rating": {"code"},
    "ask_rating_comment": set(),
    "rated": {"stars", "code"},
    "rated_low": {"stars", "code"},
    "rating_invalid": set(),
    "nothing_to_rate": set(),
    "help": set(),
    "thanks_reply": set(),
    "chitchat": set(),
    "what_next": set(),
    "too_many": set(),
    "unsupported": set(),
    "starting_up": set(),
    "attachment_received": {"what"},
    "attachment_image": set(),
    "attachment_file": set(),
    "attachment_location": set(),
    "skip_button": set(),
    "menu_hint": set(),
    "star_button": {"n"},
    "notify_reply": {"unit", "code", "text"},
    "notify_reassigned": {"code", "unit", "reason"},
    "notify_escalated": {"code", "unit", "above"},
    **{f"notify_status_{s}": {"code"} for s in STATUSES},
    # officials on Telegram (backend/services/official_telegram.py)
    **{f"official_notice_{k}": {"code", "category", "place", "text", "deadline", "link"} for k in OFFICIAL_NOTICES},
    "official_linked": {"name", "unit"},
    "official_link_failed": set(),
    "official_link_throttled": {"minutes"},
    "official_link_usage": set(),
    "official_unlinked": set(),
    "official_not_linked": set(),
    "official_inactive": set(),
    "official_help": set(),
    "official_reply_preview": {"code", "text"},
    "official_reply_button_send": set(),
    "official_reply_button_cancel": set(),
    "official_reply_sent": {"code"},
    "official_reply_cancelled": {"code"},
    "official_reply_refused": {"code"},
    "official_reply_length": {"limit"},
    "official_reply_unknown": set(),
    "official_reply_decided": set(),
}
OPTIONAL: dict[str, set[str]] = {"notify_status": {"unit", "note", "status"}}


class TextsError(ValueError):
    pass


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


class Texts:
    def __init__(self, templates: dict[str, str], statuses: dict[str, str], categories: dict[str, str]) -> None:
        self._t = templates
        self._statuses = statuses
        self._categories = categories

    @classmethod
    def load(cls, path: Path) -> Texts:
        try:
            raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise TextsError(f"{path}: cannot load templates: {exc}") from exc
        if not isinstance(raw, dict):
            raise TextsError(f"{path}: expected a mapping of template keys")
        statuses = raw.pop("status_names", None) or {}
        categories = raw.pop("category_names", None) or {}
        problems = []
        for k, needed in REQUIRED.items():
            allowed = needed | (OPTIONAL["notify_status"] if k.startswith("notify_status_") else set())
            if not isinstance(raw.get(k), str):
                problems.append(f"missing template '{k}'")
            elif not needed <= _fields(raw[k]):
                problems.append(f"template '{k}' lacks {sorted(needed - _fields(raw[k]))}")
            elif _fields(raw[k]) - allowed:
                problems.append(f"template '{k}' uses unknown placeholders {sorted(_fields(raw[k]) - allowed)}")
        problems += [f"missing status name '{s}'" for s in STATUSES if s not in statuses]
        problems += [f"missing category name '{c}'" for c in CATEGORIES if c not in categories]
        if problems:
            raise TextsError(f"{path}: " + "; ".join(problems))
        return cls({k: str(v) for k, v in raw.items()}, statuses, categories)

    def render(self, key: str, /, **kw: object) -> str:
        return self._t[key].format(**kw) if kw or _fields(self._t[key]) else self._t[key]

    def status_name(self, code: str) -> str:
        return self._statuses.get(code, code)

    def category_name(self, code: str | None) -> str:
        return self._categories.get(code or OTHER_CATEGORY, code or "")
