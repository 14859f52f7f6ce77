"""Managing officials' accounts (supervisors and admins, inside their own subtree): thin routes over
backend/services/officials.py."""

from __future__ import annotations

from typing import Annotated, NoReturn

from fastapi import APIRouter, HTTPException, Query

from backend.api.deps import CurrentOfficial, SessionDep
from backend.api.schemas import OfficialCreate, OfficialSaved, OfficialsPublic, OfficialUpdate
from backend.services import officials as accounts

router = APIRouter(prefix="/api/officials", tags=["officials"])


def _refuse(exc: accounts.AccountError) -> NoReturn:
    raise HTTPException(exc.status, exc.detail) from None


@router.get("", response_model=OfficialsPublic)
def list_officials(
    session: SessionDep,
    official: CurrentOfficial,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> OfficialsPublic:
    """The accounts of your unit and the units below it (supervisors and admins only)."""
    try:
        rows, count = accounts.list_officials(session, official, offset=offset, limit=limit)
    except accounts.AccountError as exc:
        _refuse(exc)
    return OfficialsPublic(data=[accounts.official_public(o) for o in rows], count=count)


@router.post("", response_model=OfficialSaved, status_code=201)
def create_official(body: OfficialCreate, session: SessionDep, official: CurrentOfficial) -> OfficialSaved:
    """Create an account in your subtree; without a password, a temporary one is returned once."""
    try:
        done = accounts.create_official(
            session,
            official,
            username=body.username,
            unit_code=body.unit,
            role=body.role,
            full_name=body.full_name,
            password=body.password,
        )
    except accounts.AccountError as exc:
        _refuse(exc)
    return OfficialSaved(
        **accounts.official_public(done.official).model_dump(), temporary_password=done.temporary_password
    )


@router.patch("/{username}", response_model=OfficialSaved)
def update_official(
    username: str, body: OfficialUpdate, session: SessionDep, official: CurrentOfficial
) -> OfficialSaved:
    """Change role, unit, active state or name, or reset the password; role, unit, deactivation and password changes
    end the account's sessions and API tokens."""
    change = accounts.AccountChange(
        full_name=body.full_name,
        role=body.role,
        unit_code=body.unit,
        active=body.active,
        password=body.password,
        reset_password=body.reset_password,
    )
    try:
        done = accounts.update_official(session, official, username, change)
    except accounts.AccountError as exc:
        _refuse(exc)
    return OfficialSaved(
        **accounts.official_public(done.official).model_dump(), temporary_password=done.temporary_password
    )
