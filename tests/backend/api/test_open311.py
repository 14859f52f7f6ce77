"""Open311 GeoReport v2: field names as published, API key for writes, no personal data without a key."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from backend.api.routes.open311 import CATEGORIES, new_api_key
from backend.config import PROJECT_ROOT
from backend.db.models import Citizen, Ticket
from bot.messages import GeoPoint
from handlers.ports import TicketDraft

from .conftest import Api, add_official

REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}


def _key(api: Api, unit: str = "TW") -> str:
    with api.container.scope() as s:
        key = new_api_key(s, "tich hop thu nghiem", unit)
        s.commit()
    return key


def _file(
    api: Api,
    text: str,
    province: str | None,
    commune: str | None,
    *,
    category: str = "ha_tang",
    anonymous: bool = False,
    user: str = "w-311",
) -> str:
    with api.container.scope() as s:
        citizen = s.scalars(select(Citizen).where(Citizen.platform_user_id == user)).first()
        if citizen is None:
            citizen = Citizen(channel="webchat", platform_user_id=user, chat_id=user, display_name="Nguyễn Thị Lan")
            s.add(citizen)
            s.flush()
        draft = TicketDraft(
            text=text,
            category=category,
            province_code=province,
            commune_code=commune,
            geo=GeoPoint(21.0245, 105.853),
            anonymous=anonymous,
            phone=None if anonymous else "0912345678",
        )
        code = api.container.ops.file(s, citizen, draft).code
        s.commit()
        return code


def _codes(api: Api, **params: str) -> set[str]:
    r = api.client.get("/open311/v2/requests.json", params=params)
    assert r.status_code == 200, r.text
    return {x["service_request_id"] for x in r.json()}


def _count(api: Api) -> int:
    with api.container.scope() as s:
        return s.scalar(select(func.count()).select_from(Ticket)) or 0


def test_services_list_our_categories(api: Api) -> None:
    r = api.client.get("/open311/v2/services.json")
    assert r.status_code == 200
    services = r.json()
    assert [s["service_code"] for s in services] == list(CATEGORIES)
    for s in services:
        assert {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"} <= set(s)
        assert s["type"] == "realtime" and s["metadata"] is False


def test_create_and_read_a_request(api: Api) -> None:
    key = _key(api)
    r = api.client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": key,
            "service_code": "ha_tang",
            "description": "Cống thoát nước bị tắc, nước tràn ra đường",
            "address_string": "phố Hàng Bài, phường Hoàn Kiếm, Hà Nội",
            "lat": "21.0245",
            "long": "105.8530",
            "first_name": "Lan",
            "phone": "0912345678",
            "account_id": "acc-17",
        },
    )
    assert r.status_code == 201, r.text
    (created,) = r.json()
    assert set(created) == {"service_request_id", "service_notice", "account_id"}
    code = created["service_request_id"]
    assert code.startswith("PA-") and "Phường Hoàn Kiếm" in created["service_notice"]

    public = api.client.get(f"/open311/v2/requests/{code}.json").json()[0]
    assert set(public) >= REQUEST_FIELDS
    assert public["description"] is None  # no personal data without a key
    assert public["status"] == "open" and public["service_code"] == "ha_tang"
    assert public["agency_responsible"] == "Phường Hoàn Kiếm"
    assert public["extensions"]["gopy_status"] == "moi"
    assert (public["lat"], public["long"]) == (None, None)  # no finer than the commune without a key
    assert public["address"] == "Phường Hoàn Kiếm, Thành phố Hà Nội"

    private = api.client.get(f"/open311/v2/requests/{code.lower()}.json", params={"api_key": key}).json()[0]
    assert private["description"] == "Cống thoát nước bị tắc, nước tràn ra đường"
    assert (private["lat"], private["long"]) == (21.0245, 105.853)
    assert "0912345678" not in json.dumps(private, ensure_ascii=False)  # never personal data, even with a key
    assert "Lan" not in json.dumps(private, ensure_ascii=False)
    by_header = api.client.get(f"/open311/v2/requests/{code}.json", headers={"X-Api-Key": key}).json()[0]
    assert by_header == private

    listed = api.client.get("/open311/v2/requests.json", params={"service_code": "ha_tang", "status": "open"}).json()
    assert [x["service_request_id"] for x in listed] == [code]
    assert api.client.get("/open311/v2/requests.json", params={"status": "closed"}).json() == []


def test_json_body_is_accepted(api: Api) -> None:
    r = api.client.post(
        "/open311/v2/requests.json",
        json={"api_key": _key(api), "service_code": "moi_truong", "description": "Khói từ lò gạch ở Sài Gòn"},
    )
    assert r.status_code == 201
    assert r.json()[0]["service_request_id"].startswith("PA-")


def test_bad_requests_change_nothing(api: Api) -> None:
    key = _key(api)
    cases = [
        ({"service_code": "ha_tang", "description": "x"}, 403),  # no key
        ({"api_key": "wrong", "service_code": "ha_tang", "description": "x"}, 403),
        ({"api_key": key, "service_code": "khong_co", "description": "x"}, 400),
        ({"api_key": key, "service_code": "ha_tang", "description": "   "}, 400),
        ({"api_key": key, "service_code": "ha_tang", "description": "x" * 4001}, 400),
        ({"api_key": key, "service_code": "ha_tang", "description": "x", "lat": "abc", "long": "1"}, 400),
        ({"api_key": key, "service_code": "ha_tang", "description": "x", "lat": "95", "long": "1"}, 400),
    ]
    for form, status in cases:
        r = api.client.post("/open311/v2/requests.json", data=form)
        assert r.status_code == status, (form, r.text)
        assert isinstance(r.json()["detail"], list) and r.json()["detail"][0]["description"]
    r = api.client.post("/open311/v2/requests.json", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert _count(api) == 0
    assert api.client.get("/open311/v2/requests/PA-0000-0000.json").status_code == 404
    assert api.client.get("/open311/v2/requests/nonsense.json").status_code == 404


def test_keyless_reads_show_no_officials_names_or_internal_notes(api: Api) -> None:
    add_official(api.container, "tinh.hn", "01", "supervisor")
    add_official(api.container, "xa.cn", "00073")
    code = _file(api, "Đèn đường hỏng cả dãy phố", "01", "00070")
    sup = api.login("tinh.hn")
    r = api.client.post(
        f"/api/tickets/{code}/reassign", json={"unit": "00073", "reason": "Bí mật: anh Tuấn phụ trách"}, headers=sup
    )
    assert r.status_code == 200
    cn = api.login("xa.cn")
    api.client.post(f"/api/tickets/{code}/notes", json={"text": "Nội bộ: nghi chủ thầu Hùng"}, headers=cn)
    api.client.post(f"/api/tickets/{code}/replies", json={"text": "Đã tiếp nhận"}, headers=cn)

    key = _key(api)
    for params, headers in (({}, {}), ({"api_key": key}, {}), ({}, {"X-Api-Key": key})):
        (one,) = api.client.get(f"/open311/v2/requests/{code}.json", params=params, headers=headers).json()
        listed = api.client.get("/open311/v2/requests.json", params=params, headers=headers).json()
        assert [x["service_request_id"] for x in listed] == [code]
        for shown in (json.dumps(one, ensure_ascii=False), json.dumps(listed, ensure_ascii=False)):
            for secret in ("tinh.hn", "xa.cn", "Tuấn", "Hùng", "Bí mật", "Nội bộ", "0912345678", "Lan"):
                assert secret not in shown, (secret, params, headers)
        assert one["status_notes"] == "<da_tiep_nhan>"  # the status the citizen also sees, nothing more
        assert one["agency_responsible"] == "Phường Cửa Nam"


def test_sensitive_and_anonymous_tickets_are_not_published(api: Api) -> None:
    public = _file(api, "Ổ gà giữa đường", "01", "00070")
    corruption = _file(api, "Cán bộ phường nhận tiền", "01", "00070", category="can_bo_tham_nhung")
    anonymous = _file(api, "Nhà máy xả thải ban đêm", "01", "00070", category="moi_truong", anonymous=True)

    assert _codes(api) == {public}
    assert _codes(api, service_code="can_bo_tham_nhung") == set()
    assert _codes(api, service_request_id=f"{corruption},{anonymous},{public}") == {public}
    missing = api.client.get("/open311/v2/requests/PA-0000-0000.json")
    for hidden in (corruption, anonymous):
        r = api.client.get(f"/open311/v2/requests/{hidden}.json")
        assert r.status_code == 404 and r.json() == missing.json()  # as if it did not exist

    key = _key(api)  # central: the whole tree, with the detail a key allows
    assert _codes(api, api_key=key) == {public, corruption, anonymous}
    (anon,) = api.client.get(f"/open311/v2/requests/{anonymous}.json", headers={"X-Api-Key": key}).json()
    assert anon["description"] == "Nhà máy xả thải ban đêm"
    assert (anon["lat"], anon["long"]) == (None, None)  # an anonymous report's place could name its author


def test_sensitive_categories_come_from_routing_yml(api: Api, tmp_path: Path) -> None:
    routing = tmp_path / "routing.yml"
    text = (PROJECT_ROOT / "data" / "routing.yml").read_text(encoding="utf-8")
    routing.write_text(
        text.replace("sensitive_categories: [can_bo_tham_nhung]", "sensitive_categories: [dat_dai]"), encoding="utf-8"
    )
    api.container.settings.data_dir = tmp_path
    land = _file(api, "Tranh chấp đất", "01", "00070", category="dat_dai")
    corruption = _file(api, "Cán bộ nhận tiền", "01", "00070", category="can_bo_tham_nhung")
    assert _codes(api) == {corruption}
    assert api.client.get(f"/open311/v2/requests/{land}.json").status_code == 404


def test_api_keys_read_only_their_units_subtree(api: Api) -> None:
    hk = _file(api, "Ổ gà phố Hàng Bài, cần gì gọi tôi 0912 345 678", "01", "00070")
    cn = _file(api, "Ổ gà phố Hàng Bông", "01", "00073", user="w-2")
    hanoi = _file(api, "Ngập ở Hà Nội", "01", None, user="w-3")
    sg = _file(api, "Ngập ở Sài Gòn", "79", "26734", user="w-4")
    keys = {unit: _key(api, unit) for unit in ("TW", "01", "00070", "79")}

    assert _codes(api, api_key=keys["TW"]) == {hk, cn, hanoi, sg}
    assert _codes(api, api_key=keys["01"]) == {hk, cn, hanoi}
    assert _codes(api, api_key=keys["00070"]) == {hk}
    assert _codes(api, api_key=keys["79"]) == {sg}
    r = api.client.get("/open311/v2/requests.json", headers={"X-Api-Key": keys["00070"]})
    assert {x["service_request_id"] for x in r.json()} == {hk}

    for code in (cn, hanoi, sg):
        r = api.client.get(f"/open311/v2/requests/{code}.json", headers={"X-Api-Key": keys["00070"]})
        assert r.status_code == 404
    (mine,) = api.client.get(f"/open311/v2/requests/{hk}.json", headers={"X-Api-Key": keys["00070"]}).json()
    assert mine["description"] == "Ổ gà phố Hàng Bài, cần gì gọi tôi […]" and mine["lat"] == 21.0245


def test_the_key_may_come_in_a_header_for_writes(api: Api) -> None:
    key = _key(api)
    r = api.client.post(
        "/open311/v2/requests.json",
        data={"service_code": "ha_tang", "description": "Cột điện nghiêng ở Hoàn Kiếm"},
        headers={"X-Api-Key": key},
    )
    assert r.status_code == 201, r.text
    r = api.client.post(
        "/open311/v2/requests.json",
        data={"service_code": "ha_tang", "description": "x"},
        headers={"X-Api-Key": "gopy_wrong"},
    )
    assert r.status_code == 403
    assert _count(api) == 1
    params = api.client.get("/openapi.json").json()["paths"]["/open311/v2/requests.json"]["get"]["parameters"]
    header = next(p for p in params if p["in"] == "header")
    assert header["name"].lower() == "x-api-key" and "api_key" in header["description"]
