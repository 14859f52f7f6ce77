"""Who may change a ticket's status to what: officials, the citizen (withdrawal) and gopy itself, one table each."""

from __future__ import annotations

import pytest

from backend.domain import statuses as st

WITHDRAWABLE = sorted(st.OPEN_STATUSES)
NOT_WITHDRAWABLE = sorted(set(st.ALL_STATUSES) - st.OPEN_STATUSES)


@pytest.mark.parametrize("old", WITHDRAWABLE)
def test_the_citizen_may_withdraw_a_ticket_still_being_handled(old: str) -> None:
    st.check_transition(old, st.TU_CHOI, "Người dân rút phản ánh", actor=st.CITIZEN)


@pytest.mark.parametrize("old", NOT_WITHDRAWABLE)
def test_the_citizen_may_not_withdraw_an_answered_closed_or_rejected_ticket(old: str) -> None:
    with pytest.raises(st.TransitionError):
        st.check_transition(old, st.TU_CHOI, "Người dân rút phản ánh", actor=st.CITIZEN)


@pytest.mark.parametrize("new", [s for s in st.ALL_STATUSES if s != st.TU_CHOI])
def test_withdrawing_is_all_a_citizen_may_do(new: str) -> None:
    for old in st.ALL_STATUSES:
        with pytest.raises(st.TransitionError, match=r"as citizen|already"):
            st.check_transition(old, new, "lý do", actor=st.CITIZEN)


def test_a_withdrawal_needs_its_note() -> None:
    with pytest.raises(st.TransitionError, match="needs a note"):
        st.check_transition(st.MOI, st.TU_CHOI, " ", actor=st.CITIZEN)


@pytest.mark.parametrize(
    ("old", "why"),
    [
        (st.CAN_BO_SUNG, "the information asked for arrived"),
        (st.DA_TRA_LOI, "a low rating reopens an answered ticket"),
        (st.DA_DONG, "a low rating reopens a closed ticket"),
    ],
)
def test_gopy_puts_a_ticket_back_in_progress(old: str, why: str) -> None:
    st.check_transition(old, st.DANG_XU_LY, None, actor=st.SYSTEM)


def test_gopy_accepts_a_new_ticket_on_its_first_answer_and_does_nothing_else() -> None:
    st.check_transition(st.MOI, st.DA_TIEP_NHAN, None, actor=st.SYSTEM)
    allowed = {(o, n) for o, targets in st.SYSTEM_TRANSITIONS.items() for n in targets}
    assert allowed == {
        (st.MOI, st.DA_TIEP_NHAN),
        (st.CAN_BO_SUNG, st.DANG_XU_LY),
        (st.DA_TRA_LOI, st.DANG_XU_LY),
        (st.DA_DONG, st.DANG_XU_LY),
    }
    for old in (st.TU_CHOI, st.DANG_XU_LY, st.DA_CHUYEN):
        with pytest.raises(st.TransitionError):
            st.check_transition(old, st.DA_DONG, None, actor=st.SYSTEM)


def test_officials_keep_their_table_and_strangers_have_none() -> None:
    assert st.BY_ACTOR[st.OFFICIAL] is st.TRANSITIONS
    st.check_transition(st.MOI, st.DA_TIEP_NHAN, None)  # the official is the default actor
    with pytest.raises(st.TransitionError, match="unknown actor"):
        st.check_transition(st.MOI, st.DA_TIEP_NHAN, None, actor="robot")
