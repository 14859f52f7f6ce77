"""Open311 GeoReport v2: field names as published, API key for writes, no personal data without a key."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.api.routes.open311 import CATEGORIES, new_api_key
from backend.db.models import Ticket

from .conftest import Api

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


def _key(api: Api) -> str:
    with api.container.scope() as s:
        key = new_api_key(s, "tich hop thu nghiem")
        s.commit()
    return key


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
    assert (public["lat"], public["long"]) == (21.0245, 105.853)

    private = api.client.get(f"/open311/v2/requests/{code.lower()}.json", params={"api_key": key}).json()[0]
    assert private["description"] == "Cống thoát nước bị tắc, nước tràn ra đường"

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
