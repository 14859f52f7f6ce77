from __future__ import annotations

from pathlib import Path

import pytest

from backend.config import PROJECT_ROOT
from backend.domain.routing import (
    RoutingConfigError,
    RoutingInput,
    directory_router,
    load_public_policy,
    load_rules,
)

UNITS = {
    "TW": ("Ủy ban Trung ương MTTQ Việt Nam", None),
    "01": ("Thành phố Hà Nội", "TW"),
    "00070": ("Phường Hoàn Kiếm", "01"),
    "79": ("Thành phố Hồ Chí Minh", "TW"),
    "26734": ("Phường Sài Gòn", "79"),
}
RULES = load_rules(PROJECT_ROOT / "data" / "routing.yml")
ROUTER = directory_router(RULES, UNITS)

CASES = [
    # category, urgent, province, commune -> unit, rule, alerts
    ("ha_tang", False, "01", "00070", "00070", "cap_xa", ()),
    ("ha_tang", False, "01", None, "01", "cap_tinh", ()),
    ("ha_tang", False, None, None, "TW", "mac_dinh", ()),
    ("moi_truong", False, "79", "26734", "26734", "cap_xa", ()),
    ("chinh_sach_phap_luat", False, "01", "00070", "TW", "chinh_sach_trung_uong", ()),
    ("chinh_sach_phap_luat", False, None, None, "TW", "chinh_sach_trung_uong", ()),
    ("can_bo_tham_nhung", False, "01", "00070", "01", "can_bo_cap_tren", ()),
    ("can_bo_tham_nhung", False, "01", None, "TW", "can_bo_cap_tren", ()),
    ("can_bo_tham_nhung", False, None, None, "TW", "can_bo_cap_tren", ()),
    ("thien_tai_khan_cap", True, "01", "00070", "00070", "khan_cap_xa", ("01",)),
    ("thien_tai_khan_cap", True, "79", None, "79", "khan_cap_tinh", ()),
    ("an_ninh_trat_tu", True, "79", "26734", "26734", "khan_cap_chung", ("79",)),
    ("thien_tai_khan_cap", True, None, None, "TW", "mac_dinh", ()),
    (None, False, None, None, "TW", "mac_dinh", ()),
]


@pytest.mark.parametrize(("category", "urgent", "province", "commune", "unit", "rule", "alerts"), CASES)
def test_default_rules(
    category: str | None,
    urgent: bool,
    province: str | None,
    commune: str | None,
    unit: str,
    rule: str,
    alerts: tuple[str, ...],
) -> None:
    decision = ROUTER.route(RoutingInput(category, urgent, province, commune))
    assert (decision.unit_code, decision.rule, decision.alerts) == (unit, rule, alerts)
    assert decision.reason and "{" not in decision.reason
    assert UNITS[unit][0] in decision.reason


def test_reason_names_the_place() -> None:
    d = ROUTER.route(RoutingInput("ha_tang", False, "01", "00070"))
    assert "Phường Hoàn Kiếm, Thành phố Hà Nội" in d.reason


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("rules: [\n  - name: a\n    route: nowhere\n    reason: x\n", "line 2"),
        ("rules:\n  - name: a\n    route: central\n", "needs a 'reason'"),
        (
            "rules:\n  - name: a\n    route: central\n    reason: r\n    when: {colour: red}\n",
            "'when' accepts",
        ),
        ("rules: []\n", "non-empty 'rules'"),
        ("rules:\n  - name: a\n   route: central\n", "invalid YAML"),
        (
            "rules:\n  - name: a\n    route: central\n    reason: r\n    when: {precision: street}\n",
            "precision",
        ),
        ("rules:\n  - name: a\n    route: central\n    reason: r\n    alert: [moon]\n", "alert targets"),
    ],
)
def test_malformed_rules_are_refused_with_the_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "routing.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(RoutingConfigError, match=message) as exc:
        load_rules(path)
    assert str(path) in str(exc.value)


def test_public_policy_of_the_project_file() -> None:
    policy = load_public_policy(PROJECT_ROOT / "data" / "routing.yml")
    assert policy.sensitive_categories == frozenset({"can_bo_tham_nhung"})


def test_public_policy_is_configurable_and_defaults_to_corruption_reports(tmp_path: Path) -> None:
    rules = "rules:\n  - name: a\n    route: central\n    reason: r\n"
    path = tmp_path / "routing.yml"
    path.write_text(rules, encoding="utf-8")
    assert load_public_policy(path).sensitive_categories == frozenset({"can_bo_tham_nhung"})  # safe default
    path.write_text(rules + "public:\n  sensitive_categories: [dat_dai, can_bo_tham_nhung]\n", encoding="utf-8")
    assert load_public_policy(path).sensitive_categories == frozenset({"dat_dai", "can_bo_tham_nhung"})
    path.write_text(rules + "public: {sensitive_categories: []}\n", encoding="utf-8")
    assert load_public_policy(path).sensitive_categories == frozenset()
    path.write_text(rules + "public: {}\n", encoding="utf-8")
    assert load_public_policy(path).sensitive_categories == frozenset({"can_bo_tham_nhung"})


@pytest.mark.parametrize(
    ("public", "message"),
    [
        (
            "public:\n  sensitive_categories: [can_bo_tham_nhung, tham_o]\n",
            "line 6: .*unknown categories \\['tham_o'\\]",
        ),
        ("public:\n  sensitive_categories: can_bo_tham_nhung\n", "line 6: .*must be a list"),
        ("public:\n  sensitive: [can_bo_tham_nhung]\n", "line 6: .*unknown keys"),
        ("public:\n  sensitive_categories:\n", "line 6: .*must be a list"),
        ("public: [can_bo_tham_nhung]\n", "line 5: 'public' must be a mapping"),
    ],
)
def test_malformed_public_section_is_refused_with_the_line(tmp_path: Path, public: str, message: str) -> None:
    path = tmp_path / "routing.yml"
    path.write_text("rules:\n  - name: a\n    route: central\n    reason: r\n" + public, encoding="utf-8")
    for load in (load_rules, load_public_policy):  # the start-up check (load_rules) refuses it too
        with pytest.raises(RoutingConfigError, match=message) as exc:
            load(path)
        assert str(path) in str(exc.value)
