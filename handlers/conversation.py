"""The conversation: one inbound message in, replies out. Channel-agnostic; state per citizen with a TTL.

Each step first asks "does this apply?" (global commands, the state's own handler, then the intent) and only
then handles it. Every state change goes through :meth:`handlers.state.State.goto`, checked against
``TRANSITIONS``, which ``handlers/conversation.md`` draws as a Mermaid diagram (a test keeps the two equal).

The flows (``feedback``, ``tickets_flow``) get a :class:`~handlers.context.FlowContext`, never the conversation:
when a message is not theirs they return ``None`` and :meth:`Conversation._dispatch` handles it as a new message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.messages import Button, InboundMessage
from handlers.context import CANCEL, FlowContext, info_after_code, sends_photos, ticket_code, yes_no
from handlers.draft import Draft
from handlers.feedback import REPEAT_SEND_SECONDS, FeedbackFlow
from handlers.ports import CitizenRef, Parser, Reply, StateStore, TicketService, Turn
from handlers.state import DRAFT_MAX_AGE_SECONDS, State, age_seconds, load, reply, save
from handlers.texts import Texts
from handlers.tickets_flow import TicketsFlow
from nlu.vocab import (
    BO_SUNG_THONG_TIN,
    CAM_ON,
    CHAO_HOI,
    DANH_GIA,
    DONG_Y,
    FEEDBACK_INTENT,
    HUY,
    MAX_TEXT,
    TRA_CUU_TRANG_THAI,
    TRO_GIUP,
    TU_CHOI_INTENT,
    fold,
)


class Conversation:
    def __init__(
        self,
        parser: Parser,
        tickets: TicketService,
        states: StateStore,
        texts: Texts,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        chitchat_per_minute: int = 20,
        tz: ZoneInfo | None = None,
    ) -> None:
        self.parser, self.tickets, self.states, self.texts = parser, tickets, states, texts
        self.clock = clock
        self.chitchat_per_minute = chitchat_per_minute
        self.tz = tz or ZoneInfo("Asia/Ho_Chi_Minh")
        self.context = FlowContext(parser, tickets, texts, self.tz)
        self.feedback = FeedbackFlow(self.context)
        self.flows = TicketsFlow(self.context)

    # -- entry points ---------------------------------------------------------------------------------------
    def handle(self, citizen: CitizenRef, msg: InboundMessage) -> list[Reply]:
        """The replies to one message (the scripts' view of a turn)."""
        return self.turn(citizen, msg).replies

    def turn(self, citizen: CitizenRef, msg: InboundMessage) -> Turn:
        """One message in: the replies, and the draft or ticket the turn belonged to (for linking messages)."""
        state = load(self.states, citizen)
        now = self.clock()
        msg = self._digits_to_payload(state, msg)
        out: list[Reply] = []
        if state.draft is not None and age_seconds(state.draft_started, now) > DRAFT_MAX_AGE_SECONDS:
            state.reset()
            out.append(reply(self.texts.render("draft_expired")))
        out += self._dispatch(citizen, state, msg, now)
        save(self.states, citizen, state)
        return Turn(out, state.turn_draft, state.turn_ticket)

    def on_ticket_answered(self, citizen: CitizenRef, code: str) -> list[Reply]:
        """Called by the backend when an official answers: ask the citizen to rate the handling."""
        state = load(self.states, citizen)
        if state.draft is not None:  # a report being written (at any step, even idle): neither interrupt nor lose it
            return []  # rating stays available via "đánh giá"
        out = self.flows.ask_rating(state, code)
        save(self.states, citizen, state)
        return out

    # -- dispatch -------------------------------------------------------------------------------------------
    @staticmethod
    def _digits_to_payload(state: State, msg: InboundMessage) -> InboundMessage:
        text = msg.text.strip()
        # isdecimal, not isdigit: "²" and "①" are digits that int() refuses
        if msg.kind == "text" and text.isdecimal() and state.offered and 1 <= int(text) <= len(state.offered):
            return replace(msg, kind="button", payload=state.offered[int(text) - 1])
        # a button's title typed as words ("gui phan anh", "Gửi phản ánh.") is the same as pressing it
        if msg.kind == "text" and text and len(state.offered_titles) == len(state.offered):
            typed = fold(text)
            for title, payload in zip(state.offered_titles, state.offered, strict=True):
                if typed and typed == title:
                    return replace(msg, kind="button", payload=payload)
        return msg

    def _dispatch(self, citizen: CitizenRef, state: State, msg: InboundMessage, now: datetime) -> list[Reply]:
        t = self.texts
        word = fold(msg.text)
        if msg.kind == "unfollow":
            state.reset()
            return []
        if msg.kind == "follow" or word == "/start":
            state.reset()
            return self.greet(citizen, state)
        if word in CANCEL or msg.payload == "confirm:cancel":
            had = state.name != "idle"
            state.reset()
            return [reply(t.render("cancelled" if had else "nothing_to_cancel"))]
        if word in ("/help", "huong dan", "tro giup", "help"):
            return [reply(t.render("help" if sends_photos(citizen) else "help_no_photo"))]
        if word == "/status":
            state.reset()
            return self.flows.status(citizen, state, None)
        if word in ("rut dong y", "rut lai dong y", "/withdraw_consent"):
            self.tickets.set_consent(citizen, None)
            state.reset()
            return [reply(t.render("consent_withdrawn"))]
        if msg.kind == "unsupported":
            return [reply(t.render("unsupported"))]
        if state.name == "idle" and self._sent_again(state, msg, now):
            filed = state.data["filed"]
            state.turn_draft = filed.get("draft")
            state.about_ticket(filed["code"])
            return [reply(t.render("already_filed", code=filed["code"]))]
        if msg.kind == "button" and state.is_stale(msg.payload):
            return self._stale(state)
        handler = {
            "await_consent": self._on_consent,
            "await_location": self.feedback.on_location,
            "await_commune": self.feedback.on_commune,
            "await_category": self.feedback.on_category,
            "await_confirm": self.feedback.on_confirm,
            "await_edit": self.feedback.on_edit,
        }.get(state.name)
        if handler is not None:
            handled = handler(citizen, state, msg, now)
            return handled if handled is not None else self.handle_idle(citizen, state, msg, now)
        simple = {
            "await_ticket": self.flows.on_ticket,
            "await_add_info": self.flows.on_add_info,
            "await_withdraw_reason": self.flows.on_withdraw_reason,
            "await_rating": self.flows.on_rating,
            "await_rating_comment": self.flows.on_rating_comment,
        }.get(state.name)
        if simple is not None:
            answered = simple(citizen, state, msg)
            if answered is not None:
                return answered
        return self.handle_idle(citizen, state, msg, now)

    def _sent_again(self, state: State, msg: InboundMessage, now: datetime) -> bool:
        """A second "send" (pressed or typed) right after a report was filed: the same report, not a new one."""
        filed = state.data.get("filed")
        if not isinstance(filed, dict) or age_seconds(filed.get("at"), now) > REPEAT_SEND_SECONDS:
            return False
        return msg.payload == "confirm:send" or (msg.kind == "text" and yes_no(msg) == "yes")

    def _stale(self, state: State) -> list[Reply]:
        """A button from an earlier step: say that question has passed and ask the current one again."""
        t = self.texts
        current = state.current_question()
        if current is None:
            return [reply(t.render("stale_button") + " " + t.render("what_next"))]
        text, buttons = current
        return [reply(t.render("stale_button")), reply(text, buttons, state)]

    def greet(self, citizen: CitizenRef, state: State) -> list[Reply]:
        t = self.texts
        if self.tickets.get_consent(citizen) is None:
            state.goto("await_consent")
            return [reply(t.render("greeting")), self._consent_question(state)]
        return [reply(t.render("greeting")), reply(t.render("what_next"))]

    def _consent_question(self, state: State) -> Reply:
        t = self.texts
        buttons = [
            Button(t.render("consent_button_yes"), "consent:named"),
            Button(t.render("consent_button_anonymous"), "consent:anonymous"),
            Button(t.render("consent_button_no"), "consent:no"),
        ]
        notice = t.render("privacy_reminder" if state.notice_shown else "privacy_notice")
        state.notice_shown = True  # the full notice once per conversation; afterwards a short reminder
        return reply(notice + "\n" + t.render("consent_question"), buttons, state)

    def _on_consent(self, citizen: CitizenRef, state: State, msg: InboundMessage, now: datetime) -> list[Reply]:
        t = self.texts
        word = fold(msg.text)
        choice = (msg.payload or "").removeprefix("consent:") if msg.payload else None
        if choice is None:
            choice = "anonymous" if "an danh" in word else {"yes": "named", "no": "no"}.get(yes_no(msg) or "")
        if choice in ("named", "anonymous"):
            self.tickets.set_consent(citizen, choice)
            first = reply(t.render("consent_thanks" if choice == "named" else "consent_thanks_anonymous"))
            if state.draft is not None:
                return [first, *self.feedback.advance(citizen, state, now)]
            state.goto("idle")
            return [first, reply(t.render("ask_feedback"))]
        if choice == "no":
            state.reset()
            return [reply(t.render("consent_declined"))]
        if msg.kind == "text" and msg.text:  # something else: maybe the complaint itself
            parsed = self.parser.parse(msg.text)
            if parsed.intent.name == FEEDBACK_INTENT:
                state.draft = Draft.begin(msg.text, parsed)
                state.draft_started = now.isoformat()
                if len(msg.text) > MAX_TEXT:
                    state.about_draft()
                    return [self.feedback.too_long(cut=True), self._consent_question(state)]
        state.about_draft()  # asked again about the report waiting for consent (if there is one)
        return [self._consent_question(state)]

    def handle_idle(
        self, citizen: CitizenRef, state: State, msg: InboundMessage, now: datetime | None = None
    ) -> list[Reply]:
        now = now or self.clock()
        t = self.texts
        if msg.kind in ("image", "file", "location"):
            handoff = self.tickets.handoff_ticket(citizen)
            if handoff:
                return self.flows.add_info(citizen, state, handoff, msg, handoff=True)
            asked = self.tickets.awaiting_info(citizen) if state.draft is None else None
            if asked:  # an official asked for more: the photo or place answers it
                return self.flows.add_info(citizen, state, asked, msg)
            state.draft = Draft(text=(msg.text or "")[:MAX_TEXT])
            state.draft_started = now.isoformat()
            state.about_draft()
            state.draft.add_attachments(msg)
            what = {"image": "attachment_image", "file": "attachment_file"}.get(msg.kind, "attachment_location")
            if msg.text:
                return self._feedback(citizen, state, now)
            return [reply(t.render("attachment_received", what=t.render(what)))]
        if msg.kind == "button" and not msg.text:
            return [reply(t.render("what_next"))]
        code = ticket_code(msg.text)
        parsed = self.parser.parse(msg.text)
        intent = parsed.intent.name
        handoff = self.tickets.handoff_ticket(citizen)
        if handoff and intent not in (TRA_CUU_TRANG_THAI, TRO_GIUP, HUY, DANH_GIA) and not code:
            return self.flows.add_info(citizen, state, handoff, msg, handoff=True)
        asked = self._awaiting_info(citizen, state, intent, code)
        info = info_after_code(msg.text) if code else msg.text.strip()
        if asked and info:  # the answer to an official's request for more information, not a new petition
            return self.flows.add_info(citizen, state, asked, replace(msg, text=info))
        only_code = bool(code) and len(fold(msg.text).split()) <= 4  # "PA-7K3Q-M2XD", "ma PA-... sao roi"
        if intent == TRA_CUU_TRANG_THAI or (
            code and (only_code or intent not in (BO_SUNG_THONG_TIN, HUY, FEEDBACK_INTENT))
        ):
            return self.flows.status(citizen, state, code)
        if intent == BO_SUNG_THONG_TIN or (code and "bo sung" in fold(msg.text)):  # "PA-… bổ sung: <text>"
            return self.flows.choose(citizen, state, "add", code, msg)
        if intent == HUY or "rut don" in fold(msg.text) or "rut phan anh" in fold(msg.text):
            return self.flows.choose(citizen, state, "withdraw", code)
        if intent == DANH_GIA:
            return self.flows.start_rating(citizen, state, msg)
        if intent == FEEDBACK_INTENT or (state.draft is not None and intent not in (CHAO_HOI, CAM_ON, TRO_GIUP)):
            notice: list[Reply] = []
            if state.draft is not None and state.draft.text:
                if state.draft.append_text(msg.text):
                    state.draft.apply_parse(parsed)
                else:
                    notice.append(self.feedback.too_long())
            else:
                old = state.draft
                state.draft = Draft.begin(msg.text, parsed)
                if old is not None:  # the photo sent first belongs to it
                    state.draft.attachments, state.draft.geo, state.draft.id = old.attachments, old.geo, old.id
                state.draft_started = now.isoformat()
                if len(msg.text) > MAX_TEXT:
                    notice.append(self.feedback.too_long(cut=True))
            return [*notice, *self._feedback(citizen, state, now)]
        if intent == CHAO_HOI:
            return self.greet(citizen, state)
        if intent == TRO_GIUP:
            return [reply(t.render("help" if sends_photos(citizen) else "help_no_photo"))]
        if intent == CAM_ON:
            return [reply(t.render("thanks_reply"))]
        if intent in (DONG_Y, TU_CHOI_INTENT):
            return [reply(t.render("what_next"))]
        return self._chitchat(state)

    def _awaiting_info(self, citizen: CitizenRef, state: State, intent: str, code: str | None) -> str | None:
        """The ticket an official asked this citizen about (``can_bo_sung``), when this message answers it: not a
        question about status, help, withdrawing, rating or a greeting, not about another ticket, and no new report
        being written."""
        if state.draft is not None or intent in (TRA_CUU_TRANG_THAI, TRO_GIUP, HUY, DANH_GIA, CHAO_HOI, CAM_ON):
            return None
        asked = self.tickets.awaiting_info(citizen)
        if asked is None or (code and code != asked):
            return None
        return asked

    def _feedback(self, citizen: CitizenRef, state: State, now: datetime) -> list[Reply]:
        assert state.draft is not None
        state.about_draft()
        consent = self.tickets.get_consent(citizen)
        if consent is None and not state.draft.urgent:
            state.goto("await_consent")
            return [self._consent_question(state)]
        return self.feedback.advance(citizen, state, now)

    def _chitchat(self, state: State) -> list[Reply]:
        now = time.time()
        state.recent = [x for x in state.recent if now - x < 60] + [now]
        if len(state.recent) > self.chitchat_per_minute + 1:
            return []  # over the limit and already told: stay quiet
        if len(state.recent) > self.chitchat_per_minute:
            return [reply(self.texts.render("too_many"))]
        return [reply(self.texts.render("chitchat"))]
