"""Ticket statuses (SPEC §6) and the transitions allowed between them, in one place."""

from __future__ import annotations

from typing import Final

MOI: Final = "moi"
DA_TIEP_NHAN: Final = "da_tiep_nhan"
DANG_XU_LY: Final = "dang_xu_ly"
DA_CHUYEN: Final = "da_chuyen"
DA_TRA_LOI: Final = "da_tra_loi"
DA_DONG: Final = "da_dong"
CAN_BO_SUNG: Final = "can_bo_sung"
TU_CHOI: Final = "tu_choi"

ALL_STATUSES: Final = (MOI, DA_TIEP_NHAN, DANG_XU_LY, DA_CHUYEN, DA_TRA_LOI, DA_DONG, CAN_BO_SUNG, TU_CHOI)
OPEN_STATUSES: Final = frozenset({MOI, DA_TIEP_NHAN, DANG_XU_LY, DA_CHUYEN, CAN_BO_SUNG})
FINAL_STATUSES: Final = frozenset({DA_DONG, TU_CHOI})

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


class TransitionError(ValueError):
    """An illegal status change; the message says which and why."""


def check_transition(old: str, new: str, note: str | None) -> None:
    if new not in TRANSITIONS:
        raise TransitionError(f"unknown status '{new}'; expected one of {', '.join(ALL_STATUSES)}")
    if new == old:
        raise TransitionError(f"ticket is already '{old}'")
    if new not in TRANSITIONS[old]:
        allowed = ", ".join(sorted(TRANSITIONS[old])) or "none (final status)"
        raise TransitionError(f"cannot change status from '{old}' to '{new}'; allowed: {allowed}")
    if new in NOTE_REQUIRED and not (note and note.strip()):
        raise TransitionError(f"status '{new}' needs a note (reason or authority)")
