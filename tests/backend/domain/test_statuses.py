from __future__ import annotations

import itertools

import pytest

from backend.domain import statuses as st


@pytest.mark.parametrize(("old", "new"), [(o, n) for o, targets in st.TRANSITIONS.items() for n in targets])
def test_every_legal_transition_passes(old: str, new: str) -> None:
    st.check_transition(old, new, "lý do" if new in st.NOTE_REQUIRED else None)


ILLEGAL = [(o, n) for o, n in itertools.product(st.ALL_STATUSES, st.ALL_STATUSES) if n not in st.TRANSITIONS[o]]


@pytest.mark.parametrize(("old", "new"), ILLEGAL)
def test_every_illegal_transition_is_refused(old: str, new: str) -> None:
    with pytest.raises(st.TransitionError):
        st.check_transition(old, new, "lý do")


@pytest.mark.parametrize("new", sorted(st.NOTE_REQUIRED))
def test_reason_required(new: str) -> None:
    old = next(o for o, targets in st.TRANSITIONS.items() if new in targets)
    with pytest.raises(st.TransitionError, match="needs a note"):
        st.check_transition(old, new, "  ")


def test_unknown_status() -> None:
    with pytest.raises(st.TransitionError, match="unknown status"):
        st.check_transition(st.MOI, "xong", None)


def test_final_statuses_have_no_way_out_except_supervisor_reopen() -> None:
    assert st.TRANSITIONS[st.TU_CHOI] == frozenset()
    assert st.TRANSITIONS[st.DA_DONG] == frozenset({st.DANG_XU_LY})
