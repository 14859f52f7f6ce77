"""Open311 GeoReport v2 for integrators, with gopy's richer statuses in an extension field.

What is published:

- Without an API key: every ticket except anonymous ones and those of the sensitive categories
  (``public.sensitive_categories`` in ``data/routing.yml``; complaints about officials by default), which do not
  exist for a keyless reader (404). Of those: category, status, the handling committee, the commune and province
  (never finer: no coordinates), dates. No description, no officials' names, no internal notes: ``status_notes``
  is the status text the citizen also sees.
- With an API key: only tickets handled by a committee in the key's unit subtree (central: all; a province: the
  province and its communes; a commune: itself), with the description and exact coordinates (none for anonymous
  tickets). Never the citizen's name or phone number, nor officials' names.
- Writes need a key (``gopy admin create-api-key --name ... --unit CODE``).

The key goes in the ``X-Api-Key`` header (preferred: query strings end up in access logs) or, as GeoReport
specifies, in the ``api_key`` parameter.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from backend.api.deps import ContainerDep, SessionDep
from backend.api.schemas import open311_field_error
from backend.container import Container
from backend.db.models import ApiKey, OrgUnit, Ticket
from backend.domain import statuses as st
from backend.domain.codes import canonical_ticket_code
from backend.domain.routing import PublicPolicy, load_public_policy
from backend.domain.taxonomy import CATEGORIES
from backend.services.intake import get_or_create_citizen
from backend.services.tickets import unit_subtree
from bot.messages import GeoPoint, InboundMessage
from handlers.ports import TicketDraft
from nlu.vocab import FEEDBACK_INTENT, MAX_TEXT, URGENT_CATEGORY

router = APIRouter(prefix="/open311/v2", tags=["open311"])

MAX_DESCRIPTION = MAX_TEXT
CLOSED = (st.DA_DONG, st.TU_CHOI, st.DA_TRA_LOI)
KEY_HEADER = "X-Api-Key"
NOT_FOUND = [{"code": 404, "description": "service_request_id not found"}]
_PHONE = re.compile(r"(?<!\d)(?:\+?84|0)(?:[\s.-]?\d){8,10}(?!\d)")

READS = (
    "Without an API key: no anonymous tickets and none of the sensitive categories (`public.sensitive_categories` "
    "in routing.yml), no description, no coordinates (only the commune and province), no officials' names or "
    "notes; `status_notes` is the status the citizen also sees. With a key: only tickets handled in the key's unit "
    "subtree, with description (phone numbers masked) and coordinates (none for anonymous tickets); never the "
    "citizen's name or phone. Send the key in the `X-Api-Key` header (preferred) or the `api_key` parameter."
)

HeaderKey = Annotated[
    str | None,
    Header(
        alias=KEY_HEADER,
        description="API key (preferred over the `api_key` parameter, which ends up in access logs). "
        "Keys are scoped to a unit's subtree; without one, reads are public and coarse.",
    ),
]
QueryKey = Annotated[
    str | None,
    Query(description="API key as GeoReport v2 specifies it; prefer the X-Api-Key header"),
]


def _api_key(session: Session, key: str | None) -> ApiKey | None:
    if not key:
        return None
    digest = hashlib.sha256(key.encode()).hexdigest()
    return session.scalars(select(ApiKey).where(ApiKey.key_hash == digest, ApiKey.active.is_(True))).first()


def _key_ok(session: Session, key: str | None) -> bool:
    return _api_key(session, key) is not None


def new_api_key(session: Session, name: str, unit_code: str = "TW") -> str:
    """A new key reading ``unit_code``'s subtree; only its SHA-256 is stored, the key is returned once."""
    key = "gopy_" + secrets.token_urlsafe(32)
    session.add(ApiKey(name=name, key_hash=hashlib.sha256(key.encode()).hexdigest(), unit_code=unit_code))
    return key


@lru_cache(maxsize=8)
def _policy_at(path: Path, _mtime_ns: int) -> PublicPolicy:
    return load_public_policy(path)


def public_policy(container: Container) -> PublicPolicy:
    """The ``public`` section of routing.yml, re-read when the file changes."""
    path = container.settings.data_dir / "routing.yml"
    return _policy_at(path, path.stat().st_mtime_ns)


def _readable(key: ApiKey | None, policy: PublicPolicy) -> ColumnElement[bool]:
    """The tickets a reader may see at all: a key its subtree; the public no anonymous or sensitive ticket."""
    if key is not None:
        return Ticket.unit_code.in_(unit_subtree(key.unit_code))
    public: ColumnElement[bool] = Ticket.anonymous.is_(False)
    if policy.sensitive_categories:
        sensitive = sorted(policy.sensitive_categories)
        public = public & or_(Ticket.category.is_(None), Ticket.category.not_in(sensitive))
    return public


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


def _request(session: Session, container: Container, t: Ticket, keyed: bool) -> dict[str, Any]:
    commune = session.get(OrgUnit, t.commune_code) if t.commune_code else None
    province = session.get(OrgUnit, t.province_code) if t.province_code else None
    address = ", ".join(u.name for u in (commune, province) if u is not None) or None
    exact = keyed and not t.anonymous
    return {
        "service_request_id": t.code,
        "status": "closed" if t.status in CLOSED else "open",
        "status_notes": container.texts.status_name(t.status),  # never officials' notes or names
        "service_name": CATEGORIES.get(t.category or "khac", CATEGORIES["khac"])[0],
        "service_code": t.category or "khac",
        "description": _PHONE.sub("[…]", t.text) if keyed else None,
        "agency_responsible": t.unit.name,
        "service_notice": None,
        "requested_datetime": t.created_at.isoformat(),
        "updated_datetime": t.updated_at.isoformat(),
        "expected_datetime": t.deadline.isoformat() if t.deadline else None,
        "address": address,
        "address_id": t.commune_code or t.province_code,
        "zipcode": None,
        "lat": t.latitude if exact else None,
        "long": t.longitude if exact else None,
        "media_url": None,
        "extensions": {"gopy_status": t.status, "unit_code": t.unit_code, "urgent": t.urgent},
    }


@router.get("/requests.json", description="Service requests, newest first. " + READS)
def list_requests(
    session: SessionDep,
    container: ContainerDep,
    service_request_id: Annotated[str | None, Query(max_length=2000)] = None,
    service_code: Annotated[str | None, Query(max_length=2000)] = None,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    status: Annotated[str | None, Query(pattern="^(open|closed)(,(open|closed))?$")] = None,
    api_key: QueryKey = None,
    x_api_key: HeaderKey = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    key = _api_key(session, x_api_key or api_key)
    query = select(Ticket).where(_readable(key, public_policy(container))).order_by(Ticket.created_at.desc())
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
        query = query.where(Ticket.status.in_(CLOSED) if status == "closed" else Ticket.status.not_in(CLOSED))
    rows = session.scalars(query.limit(limit)).unique()
    return [_request(session, container, t, key is not None) for t in rows]


@router.get(
    "/requests/{request_id}.json",
    description="One service request; 404 for unknown ones and for those this reader may not see. " + READS,
)
def get_request(
    request_id: str,
    session: SessionDep,
    container: ContainerDep,
    api_key: QueryKey = None,
    x_api_key: HeaderKey = None,
) -> list[dict[str, Any]]:
    key = _api_key(session, x_api_key or api_key)
    code = canonical_ticket_code(request_id)
    ticket = None
    if code:
        readable = _readable(key, public_policy(container))
        ticket = session.scalars(select(Ticket).where(Ticket.code == code, readable)).first()
    if ticket is None:
        raise HTTPException(404, NOT_FOUND)
    return [_request(session, container, ticket, key is not None)]


@router.post("/requests.json", status_code=201)
async def create_request(
    request: Request, container: ContainerDep, x_api_key: HeaderKey = None
) -> list[dict[str, Any]]:
    """GeoReport v2 form fields (application/x-www-form-urlencoded); JSON with the same fields is accepted too.

    The key goes in the X-Api-Key header or in the `api_key` field."""
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
    fields = {k: str(v) for k, v in form.items() if v is not None}
    problem = open311_field_error(fields)
    if problem:
        raise _error(400, problem)
    if x_api_key:
        fields["api_key"] = x_api_key
    return await _create(container, fields)


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
        loc = parsed.location
        if address:
            loc = container.parser.parse(address).location or loc
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
            intent=FEEDBACK_INTENT,
            intent_confidence=1.0,
            category=service_code,
            category_confidence=1.0,
            province_code=loc.province_code if loc else None,
            commune_code=loc.commune_code if loc else None,
            location_text=address or None,
            geo=geo,
            urgent=parsed.urgent or service_code == URGENT_CATEGORY,
            phone=form.get("phone") or None,
            nlu=parsed.to_dict(),
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
