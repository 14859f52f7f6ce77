from __future__ import annotations

import re

import pytest

from backend.domain.codes import CROCKFORD, canonical_ticket_code, new_ticket_code


def test_new_codes_have_the_spec_shape_and_are_not_repeated() -> None:
    codes = {new_ticket_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in codes:
        assert re.fullmatch(rf"PA-[{CROCKFORD}]{{4}}-[{CROCKFORD}]{{4}}", code)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("PA-7K3Q-M2XD", "PA-7K3Q-M2XD"),
        ("pa-7k3q-m2xd", "PA-7K3Q-M2XD"),
        ("pa7k3qm2xd", "PA-7K3Q-M2XD"),
        (" PA 7K3Q M2XD ", "PA-7K3Q-M2XD"),
        ("PA-7K3Q-M2XO", "PA-7K3Q-M2X0"),  # O typed for zero
        ("PA-IK3Q-M2XD", "PA-1K3Q-M2XD"),  # I typed for one
        ("PA-LK3Q-M2XD", "PA-1K3Q-M2XD"),
    ],
)
def test_codes_typed_by_people_are_canonicalised(typed: str, expected: str) -> None:
    assert canonical_ticket_code(typed) == expected


@pytest.mark.parametrize("typed", ["", "PA-7K3Q", "PB-7K3Q-M2XD", "PA-7K3Q-M2XD-1", "hello", "PA-7K3Q-M2X!"])
def test_garbage_is_not_a_code(typed: str) -> None:
    assert canonical_ticket_code(typed) is None
