"""Submitting feedback: build a draft from free text, ask only what is missing, confirm, file."""

from __future__ import annotations

import math
import re
from datetime import datetime

from bot.messages import Button, InboundMessage
from handlers.context import FlowContext, province_of, shares_location, yes_no
from handlers.draft import Draft
from handlers.ports import CitizenRef, Reply, TicketError
from handlers.state import State, reply
from nlu.vocab import CATEGORIES, FEEDBACK_INTENT, MAX_TEXT, OTHER_CATEGORY, fold

CATEGORY_THRESHOLD = 0.45
# Two categories this close (top-1 minus top-2 confidence): ask the citizen to choose rather than guess. Calibrated
# on data/nlu/test/heldout.yml with the low-confidence rule above: asked on 8.3% of its petitions, 43% of them wrong
# guesses (5.6 times the 7.7% error rate of all guesses); a wider margin asks more often, catching no more errors.
CLOSE_MARGIN = 0.2
DEFAULT_CHOICES = ("ha_tang", "moi_truong", "dat_dai")
REPEAT_SEND_SECONDS = 600  # a second "send" this soon after filing gets the same code back
MOVED_ON_CONFIDENCE = 0.7  # another intent this sure, while a question waits: the citizen moved on
LOCATION_TEXT_MAX = 300  # the ticket's place as written (tickets.location_text)
_PHONE = re.compile(r"(?:\+?84|0)\d{9,10}")


class FeedbackFlow:
    """The questions, in order; each is asked at most once."""

    def __init__(self, ctx: FlowContext) -> None:
        self.c = ctx

    def too_long(self, cut: bool = False) -> Reply:
        """Tell the citizen the ticket text reached its limit: the new words were not added (or were cut)."""
        limit = f"{MAX_TEXT:,}".replace(",", ".")
        return reply(self.c.texts.render("draft_truncated" if cut else "draft_too_long", limit=limit))

    def advance(self, citizen: CitizenRef, state: State, now: datetime) -> list[Reply]:
        draft = state.draft
        assert draft is not None
        state.about_draft()
        t = self.c.texts
        asked = draft.asked
        if draft.urgent:
            return self.file(citizen, state, now)
        if len(draft.candidates) > 1 and "commune" not in asked:
            asked.append("commune")
            units = self.c.tickets.unit_candidates(draft.candidates[:8])
            buttons = [Button(name, f"commune:{code}") for code, name in units]
            buttons.append(Button(t.render("location_skip_button"), "location:skip"))
            state.goto("await_commune")
            return [reply(t.render("ask_commune_choice"), buttons, state)]
        if not draft.province_code and not draft.geo and "location" not in asked:
            asked.append("location")
            return [self.ask_location(citizen, state)]
        close = draft.category_margin < CLOSE_MARGIN and len([c for c in draft.ranking if c != OTHER_CATEGORY]) >= 2
        if (draft.category_confidence < CATEGORY_THRESHOLD or close) and "category" not in asked:
            asked.append("category")
            ranking = [c for c in draft.ranking if c != OTHER_CATEGORY][: 2 if close else 3]
            buttons = [Button(t.category_name(c), f"category:{c}") for c in ranking or DEFAULT_CHOICES]
            other = t.render("category_other_short" if close else "category_other_button")
            buttons.append(Button(other, f"category:{OTHER_CATEGORY}"))
            state.goto("await_category")
            return [reply(t.render("ask_category_close" if close else "ask_category"), buttons, state)]
        return [self.summary(citizen, state)]

    def summary(self, citizen: CitizenRef, state: State) -> Reply:
        draft = state.draft
        assert draft is not None
        t = self.c.texts
        location = self._location_name(draft) or t.render("summary_location_unknown")
        anonymous = self.c.tickets.get_consent(citizen) == "anonymous"
        contact = (
            t.render("summary_contact_anonymous") if anonymous else draft.phone or t.render("summary_contact_none")
        )
        state.goto("await_confirm")
        state.about_draft()
        text = t.render(
            "summary",
            text=draft.text,
            category=t.category_name(draft.category),
            location=location,
            contact=contact,
        )
        return reply(text, self._confirm_buttons(), state)

    def _confirm_buttons(self) -> list[Button]:
        t = self.c.texts
        return [
            Button(t.render("confirm_button_send"), "confirm:send"),
            Button(t.render("confirm_button_edit"), "confirm:edit"),
            Button(t.render("confirm_button_place"), "confirm:place"),
            Button(t.render("confirm_button_cancel"), "confirm:cancel"),
        ]

    def _location_name(self, draft: Draft) -> str | None:
        codes = [c for c in (draft.commune_code, draft.province_code) if c]
        if codes:
            names = dict(self.c.tickets.unit_candidates(codes))
            name = names.get(codes[0])
            if name:
                return name
        if draft.geo:
            geo = draft.geo
            return f"{self.c.texts.render('attachment_location')} {geo.latitude:.5f}, {geo.longitude:.5f}"
        return draft.location_text  # as the citizen wrote it, when no unit is known

    def file(self, citizen: CitizenRef, state: State, now: datetime) -> list[Reply]:
        draft = state.draft
        assert draft is not None
        t = self.c.texts
        consent = self.c.tickets.get_consent(citizen)
        out: list[Reply] = []
        if consent is None and draft.urgent:
            out.append(reply(t.render("urgent_consent_note")))
        state.about_draft()
        try:
            summary = self.c.tickets.file(citizen, draft.to_ticket_draft(consent == "anonymous"))
        except TicketError as exc:
            if exc.code != "rate_limited":
                raise
            minutes = max(1, math.ceil((exc.retry_after or 60) / 60))
            state.goto("await_confirm")  # the draft is kept: "send" again once the wait is over
            out.append(reply(t.render("ticket_rate_limited", minutes=minutes), self._confirm_buttons(), state))
            return out
        state.reset()
        state.about_ticket(summary.code)
        state.data["filed"] = {"draft": state.turn_draft, "code": summary.code, "at": now.isoformat()}
        if summary.repeated:
            out.append(reply(t.render("already_filed", code=summary.code)))
        elif draft.urgent:
            out.append(reply(t.render("filed_urgent", code=summary.code, unit=summary.unit_name)))
        else:
            deadline = summary.deadline.astimezone(self.c.tz).strftime("%d/%m/%Y") if summary.deadline else "—"
            out.append(reply(t.render("filed", code=summary.code, unit=summary.unit_name, deadline=deadline)))
        return out

    # -- answers to the questions -------------------------------------------------------------------------
    def on_location(self, citizen: CitizenRef, state: State, msg: InboundMessage, now: datetime) -> list[Reply] | None:
        """The answer to "where did it happen?" is the place (never added to the report's text)."""
        draft = state.draft
        assert draft is not None
        t = self.c.texts
        if msg.payload == "location:skip":
            return self.advance(citizen, state, now)
        if msg.location is not None:
            draft.add_attachments(msg)
            return self.advance(citizen, state, now)
        if msg.payload == "location:share":  # the channel could not read the device's position: ask in words
            return [reply(t.render("ask_location_again"), self._location_buttons(citizen), state)]
        parsed = self.c.parser.parse(msg.text)
        if draft.apply_location(parsed.location):
            draft.location_text = msg.text.strip()[:LOCATION_TEXT_MAX]
            return self.advance(citizen, state, now)
        if parsed.intent.name != FEEDBACK_INTENT and parsed.intent.confidence >= MOVED_ON_CONFIDENCE:
            state.goto("idle")  # the citizen moved on (status, help, ...); the draft is kept
            return None  # not handled here: a new message for the conversation
        if "location_again" not in draft.asked:
            draft.asked.append("location_again")
            state.about_draft()
            return [reply(t.render("ask_location_again"), self._location_buttons(citizen), state)]
        if msg.text.strip():  # a place the gazetteer does not know: kept as written, for the officials to place
            draft.province_code = draft.commune_code = None
            draft.candidates = []
            draft.location_text = msg.text.strip()[:LOCATION_TEXT_MAX]
        return self.advance(citizen, state, now)

    def ask_location(self, citizen: CitizenRef, state: State, key: str = "ask_location") -> Reply:
        state.goto("await_location")
        return reply(self.c.texts.render(key), self._location_buttons(citizen), state)

    def _location_buttons(self, citizen: CitizenRef) -> list[Button]:
        """A "share my position" button where the channel has one (the web chat), then "place unknown"."""
        t = self.c.texts
        share = [Button(t.render("location_share_button"), "location:share")] if shares_location(citizen) else []
        return [*share, Button(t.render("location_skip_button"), "location:skip")]

    def on_commune(self, citizen: CitizenRef, state: State, msg: InboundMessage, now: datetime) -> list[Reply]:
        draft = state.draft
        assert draft is not None
        payload = msg.payload or ""
        if payload.startswith("commune:") and payload[8:] in draft.candidates:
            draft.commune_code = payload[8:]
            province = dict(self.c.tickets.unit_candidates([payload[8:]]))
            draft.candidates = []
            if not draft.province_code and province:
                draft.province_code = province_of(payload[8:])
        elif payload == "location:skip" or msg.kind == "text":
            draft.candidates = []
        return self.advance(citizen, state, now)

    def on_category(self, citizen: CitizenRef, state: State, msg: InboundMessage, now: datetime) -> list[Reply]:
        draft = state.draft
        assert draft is not None
        payload = msg.payload or ""
        if payload.startswith("category:") and payload[9:] in CATEGORIES:
            draft.category, draft.category_confidence = payload[9:], 1.0
            draft.category_by_citizen = True
        return self.advance(citizen, state, now)

    def on_confirm(self, citizen: CitizenRef, state: State, msg: InboundMessage, now: datetime) -> list[Reply]:
        draft = state.draft
        assert draft is not None
        t = self.c.texts
        payload = msg.payload or ""
        word = yes_no(msg)
        if payload == "confirm:send" or word == "yes":
            return self.file(citizen, state, now)
        if payload == "confirm:cancel" or word == "no":
            state.reset()
            return [reply(t.render("cancelled"))]
        if payload == "confirm:place":  # fix the place only: the answer replaces it, the text stays
            draft.asked = [a for a in draft.asked if a not in ("commune", "location_again", "location")] + ["location"]
            draft.province_code = draft.commune_code = draft.location_text = draft.geo = None
            draft.candidates = []
            state.about_draft()
            return [self.ask_location(citizen, state, "ask_place_edit")]
        if payload == "confirm:edit":
            state.goto("await_edit")
            state.about_draft()
            return [reply(t.render("ask_edit"), state=state)]
        phone = _PHONE.search(fold(msg.text).replace(" ", "")) if msg.text else None
        out: list[Reply] = []
        if phone:
            draft.phone = phone.group(0)
        elif msg.text:
            if draft.append_text(msg.text):
                draft.apply_parse(self.c.parser.parse(draft.text))
            else:
                out.append(self.too_long())
        draft.add_attachments(msg)
        return [*out, self.summary(citizen, state)]

    def on_edit(self, citizen: CitizenRef, state: State, msg: InboundMessage, now: datetime) -> list[Reply]:
        old = state.draft or Draft()
        draft = Draft.begin(msg.text, self.c.parser.parse(msg.text))
        draft.attachments, draft.geo = old.attachments, old.geo
        draft.id = old.id  # the same report, rewritten: its messages stay linked
        if not draft.province_code and old.province_code:
            draft.province_code, draft.commune_code = old.province_code, old.commune_code
            draft.location_text = old.location_text
        state.draft = draft
        cut = [self.too_long(cut=True)] if len(msg.text) > MAX_TEXT else []
        return [*cut, *self.advance(citizen, state, now)]
