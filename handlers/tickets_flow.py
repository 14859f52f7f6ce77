"""The citizen's own tickets: status, adding information, withdrawing, rating the answer."""

from __future__ import annotations

import re
from dataclasses import replace

from bot.messages import Button, InboundMessage
from handlers.context import FlowContext, info_after_code, sends_photos, ticket_code, yes_no
from handlers.ports import CitizenRef, Reply, TicketError, TicketSummary
from handlers.state import State, reply
from nlu.vocab import ANSWERED_STATUSES, DA_TRA_LOI, FINAL_STATUSES, fold

_STARS = re.compile(r"\b([1-5])\s*(?:sao|\*|/\s*5|diem)?\b")


class TicketsFlow:
    def __init__(self, ctx: FlowContext) -> None:
        self.c = ctx

    def detail(self, s: TicketSummary) -> Reply:
        t = self.c.texts
        text = t.render(
            "status_detail",
            code=s.code,
            status=t.status_name(s.status),
            unit=s.unit_name,
            updated=self.c.when(s.updated_at),
        )
        if s.last_note:
            text += "\n" + t.render("status_last_note", note=s.last_note)
        return reply(text)

    def status(self, citizen: CitizenRef, state: State, code: str | None) -> list[Reply]:
        t = self.c.texts
        if code:
            found = self.c.tickets.get_mine(citizen, code)
            if found is None:
                return [reply(t.render("status_not_found", code=code))]
            state.about_ticket(found.code)
            return [self.detail(found)]
        mine = self.c.tickets.list_mine(citizen)
        if not mine:
            return [reply(t.render("status_none"))]
        if len(mine) == 1:
            state.about_ticket(mine[0].code)
            return [self.detail(mine[0])]
        lines = [t.render("status_header")] + [
            t.render(
                "status_line",
                code=s.code,
                status=t.status_name(s.status),
                unit=s.unit_name,
                updated=self.c.when(s.updated_at),
            )
            for s in mine
        ]
        state.data["purpose"] = "status"
        state.goto("await_ticket")
        return [reply("\n".join(lines), [Button(s.code, f"ticket:{s.code}") for s in mine[:8]], state)]

    def choose(
        self, citizen: CitizenRef, state: State, purpose: str, code: str | None, msg: InboundMessage | None = None
    ) -> list[Reply]:
        """Start adding information or withdrawing: the ticket named, the only open one, or a choice.

        "Bổ sung cho PA-…: <text>" adds <text> at once (the message ``msg`` carries it), without asking for it."""
        t = self.c.texts
        if code:
            found = self.c.tickets.get_mine(citizen, code)
            if found is None:
                return [reply(t.render("status_not_found", code=code))]
            extra = info_after_code(msg.text) if msg is not None and purpose == "add" else ""
            if msg is not None and extra:
                return self.add_info(citizen, state, found.code, replace(msg, text=extra))
            return self.chosen(citizen, state, purpose, found)
        open_ = [s for s in self.c.tickets.list_mine(citizen) if s.status not in FINAL_STATUSES]
        if not open_:
            return [reply(t.render("no_open_tickets"))]
        if len(open_) == 1:
            return self.chosen(citizen, state, purpose, open_[0])
        state.data["purpose"] = purpose
        state.goto("await_ticket")
        return [reply(t.render("ask_which_ticket"), [Button(s.code, f"ticket:{s.code}") for s in open_[:8]], state)]

    def chosen(self, citizen: CitizenRef, state: State, purpose: str, s: TicketSummary) -> list[Reply]:
        t = self.c.texts
        state.ticket = s.code
        state.about_ticket(s.code)
        if purpose == "status":
            state.reset()
            return [self.detail(s)]
        if purpose == "add":
            if s.status in FINAL_STATUSES:
                state.reset()
                return [reply(t.render("info_closed", code=s.code))]
            state.goto("await_add_info")
            key = "ask_add_info" if sends_photos(citizen) else "ask_add_info_no_photo"
            return [reply(t.render(key, code=s.code), state=state)]
        if s.status in FINAL_STATUSES or s.status == DA_TRA_LOI:
            state.reset()
            return [reply(t.render("withdraw_closed", code=s.code))]
        state.goto("await_withdraw_reason")
        return [reply(t.render("ask_withdraw_reason", code=s.code), [Button(t.render("skip_button"), "skip")], state)]

    def on_ticket(self, citizen: CitizenRef, state: State, msg: InboundMessage) -> list[Reply] | None:
        payload = msg.payload or ""
        code = payload[7:] if payload.startswith("ticket:") else ticket_code(msg.text)
        purpose = str(state.data.get("purpose", "status"))
        if not code:
            state.reset()
            return None  # no ticket chosen: not handled here, a new message for the conversation
        found = self.c.tickets.get_mine(citizen, code)
        if found is None:
            return [reply(self.c.texts.render("status_not_found", code=code))]
        return self.chosen(citizen, state, purpose, found)

    def on_add_info(self, citizen: CitizenRef, state: State, msg: InboundMessage) -> list[Reply]:
        code = state.ticket or ""
        state.reset()
        return self.add_info(citizen, state, code, msg)

    def add_info(
        self, citizen: CitizenRef, state: State, code: str, msg: InboundMessage, handoff: bool = False
    ) -> list[Reply]:
        t = self.c.texts
        try:
            self.c.tickets.add_info(citizen, code, msg.text, list(msg.attachments), msg.location)
        except TicketError as exc:
            if exc.code != "closed":
                return [reply(t.render("status_not_found", code=code))]
            state.about_ticket(code)
            return [reply(t.render("info_closed", code=code))]
        state.about_ticket(code)
        return [reply(t.render("handoff_forwarded" if handoff else "info_added", code=code))]

    def on_withdraw_reason(self, citizen: CitizenRef, state: State, msg: InboundMessage) -> list[Reply]:
        t = self.c.texts
        code = state.ticket or ""
        reason = None if msg.payload == "skip" or yes_no(msg) == "no" else (msg.text or None)
        state.reset()
        state.about_ticket(code)
        try:
            self.c.tickets.withdraw(citizen, code, reason)
        except TicketError:
            return [reply(t.render("withdraw_closed", code=code))]
        return [reply(t.render("withdrawn", code=code))]

    # -- rating --------------------------------------------------------------------------------------------
    def ask_rating(self, state: State, code: str) -> list[Reply]:
        t = self.c.texts
        state.reset()
        state.ticket = code
        state.about_ticket(code)
        state.goto("await_rating")
        buttons = [Button(t.render("star_button", n=n), f"stars:{n}") for n in range(1, 6)]  # typed digit = stars
        return [reply(t.render("ask_rating", code=code), buttons, state)]

    def start_rating(self, citizen: CitizenRef, state: State, msg: InboundMessage) -> list[Reply]:
        answered = [s for s in self.c.tickets.list_mine(citizen) if s.status in ANSWERED_STATUSES]
        if not answered:
            return [reply(self.c.texts.render("nothing_to_rate"))]
        out = self.ask_rating(state, answered[0].code)
        stars = self._stars(msg)
        if stars:
            state.data["stars"] = stars
            return self.on_rating(citizen, state, msg) or out  # with the stars given it always answers
        return out

    @staticmethod
    def _stars(msg: InboundMessage) -> int | None:
        if msg.payload and msg.payload.startswith("stars:"):
            value = msg.payload[6:]  # a crafted payload ("stars:abc", "stars:99") counts as no rating
            return int(value) if value in ("1", "2", "3", "4", "5") else None
        m = _STARS.search(fold(msg.text)) if msg.text else None
        return int(m.group(1)) if m else None

    def on_rating(self, citizen: CitizenRef, state: State, msg: InboundMessage) -> list[Reply] | None:
        t = self.c.texts
        if state.ticket:
            state.about_ticket(state.ticket)
        stars = state.data.get("stars") or self._stars(msg)
        if not stars:
            if msg.kind == "text" and (len(msg.text.split()) > 3 or ticket_code(msg.text)):  # a report, a code...
                state.reset()
                return None  # not handled here; the citizen can still rate by writing "đánh giá"
            return [
                reply(
                    t.render("rating_invalid"),
                    [Button(t.render("star_button", n=n), f"stars:{n}") for n in range(1, 6)],
                    state,
                )
            ]
        state.data["stars"] = int(stars)
        state.goto("await_rating_comment")
        return [reply(t.render("ask_rating_comment"), [Button(t.render("skip_button"), "skip")], state)]

    def on_rating_comment(self, citizen: CitizenRef, state: State, msg: InboundMessage) -> list[Reply]:
        t = self.c.texts
        code, stars = state.ticket or "", int(state.data.get("stars", 0))
        comment = None if msg.payload == "skip" or yes_no(msg) == "no" else (msg.text or None)
        state.reset()
        state.about_ticket(code)
        try:
            self.c.tickets.rate(citizen, code, stars, comment)
        except TicketError:
            return [reply(t.render("nothing_to_rate"))]
        return [reply(t.render("rated_low" if stars <= 2 else "rated", stars=stars, code=code))]
