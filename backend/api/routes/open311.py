"""Open311 GeoReport v2 for integrators, with gopy's richer statuses in an extension field.

Reads are public but never show personal data (no description, names or phone numbers) unless a valid API key is
given; writes need an API key (``gopy admin create-api-key``).
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.api.deps import ContainerDep, SessionDep
from backend.db.models import ApiKey, OrgUnit, Ticket
from backend.domain import statuses as st
from backend.domain.codes import canonical_ticket_code
from backend.domain.taxonomy import CATEGORIES
from backend.services.intake import get_or_create_citizen
from bot.messages import GeoPoint, InboundMessage
from handlers.ports import TicketDraft

router = APIRouter(prefix="/open311/v2", tags=["open311"])

MAX_DESCRIPTION = 4000


def _key_ok(session: Session, key: str | None) -> bool:
    if not key:
        return False
    digest = hashlib.sha256(key.encode()).hexdigest()
    row = session.scalars(select(ApiKey).where(ApiKey.key_hash == digest, ApiKey.active.is_(True))).first()
    return row is not None


def new_api_key(session: Session, name: str) -> str:
    key = "gopy_" + secrets.token_urlsafe(32)
    session.add(ApiKey(name=name, key_hash=hashlib.sha256(key.encode()).hexdigest()))
    return key


@router.get("/services.json")
def services() -> list[dict[str, Any]]:
    return [
        {
            "service_code": code,
            "service_name": name,
            "description": desc,
            "metadata": False,
            "type": "realtime",
            "keywords": code.replace("_", ", "),
            "group": "phan_anh",
        }
        for code, (name, desc) in CATEGORIES.items()
    ]


def _request(session: Session, t: Ticket, private: bool) -> dict[str, Any]:
    commune = session.get(OrgUnit, t.commune_code) if t.commune_code else None
    province = session.get(OrgUnit, t.province_code) if t.province_code else None
    address = ", ".join(u.name for u in (commune, province) if u is not None) or None
    notes = t.routing_reason if t.status in (st.MOI, st.DA_TIEP_NHAN) else None
    out: dict[str, Any] = {
        "service_request_id": t.code,
        "status": "closed" if t.status in (st.DA_DONG, st.TU_CHOI, st.DA_TRA_LOI) else "open",
        "status_notes": notes,
        "service_name": CATEGORIES.get(t.category or "khac", CATEGORIES["khac"])[0],
        "service_code": t.category or "khac",
        "description": t.text if private else None,
        "agency_responsible": t.unit.name,
        "service_notice": None,
        "requested_datetime": t.created_at.isoformat(),
        "updated_datetime": t.updated_at.isoformat(),
        "expected_datetime": t.deadline.isoformat() if t.deadline else None,
        "address": address,
        "address_id": t.commune_code or t.province_code,
        "zipcode": None,
        "lat": t.latitude,
        "long": t.longitude,
        "media_url": None,
        "extensions": {"gopy_status": t.status, "unit_code": t.unit_code, "urgent": t.urgent},
    }
    return out


@router.get("/requests.json")
def list_requests(
    session: SessionDep,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    status: Annotated[str | None, Query(pattern="^(open|closed)(,(open|closed))?$")] = None,
    api_key: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    private = _key_ok(session, api_key)
    query = select(Ticket).order_by(Ticket.created_at.desc())
    if service_request_id:
        codes = [c for c in (canonical_ticket_code(x) for x in service_request_id.split(",")) if c]
        query = query.where(Ticket.code.in_(codes))
    if service_code:
        query = query.where(Ticket.category.in_(service_code.split(",")))
    if start_date:
        query = query.where(Ticket.created_at >= start_date)
    if end_date:
        query = query.where(Ticket.created_at <= end_date)
    if status and "," not in status:
        closed = [st.DA_DONG, st.TU_CHOI, st.DA_TRA_LOI]
        query = query.where(Ticket.status.in_(closed) if status == "closed" else Ticket.status.not_in(closed))
    return [_request(session, t, private) for t in session.scalars(query.limit(limit)).unique()]


@router.get("/requests/{request_id}.json")
def get_request(request_id: str, session: SessionDep, api_key: str | None = None) -> list[dict[str, Any]]:
    code = canonical_ticket_code(request_id)
    ticket = session.scalars(select(Ticket).where(Ticket.code == code)).first() if code else None
    if ticket is None:
        raise HTTPException(404, [{"code": 404, "description": "service_request_id not found"}])
    return [_request(session, ticket, _key_ok(session, api_key))]


@router.post("/requests.json", status_code=201)
async def create_request(request: Request, container: ContainerDep) -> list[dict[str, Any]]:
    """GeoReport v2 form fields (application/x-www-form-urlencoded); JSON with the same fields is accepted too."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            raw = await request.json()
        except ValueError:
            raise HTTPException(400, [{"code": 400, "description": "invalid JSON"}]) from None
        if not isinstance(raw, dict):
            raise HTTPException(400, [{"code": 400, "description": "expected a JSON object"}])
        form: dict[str, Any] = raw
    else:
        form = dict((await request.form()).items())
    return await _create(container, {k: str(v) for k, v in form.items() if v is not None})


def _error(code: int, description: str) -> HTTPException:
    return HTTPException(code, [{"code": code, "description": description}])


async def _create(container: ContainerDep, form: dict[str, str]) -> list[dict[str, Any]]:
    import asyncio

    return await asyncio.to_thread(_create_sync, container, form)


def _create_sync(container: ContainerDep, form: dict[str, str]) -> list[dict[str, Any]]:
    with container.scope() as session:
        if not _key_ok(session, form.get("api_key")):
            raise _error(403, "a valid api_key is required to create requests")
        service_code = form.get("service_code", "")
        if service_code not in CATEGORIES:
            raise _error(400, f"unknown service_code '{service_code}' (see services.json)")
        description = unicodedata.normalize("NFC", form.get("description", "")).strip()
        if not description or len(description) > MAX_DESCRIPTION:
            raise _error(400, f"description is required (1-{MAX_DESCRIPTION} characters)")
        geo = None
        if form.get("lat") or form.get("long"):
            try:
                geo = GeoPoint(float(form["lat"]), float(form["long"]))
            except (KeyError, ValueError):
                raise _error(400, "lat and long must both be decimal degrees") from None
            if not (-90 <= geo.latitude <= 90 and -180 <= geo.longitude <= 180):
                raise _error(400, "lat/long out of range")
        address = unicodedata.normalize("NFC", form.get("address_string", "")).strip()
        parsed = container.parser.parse(f"{description}\n{address}" if address else description)
        loc = parsed.get("location") or {}
        if address:
            addr_loc = container.parser.parse(address).get("location") or {}
            loc = addr_loc or loc
        who = form.get("account_id") or form.get("device_id") or form.get("email") or secrets.token_hex(8)
        name = " ".join(x for x in (form.get("first_name"), form.get("last_name")) if x) or None
        citizen = get_or_create_citizen(
            session,
            InboundMessage(
                channel="open311", platform_message_id="-", user_id=who[:128], chat_id="", display_name=name
            ),
        )
        draft = TicketDraft(
            text=description,
            intent="gui_phan_anh",
            intent_confidence=1.0,
            category=service_code,
            category_confidence=1.0,
            province_code=loc.get("province_code"),
            commune_code=loc.get("commune_code"),
            location_text=address or None,
            geo=geo,
            urgent=bool(parsed.get("urgent")) or service_code == "thien_tai_khan_cap",
            phone=form.get("phone") or None,
            nlu=parsed,
        )
        ticket = container.ops.file(session, citizen, draft)
        session.commit()
        return [
            {
                "service_request_id": ticket.code,
                "service_notice": ticket.routing_reason,
                "account_id": citizen.platform_user_id if form.get("account_id") else None,
            }
        ]
