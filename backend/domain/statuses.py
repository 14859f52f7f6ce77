"""Ticket statuses (SPEC §6) and the transitions allowed between them, in one place."""

from __future__ import annotations

from typing import Final

from nlu import vocab

# The names are the shared vocabulary's (nlu/vocab.py); this module owns the rules between them.
MOI: Final = vocab.MOI
DA_TIEP_NHAN: Final = vocab.DA_TIEP_NHAN
DANG_XU_LY: Final = vocab.DANG_XU_LY
DA_CHUYEN: Final = vocab.DA_CHUYEN
DA_TRA_LOI: Final = vocab.DA_TRA_LOI
DA_DONG: Final = vocab.DA_DONG
CAN_BO_SUNG: Final = vocab.CAN_BO_SUNG
TU_CHOI: Final = vocab.TU_CHOI

ALL_STATUSES: Final = vocab.STATUSES
OPEN_STATUSES: Final = vocab.OPEN_STATUSES
FINAL_STATUSES: Final = vocab.FINAL_STATUSES

TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    MOI: frozenset({DA_TIEP_NHAN, DANG_XU_LY, CAN_BO_SUNG, TU_CHOI, DA_TRA_LOI}),
    DA_TIEP_NHAN: frozenset({DANG_XU_LY, DA_CHUYEN, CAN_BO_SUNG, DA_TRA_LOI, TU_CHOI}),
    DANG_XU_LY: frozenset({DA_CHUYEN, CAN_BO_SUNG, DA_TRA_LOI, TU_CHOI}),
    DA_CHUYEN: frozenset({DANG_XU_LY, DA_TRA_LOI, CAN_BO_SUNG}),
    CAN_BO_SUNG: frozenset({DA_TIEP_NHAN, DANG_XU_LY, DA_TRA_LOI, TU_CHOI}),
    DA_TRA_LOI: frozenset({DA_DONG, DANG_XU_LY}),  # reopened after a low rating or new information
    DA_DONG: frozenset({DANG_XU_LY}),  # supervisor reopens after a low rating
    TU_CHOI: frozenset(),
}

NOTE_REQUIRED: Final = frozenset({TU_CHOI, DA_CHUYEN, CAN_BO_SUNG})

# Who changes a status. ``TRANSITIONS`` above is what officials may do from the console or the API; citizens and gopy
# itself have their own, much shorter tables, so every status change in the code goes through ``check_transition``.
OFFICIAL: Final = "official"
CITIZEN: Final = "citizen"
SYSTEM: Final = "system"

# A citizen may withdraw their own ticket from the chat while it is still being handled (not once answered).
CITIZEN_TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    old: frozenset({TU_CHOI}) if old in OPEN_STATUSES else frozenset() for old in ALL_STATUSES
}
# What gopy does on its own: the first reply accepts a new ticket; the information an official asked for puts the
# ticket back in progress; a low rating reopens an answered or closed ticket for the leaders to review.
SYSTEM_TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    old: frozenset(
        {MOI: {DA_TIEP_NHAN}, CAN_BO_SUNG: {DANG_XU_LY}, DA_TRA_LOI: {DANG_XU_LY}, DA_DONG: {DANG_XU_LY}}.get(old, ())
    )
    for old in ALL_STATUSES
}
BY_ACTOR: Final[dict[str, dict[str, frozenset[str]]]] = {
    OFFICIAL: TRANSITIONS,
    CITIZEN: CITIZEN_TRANSITIONS,
    SYSTEM: SYSTEM_TRANSITIONS,
}


class TransitionError(ValueError):
    """An illegal status change; the message says which and why."""


def check_transition(old: str, new: str, note: str | None, *, actor: str = OFFICIAL) -> None:
    """Refuse a status change that ``actor`` (official, citizen or system) may not make, or that lacks its note."""
    table = BY_ACTOR.get(actor)
    if table is None:
        raise TransitionError(f"unknown actor '{actor}'; expected one of {', '.join(BY_ACTOR)}")
    if new not in TRANSITIONS:
        raise TransitionError(f"unknown status '{new}'; expected one of {', '.join(ALL_STATUSES)}")
    if new == old:
        raise TransitionError(f"ticket is already '{old}'")
    allowed_here = table.get(old, frozenset())
    if new not in allowed_here:
        allowed = ", ".join(sorted(allowed_here)) or "none (final status)"
        who = "" if actor == OFFICIAL else f" (as {actor})"
        raise TransitionError(f"cannot change status from '{old}' to '{new}'{who}; allowed: {allowed}")
    if new in NOTE_REQUIRED and not (note and note.strip()):
        raise TransitionError(f"status '{new}' needs a note (reason or authority)")
