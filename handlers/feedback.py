"""Submitting feedback: build a draft from free text, ask only what is missing, confirm, file."""

from __future__ import annotations

import dataclasses
import math
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.messages import Attachment, Button, GeoPoint, InboundMessage
from handlers.ports import MAX_TEXT, CitizenRef, Reply, TicketDraft, TicketError
from handlers.state import State, draft_id, fold, new_draft_id, reply

if TYPE_CHECKING:
    from handlers.conversation import Conversation

CATEGORY_THRESHOLD = 0.45
REPEAT_SEND_SECONDS = 600  # a second "send" this soon after filing gets the same code back
_PHONE = re.compile(r"(?:\+?84|0)\d{9,10}")


def new_draft(text: str, parsed: dict[str, Any]) -> dict[str, Any]:
    """A new draft with its own id; text beyond ``MAX_TEXT`` is cut (callers tell the citizen, see ``too_long``)."""
    draft: dict[str, Any] = {
        "id": new_draft_id(),
        "text": text[:MAX_TEXT],
        "attachments": [],
        "geo": None,
        "phone": None,
        "asked": [],
    }
    apply_parse(draft, parsed)
    for ent in parsed.get("entities", []):
        if ent.get("entity") == "phone":
            draft["phone"] = ent["value"]
    return draft


def apply_parse(draft: dict[str, Any], parsed: dict[str, Any]) -> None:
    draft["nlu"] = parsed
    draft["intent_confidence"] = parsed["intent"]["confidence"]
    category = parsed.get("category") or {}
    if category and (not draft.get("category") or category["confidence"] > draft.get("category_confidence", 0)):
        draft["category"], draft["category_confidence"] = category["name"], category["confidence"]
        draft["ranking"] = [r["name"] for r in parsed.get("category_ranking", [])][:3]
    draft["urgent"] = bool(draft.get("urgent")) or bool(parsed.get("urgent"))
    apply_location(draft, parsed.get("location"))


def apply_location(draft: dict[str, Any], loc: dict[str, Any] | None) -> bool:
    if not loc or not (loc.get("province_code") or loc.get("candidates")):
        return False
    draft["province_code"] = loc.get("province_code")
    draft["commune_code"] = loc.get("commune_code")
    draft["candidates"] = [c["code"] for c in loc.get("candidates", [])]
    draft["location_text"] = loc.get("text")
    return True


def append_text(draft: dict[str, Any], text: str) -> bool:
    """Add the citizen's words to the draft; ``False``, adding nothing, when the ticket text would pass the limit."""
    joined = f"{draft['text']}\n{text}".strip()
    if len(joined) > MAX_TEXT:
        return False
    draft["text"] = joined
    return True


def add_attachments(draft: dict[str, Any], msg: InboundMessage) -> None:
    draft["attachments"] += [dataclasses.asdict(a) for a in msg.attachments]
    if msg.location is not None:
        draft["geo"] = {"latitude": msg.location.latitude, "longitude": msg.location.longitude}


def to_ticket_draft(draft: dict[str, Any], anonymous: bool) -> TicketDraft:
    geo = draft.get("geo")
    return TicketDraft(
        text=draft["text"],
        intent="gui_phan_anh",
        intent_confidence=float(draft.get("intent_confidence", 0.0)),
        category=draft.get("category") or "khac",
        category_confidence=float(draft.get("category_confidence", 0.0)),
        province_code=draft.get("province_code"),
        commune_code=draft.get("commune_code"),
        location_text=draft.get("location_text"),
        geo=GeoPoint(**geo) if geo else None,
        urgent=bool(draft.get("urgent")),
        anonymous=anonymous,
        phone=None if anonymous else draft.get("phone"),
        attachments=[Attachment(**a) for a in draft.get("attachments", [])],
        nlu=draft.get("nlu", {}),
        draft_id=draft_id(draft),
    )


class FeedbackFlow:
    """The questions, in order; each is asked at most once."""

    def __init__(self, conv: Conversation) -> None:
        self.c = conv

    def too_long(self, cut: bool = False) -> Reply:
        """Tell the citizen the ticket text reached its limit: the new words were not added (or were cut)."""
        limit = f"{MAX_TEXT:,}".replace(",", ".")
        return reply(self.c.texts.render("draft_truncated" if cut else "draft_too_long", limit=limit))

    def advance(self, citizen: CitizenRef, state: State, now: datetime) -> list[Reply]:
        draft = state.draft
        assert draft is not None
        state.about_draft()
        t = self.c.texts
        asked = draft.setdefault("asked", [])
        if draft.get("urgent"):
            return self.file(citizen, state, now)
        if len(draft.get("candidates") or []) > 1 and "commune" not in asked:
            asked.append("commune")
            units = self.c.tickets.unit_candidates(draft["candidates"][:8])
            buttons = [Button(name, f"commune:{code}") for code, name in units]
            buttons.append(Button(t.render("location_skip_button"), "location:skip"))
            self.c.goto(state, "await_commune")
            return [reply(t.render("ask_commune_choice"), buttons, state)]
        if not draft.get("province_code") and not draft.get("geo") and "location" not in asked:
            asked.append("location")
            self.c.goto(state, "await_location")
            return [reply(t.render("ask_location"), [Button(t.render("location_skip_button"), "location:skip")], state)]
        if float(draft.get("category_confidence", 0.0)) < CATEGORY_THRESHOLD and "category" not in asked:
            asked.append("category")
            ranking = [c for c in draft.get("ranking", []) if c != "khac"][:3] or ["ha_tang", "moi_truong", "dat_dai"]
            buttons = [Button(t.category_name(c), f"category:{c}") for c in ranking]
            buttons.append(Button(t.render("category_other_button"), "category:khac"))
            self.c.goto(state, "await_category")
            return [reply(t.render("ask_category"), buttons, state)]
        return [self.summary(citizen, state)]

    def summary(self, citizen: CitizenRef, state: State) -> Reply:
        draft = state.draft
        assert draft is not None
        t = self.c.texts
        location = self._location_name(draft) or t.render("summary_location_unknown")
        anonymous = self.c.tickets.get_consent(citizen) == "anonymous"
        contact = (
            t.render("summary_contact_anonymous")
            if anonymous
            else draft.get("phone") or t.render("summary_contact_none")
        )
        self.c.goto(state, "await_confirm")
        state.about_draft()
        text = t.render(
            "summary",
            text=draft["text"],
            category=t.category_name(draft.get("category")),
            location=location,
            contact=contact,
        )
        return reply(text, self._confirm_buttons(), state)

    def _confirm_buttons(self) -> list[Button]:
        t = self.c.texts
        return [
            Button(t.render("confirm_button_send"), "confirm:send"),
            Button(t.render("confirm_button_edit"), "confirm:edit"),
            Button(t.render("confirm_button_cancel"), "confirm:cancel"),
        ]

    def _location_name(self, draft: dict[str, Any]) -> str | None:
        codes = [c for c in (draft.get("commune_code"), draft.get("province_code")) if c]
        if codes:
            names = dict(self.c.tickets.unit_candidates(codes))
            name = names.get(codes[0])
            if name:
                return name
        if draft.get("geo"):
            geo = draft["geo"]
            return f"{self.c.texts.render('attachment_location')} {geo['latitude']:.5f}, {geo['longitude']:.5f}"
        return None

    def file(self, citizen: CitizenRef, state: State, now: datetime) -> list[Reply]:
        draft = state.draft
        assert draft is not None
        t = self.c.texts
        consent = self.c.tickets.get_consent(citizen)
        out: list[Reply] = []
        if consent is None and draft.get("urgent"):
            out.append(reply(t.render("urgent_consent_note")))
        state.about_draft()
        try:
            summary = self.c.tickets.file(citizen, to_ticket_draft(draft, consent == "anonymous"))
        except TicketError as exc:
            if exc.code != "rate_limited":
                raise
            minutes = max(1, math.ceil((exc.retry_after or 60) / 60))
            self.c.goto(state, "await_confirm")  # the draft is kept: "send" again once the wait is over
            out.append(reply(t.render("ticket_rate_limited", minutes=minutes), self._confirm_buttons(), state))
            return out
        state.reset()
        state.about_ticket(summary.code)
        state.data["filed"] = {"draft": state.turn_draft, "code": summary.code, "at": now.isoformat()}
        if summary.repeated:
            out.append(reply(t.render("already_filed", code=summary.code)))
        elif draft.get("urgent"):
            out.append(reply(t.render("filed_urgent", code=summary.code, unit=summary.unit_name)))
        else:
            deadline = summary.deadline.astimezone(self.c.tz).strftime("%d/%m/%Y") if summary.deadline else "—"
            out.append(reply(t.render("filed", code=summary.code, unit=summary.unit_name, deadline=deadline)))
        return out

    # -- answers to the questions -------------------------------------------------------------------------
    def on_location(self, citizen: CitizenRef, state: State, msg: InboundMessage, now: datetime) -> list[Reply]:
        draft = state.draft
        assert draft is not None
        if msg.payload == "location:skip":
            return self.advance(citizen, state, now)
        if msg.location is not None:
            add_attachments(draft, msg)
            return self.advance(citizen, state, now)
        parsed = self.c.parser.parse(msg.text)
        if apply_location(draft, parsed.get("location")):
            if not append_text(draft, msg.text):
                return [self.too_long(), *self.advance(citizen, state, now)]
            return self.advance(citizen, state, now)
        if parsed["intent"]["name"] != "gui_phan_anh" and parsed["intent"]["confidence"] >= 0.7:
            self.c.goto(state, "idle")  # the citizen moved on (status, help, ...); the draft is kept
            return self.c.handle_idle(citizen, state, msg, now)
        if "location_again" not in draft["asked"]:
            draft["asked"].append("location_again")
            state.about_draft()
            t = self.c.texts
            return [
                reply(
                    t.render("ask_location_again"), [Button(t.render("location_skip_button"), "location:skip")], state
                )
            ]
        if not append_text(draft, msg.text):
            return [self.too_long(), *self.advance(citizen, state, now)]
        return self.advance(citizen, state, now)

    def on_commune(self, citizen: CitizenRef, state: State, msg: InboundMessage, now: datetime) -> list[Reply]:
        draft = state.draft
        assert draft is not None
        payload = msg.payload or ""
        if payload.startswith("commune:") and payload[8:] in (draft.get("candidates") or []):
            draft["commune_code"] = payload[8:]
            province = dict(self.c.tickets.unit_candidates([payload[8:]]))
            draft["candidates"] = []
            if not draft.get("province_code") and province:
                draft["province_code"] = self.c.province_of(payload[8:])
        elif payload == "location:skip" or msg.kind == "text":
            draft["candidates"] = []
        return self.advance(citizen, state, now)

    def on_category(self, citizen: CitizenRef, state: State, msg: InboundMessage, now: datetime) -> list[Reply]:
        draft = state.draft
        assert draft is not None
        payload = msg.payload or ""
        if payload.startswith("category:"):
            draft["category"], draft["category_confidence"] = payload[9:], 1.0
        return self.advance(citizen, state, now)

    def on_confirm(self, citizen: CitizenRef, state: State, msg: InboundMessage, now: datetime) -> list[Reply]:
        draft = state.draft
        assert draft is not None
        t = self.c.texts
        payload = msg.payload or ""
        word = self.c.yes_no(msg)
        if payload == "confirm:send" or word == "yes":
            return self.file(citizen, state, now)
        if payload == "confirm:cancel" or word == "no":
            state.reset()
            return [reply(t.render("cancelled"))]
        if payload == "confirm:edit":
            self.c.goto(state, "await_edit")
            state.about_draft()
            return [reply(t.render("ask_edit"), state=state)]
        phone = _PHONE.search(fold(msg.text).replace(" ", "")) if msg.text else None
        out: list[Reply] = []
        if phone:
            draft["phone"] = phone.group(0)
        elif msg.text:
            if append_text(draft, msg.text):
                apply_parse(draft, self.c.parser.parse(draft["text"]))
            else:
                out.append(self.too_long())
        add_attachments(draft, msg)
        return [*out, self.summary(citizen, state)]

    def on_edit(self, citizen: CitizenRef, state: State, msg: InboundMessage, now: datetime) -> list[Reply]:
        old = state.draft or {}
        draft = new_draft(msg.text, self.c.parser.parse(msg.text))
        draft["attachments"], draft["geo"] = old.get("attachments", []), old.get("geo")
        draft["id"] = old.get("id") or draft["id"]  # the same report, rewritten: its messages stay linked
        if not draft.get("province_code") and old.get("province_code"):
            for k in ("province_code", "commune_code", "location_text"):
                draft[k] = old.get(k)
        state.draft = draft
        cut = [self.too_long(cut=True)] if len(msg.text) > MAX_TEXT else []
        return [*cut, *self.advance(citizen, state, now)]
