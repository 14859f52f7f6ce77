"""Officials' login for the JSON API (OAuth2 password flow, bearer tokens), and logout (token revocation)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from backend.api.deps import ClientAddress, CurrentOfficial, LoginGuardDep, SessionDep, SettingsDep, api_signer
from backend.api.schemas import Token
from backend.services.accounts import LoginTooFast
from backend.services.audit import audit

router = APIRouter(prefix="/api/auth", tags=["auth"])

TOO_MANY = "Too many failed logins, try again later / Bạn đã đăng nhập sai quá nhiều lần, vui lòng thử lại sau ít phút"


@router.post(
    "/token",
    response_model=Token,
    responses={401: {"description": "Wrong username or password"}, 429: {"description": "Too many failed logins"}},
)
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    guard: LoginGuardDep,
    address: ClientAddress,
) -> Token:
    """A bearer token for an official. Failed logins are throttled per account and per address (429 + Retry-After)."""
    try:
        official = guard.authenticate(session, form.username, form.password, address, "api")
    except LoginTooFast as exc:
        session.commit()
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, TOO_MANY, {"Retry-After": str(exc.retry_after)}
        ) from None
    except LookupError:
        session.commit()
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Incorrect username or password / Sai tên đăng nhập hoặc mật khẩu",
            headers={"WWW-Authenticate": "Bearer"},
        ) from None
    ttl = settings.token_ttl_minutes * 60
    token = api_signer(settings).sign({"sub": official.id, "ver": official.token_version}, ttl)
    return Token(access_token=token, expires_in=ttl)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def logout(official: CurrentOfficial, session: SessionDep) -> Response:
    """Revoke every API token of the calling official (this one and any other issued before)."""
    official.token_version += 1
    audit(session, official, "logout", "official", official.username, channel="api")
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
