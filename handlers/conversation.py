"""The conversation: one inbound message in, replies out. Channel-agnostic; state per citizen with a TTL.

Each step first asks "does this apply?" (global commands, the state's own handler, then the intent) and only
then handles it. Every state change goes through :meth:`Conversation.goto`, checked against ``TRANSITIONS``,
which ``handlers/conversation.md`` draws as a Mermaid diagram (a test keeps the two equal).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.messages import Button, InboundMessage
from handlers.feedback import REPEAT_SEND_SECONDS, FeedbackFlow, add_attachments, append_text, apply_parse, new_draft
from handlers.ports import MAX_TEXT, CitizenRef, Parser, Reply, StateStore, TicketService, Turn
from handlers.state import DRAFT_MAX_AGE_SECONDS, State, age_seconds, fold, load, reply, save
from handlers.texts import Texts
from handlers.tickets_flow import TicketsFlow

QUESTION_STATES = (
    "await_consent",
    "await_location",
    "await_commune",
    "await_category",
    "await_confirm",
    "await_edit",
    "await_ticket",
    "await_add_info",
    "await_withdraw_reason",
    "await_rating",
    "await_rating_comment",
)
TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    {
        ("idle", s)
        for s in (
            "await_consent",
            "await_location",
            "await_commune",
            "await_category",
            "await_confirm",
            "await_ticket",
            "await_add_info",
            "await_withdraw_reason",
            "await_rating",
        )
    }
    | {("await_consent", s) for s in ("await_location", "await_commune", "await_category", "await_confirm")}
    | {
        (a, b)
        for a in ("await_location", "await_commune", "await_category", "await_edit")
        for b in ("await_location", "await_commune", "await_category", "await_confirm")
    }
    | {
        ("await_confirm", "await_edit"),
        ("await_ticket", "await_add_info"),
        ("await_ticket", "await_withdraw_reason"),
        ("await_rating", "await_rating_comment"),
    }
    | {(s, "idle") for s in QUESTION_STATES}
    | {(s, "await_rating") for s in QUESTION_STATES}  # a ticket got answered meanwhile
)

CANCEL = {"huy", "thoi", "/cancel", "huy bo", "thoi khoi", "dung lai", "cancel", "huy di", "thoi khong gui nua"}
YES = {
    "dong y",
    "co",
    "ok",
    "u",
    "uh",
    "um",
    "vang",
    "da",
    "dung",
    "dung roi",
    "gui",
    "gui di",
    "xac nhan",
    "yes",
    "dc",
    "duoc",
    "chuan",
    "oke",
    "co a",
    "vang a",
    "da dong y",
    "dong y a",
    "ok gui di",
}
NO = {"khong", "ko", "k", "khong dong y", "chua", "sai", "sai roi", "no", "khong a", "khong can", "thoi khoi"}
FEEDBACK = "gui_phan_anh"


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
        self.feedback = FeedbackFlow(self)
        self.flows = TicketsFlow(self)

    # -- helpers used by the flows ------------------------------------------------------------------------
    @staticmethod
    def goto(state: State, new: str) -> None:
        if new != state.name and (state.name, new) not in TRANSITIONS:
            raise AssertionError(f"undeclared transition {state.name} -> {new}")
        state.name = new

    @staticmethod
    def yes_no(msg: InboundMessage) -> str | None:
        word = fold(msg.text).rstrip(" .!")
        return "yes" if word in YES else "no" if word in NO else None

    @staticmethod
    def ticket_code(text: str) -> str | None:
        from nlu.entities import extract

        codes = [e["value"] for e in extract(text) if e["entity"] == "ticket_code"]
        return codes[0] if codes else None

    def province_of(self, commune_code: str) -> str | None:
        from nlu.gazetteer import load_gazetteer

        unit = load_gazetteer().get(commune_code)
        return unit.parent_code if unit else None

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
        if state.name != "idle" and state.draft is not None:
            return []  # do not interrupt a report being written; rating stays available via "đánh giá"
        out = self.flows.ask_rating(state, code)
        save(self.states, citizen, state)
        return out

    # -- dispatch -------------------------------------------------------------------------------------------
    @staticmethod
    def _digits_to_payload(state: State, msg: InboundMessage) -> InboundMessage:
        text = msg.text.strip()
        # isdecimal, not isdigit: "²" and "①" are digits that int() refuses
        if msg.kind == "text" and text.isdecimal() and state.offered and 1 <= int(text) <= len(state.offered):
            from dataclasses import replace

            return replace(msg, kind="button", payload=state.offered[int(text) - 1])
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
            return [reply(t.render("help"))]
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
        handler = {
            "await_consent": self._on_consent,
            "await_location": self.feedback.on_location,
            "await_commune": self.feedback.on_commune,
            "await_category": self.feedback.on_category,
            "await_confirm": self.feedback.on_confirm,
            "await_edit": self.feedback.on_edit,
        }.get(state.name)
        if handler is not None:
            return handler(citizen, state, msg, now)
        simple = {
            "await_ticket": self.flows.on_ticket,
            "await_add_info": self.flows.on_add_info,
            "await_withdraw_reason": self.flows.on_withdraw_reason,
            "await_rating": self.flows.on_rating,
            "await_rating_comment": self.flows.on_rating_comment,
        }.get(state.name)
        if simple is not None:
            return simple(citizen, state, msg)
        return self.handle_idle(citizen, state, msg, now)

    def _sent_again(self, state: State, msg: InboundMessage, now: datetime) -> bool:
        """A second "send" (pressed or typed) right after a report was filed: the same report, not a new one."""
        filed = state.data.get("filed")
        if not isinstance(filed, dict) or age_seconds(filed.get("at"), now) > REPEAT_SEND_SECONDS:
            return False
        return msg.payload == "confirm:send" or (msg.kind == "text" and self.yes_no(msg) == "yes")

    def greet(self, citizen: CitizenRef, state: State) -> list[Reply]:
        t = self.texts
        if self.tickets.get_consent(citizen) is None:
            self.goto(state, "await_consent")
            return [reply(t.render("greeting")), self._consent_question(state)]
        return [reply(t.render("greeting")), reply(t.render("what_next"))]

    def _consent_question(self, state: State) -> Reply:
        t = self.texts
        buttons = [
            Button(t.render("consent_button_yes"), "consent:named"),
            Button(t.render("consent_button_anonymous"), "consent:anonymous"),
            Button(t.render("consent_button_no"), "consent:no"),
        ]
        return reply(t.render("privacy_notice") + "\n" + t.render("consent_question"), buttons, state)

    def _on_consent(self, citizen: CitizenRef, state: State, msg: InboundMessage, now: datetime) -> list[Reply]:
        t = self.texts
        word = fold(msg.text)
        choice = (msg.payload or "").removeprefix("consent:") if msg.payload else None
        if choice is None:
            choice = "anonymous" if "an danh" in word else {"yes": "named", "no": "no"}.get(self.yes_no(msg) or "")
        if choice in ("named", "anonymous"):
            self.tickets.set_consent(citizen, choice)
            first = reply(t.render("consent_thanks" if choice == "named" else "consent_thanks_anonymous"))
            if state.draft is not None:
                return [first, *self.feedback.advance(citizen, state, now)]
            self.goto(state, "idle")
            return [first, reply(t.render("ask_feedback"))]
        if choice == "no":
            state.reset()
            return [reply(t.render("consent_declined"))]
        if msg.kind == "text" and msg.text:  # something else: maybe the complaint itself
            parsed = self.parser.parse(msg.text)
            if parsed["intent"]["name"] == FEEDBACK:
                state.draft = new_draft(msg.text, parsed)
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
            state.draft = new_draft(msg.text or "", {"intent": {"confidence": 0.0}, "entities": []})
            state.draft_started = now.isoformat()
            state.about_draft()
            add_attachments(state.draft, msg)
            what = {"image": "attachment_image", "file": "attachment_file"}.get(msg.kind, "attachment_location")
            if msg.text:
                return self._feedback(citizen, state, now)
            return [reply(t.render("attachment_received", what=t.render(what)))]
        if msg.kind == "button" and not msg.text:
            return [reply(t.render("what_next"))]
        code = self.ticket_code(msg.text)
        parsed = self.parser.parse(msg.text)
        intent = parsed["intent"]["name"]
        handoff = self.tickets.handoff_ticket(citizen)
        if handoff and intent not in ("tra_cuu_trang_thai", "tro_giup", "huy", "danh_gia") and not code:
            return self.flows.add_info(citizen, state, handoff, msg, handoff=True)
        only_code = bool(code) and len(fold(msg.text).split()) <= 4  # "PA-7K3Q-M2XD", "ma PA-... sao roi"
        if intent == "tra_cuu_trang_thai" or (
            code and (only_code or intent not in ("bo_sung_thong_tin", "huy", FEEDBACK))
        ):
            return self.flows.status(citizen, state, code)
        if intent == "bo_sung_thong_tin":
            return self.flows.choose(citizen, state, "add", code)
        if intent == "huy" or "rut don" in fold(msg.text) or "rut phan anh" in fold(msg.text):
            return self.flows.choose(citizen, state, "withdraw", code)
        if intent == "danh_gia":
            return self.flows.start_rating(citizen, state, msg)
        if intent == FEEDBACK or (state.draft is not None and intent not in ("chao_hoi", "cam_on", "tro_giup")):
            notice: list[Reply] = []
            if state.draft is not None and state.draft.get("text"):
                if append_text(state.draft, msg.text):
                    apply_parse(state.draft, parsed)
                else:
                    notice.append(self.feedback.too_long())
            else:
                old = state.draft or {}
                state.draft = new_draft(msg.text, parsed)
                state.draft["attachments"], state.draft["geo"] = old.get("attachments", []), old.get("geo")
                state.draft["id"] = old.get("id") or state.draft["id"]  # the photo sent first belongs to it
                state.draft_started = now.isoformat()
                if len(msg.text) > MAX_TEXT:
                    notice.append(self.feedback.too_long(cut=True))
            return [*notice, *self._feedback(citizen, state, now)]
        if intent == "chao_hoi":
            return self.greet(citizen, state)
        if intent == "tro_giup":
            return [reply(t.render("help"))]
        if intent == "cam_on":
            return [reply(t.render("thanks_reply"))]
        if intent in ("dong_y", "tu_choi"):
            return [reply(t.render("what_next"))]
        return self._chitchat(state)

    def _feedback(self, citizen: CitizenRef, state: State, now: datetime) -> list[Reply]:
        assert state.draft is not None
        state.about_draft()
        consent = self.tickets.get_consent(citizen)
        if consent is None and not state.draft.get("urgent"):
            self.goto(state, "await_consent")
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
