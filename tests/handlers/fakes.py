"""Fakes that subclass the real ports, so whole conversations run in memory in milliseconds."""

from __future__ import annotations

import copy
import dataclasses
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.messages import Attachment, GeoPoint
from handlers.ports import CitizenRef, Parser, StateStore, TicketDraft, TicketError, TicketService, TicketSummary
from nlu.gazetteer import load_gazetteer
from nlu.location import LocationExtractor
from nlu.result import Candidate, Label, Location, ParseResult
from nlu.vocab import (
    CAN_BO_SUNG,
    DANG_XU_LY,
    FEEDBACK_INTENT,
    MOI,
    NGOAI_PHAM_VI,
    OPEN_STATUSES,
    TU_CHOI,
    URGENT_CATEGORY,
    fold_chars,
)


class MemoryStates(StateStore):
    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}

    def load(self, key: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.data.get(key))

    def save(self, key: str, state: dict[str, Any], ttl_seconds: int) -> None:
        assert ttl_seconds > 0
        self.data[key] = copy.deepcopy(state)

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


class KeywordParser(Parser):
    """Intent and category from keywords (deterministic); locations from the real gazetteer extractor."""

    INTENTS = (
        ("tra_cuu_trang_thai", ("den dau roi", "sao roi", "tinh trang", "tra cuu")),
        ("bo_sung_thong_tin", ("bo sung",)),
        ("huy", ("rut don", "huy phan anh")),
        ("danh_gia", ("danh gia",)),
        ("chao_hoi", ("xin chao", "chao ban", "alo")),
        ("cam_on", ("cam on",)),
        ("tro_giup", ("lam the nao", "huong dan")),
    )
    CATEGORIES = (
        ("thien_tai_khan_cap", ("lu", "sat lo", "chay nha", "cuu")),
        ("ha_tang", ("duong", "cong", "den duong", "mat dien")),
        ("moi_truong", ("rac", "khoi", "o nhiem", "boc mui")),
        ("dat_dai", ("dat", "so do")),
        ("an_ninh_trat_tu", ("trom", "danh nhau")),
    )

    def __init__(self) -> None:
        self.locations = LocationExtractor(load_gazetteer())
        self.calls: list[str] = []

    def parse(self, text: str) -> ParseResult:
        self.calls.append(text)
        words = f" {fold_chars(text)} "
        intent, confidence = NGOAI_PHAM_VI, 0.6
        for name, keys in self.INTENTS:
            if any(f" {k} " in words for k in keys):
                intent, confidence = name, 0.95
                break
        category = None
        for name, keys in self.CATEGORIES:
            if any(f" {k} " in words for k in keys):
                category = Label(name, 0.4 if "hinh nhu" in words else 0.9)
                if intent == NGOAI_PHAM_VI:
                    intent, confidence = FEEDBACK_INTENT, 0.9
                break
        if intent == NGOAI_PHAM_VI and len(words.split()) > 6:
            intent, confidence, category = FEEDBACK_INTENT, 0.8, Label("khac", 0.3)
        match = self.locations.extract(text)
        location = None
        if match is not None:
            location = Location(
                province_code=match.province.code if match.province else None,
                commune_code=match.commune.code if match.commune else None,
                text=match.matched_text,
                candidates=tuple(Candidate(c.code) for c in match.candidates),
            )
        return ParseResult(
            text=text,
            intent=Label(intent, confidence),
            category=category if intent == FEEDBACK_INTENT else None,
            category_ranking=(category,) if category else (),
            location=location,
            urgent=bool(category and category.name == URGENT_CATEGORY),
        )


class FakeTickets(TicketService):
    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.tickets: dict[str, dict[str, Any]] = {}
        self.consent: dict[int, str | None] = {}
        self.filed: list[TicketDraft] = []
        self.handoff: dict[int, str] = {}
        self.by_draft: dict[str, str] = {}  # draft id -> code: filing is idempotent on the draft
        self.wait_seconds: float | None = None  # set to refuse new tickets as over the hourly limit
        self._n = itertools.count(1)
        self.gazetteer = load_gazetteer()

    def _summary(self, code: str) -> TicketSummary:
        t = self.tickets[code]
        return TicketSummary(
            code,
            t["status"],
            t["draft"].category,
            t["unit"],
            t["created"],
            t["updated"],
            t.get("note"),
            t["created"] + timedelta(days=15),
        )

    def file(self, citizen: CitizenRef, draft: TicketDraft) -> TicketSummary:
        if draft.draft_id in self.by_draft:
            return dataclasses.replace(self._summary(self.by_draft[draft.draft_id]), repeated=True)
        if self.wait_seconds is not None:
            raise TicketError("rate_limited", retry_after=self.wait_seconds)
        code = f"PA-TEST-{next(self._n):04d}"
        if draft.draft_id:
            self.by_draft[draft.draft_id] = code
        unit_code = draft.commune_code or draft.province_code
        known = self.gazetteer.get(unit_code) if unit_code else None
        unit = known.name if known else "Ủy ban Trung ương MTTQ Việt Nam"
        now = self.clock()
        self.tickets[code] = {
            "owner": citizen.id,
            "status": MOI,
            "draft": draft,
            "unit": unit,
            "created": now,
            "updated": now,
            "info": [],
            "rating": None,
        }
        self.filed.append(draft)
        return self._summary(code)

    def list_mine(self, citizen: CitizenRef, limit: int = 10) -> list[TicketSummary]:
        return [self._summary(c) for c, t in self.tickets.items() if t["owner"] == citizen.id][:limit]

    def get_mine(self, citizen: CitizenRef, code: str) -> TicketSummary | None:
        t = self.tickets.get(code.upper())
        return self._summary(code.upper()) if t and t["owner"] == citizen.id else None

    def add_info(
        self,
        citizen: CitizenRef,
        code: str,
        text: str,
        attachments: list[Attachment] | None = None,
        geo: GeoPoint | None = None,
    ) -> TicketSummary:
        if self.get_mine(citizen, code) is None:
            raise TicketError("not_found")
        if self.tickets[code]["status"] not in OPEN_STATUSES:
            raise TicketError("closed")
        self.tickets[code]["info"].append(text)
        if self.tickets[code]["status"] == CAN_BO_SUNG:  # as the real service: the information came, back to work
            self.tickets[code]["status"] = DANG_XU_LY
        return self._summary(code)

    def withdraw(self, citizen: CitizenRef, code: str, reason: str | None) -> TicketSummary:
        if self.get_mine(citizen, code) is None:
            raise TicketError("not_found")
        if self.tickets[code]["status"] not in OPEN_STATUSES:
            raise TicketError("closed")
        self.tickets[code].update(status=TU_CHOI, withdraw_reason=reason)
        return self._summary(code)

    def rate(self, citizen: CitizenRef, code: str, stars: int, comment: str | None) -> TicketSummary:
        if self.get_mine(citizen, code) is None:
            raise TicketError("not_found")
        self.tickets[code]["rating"] = (stars, comment)
        return self._summary(code)

    def handoff_ticket(self, citizen: CitizenRef) -> str | None:
        return self.handoff.get(citizen.id)

    def awaiting_info(self, citizen: CitizenRef) -> str | None:
        return next(
            (c for c, t in reversed(self.tickets.items()) if t["owner"] == citizen.id and t["status"] == CAN_BO_SUNG),
            None,
        )

    def unit_candidates(self, commune_codes: list[str]) -> list[tuple[str, str]]:
        return [(c, u.name) for c in commune_codes if (u := self.gazetteer.get(c)) is not None]

    def get_consent(self, citizen: CitizenRef) -> str | None:
        return self.consent.get(citizen.id)

    def set_consent(self, citizen: CitizenRef, value: str | None) -> None:
        self.consent[citizen.id] = value


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


class CloseCallParser(KeywordParser):
    """As :class:`KeywordParser`, but a message that names two fields ("rác" and "đường") is a close call: both in the
    ranking, a small margin between them, as the real classifier returns for such messages."""

    def parse(self, text: str) -> ParseResult:
        parsed = super().parse(text)
        words = f" {fold_chars(text).lower()} "
        matched = [name for name, keys in self.CATEGORIES if any(f" {k} " in words for k in keys)]
        if parsed.intent.name != FEEDBACK_INTENT or len(matched) < 2:
            return parsed
        first, second = Label(matched[0], 0.52), Label(matched[1], 0.41)
        return dataclasses.replace(parsed, category=first, category_ranking=(first, second))
