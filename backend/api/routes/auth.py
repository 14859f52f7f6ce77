"""Officials' login for the JSON API (OAuth2 password flow, bearer tokens)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select

from backend.api.deps import SessionDep, SettingsDep, api_signer
from backend.api.schemas import Token
from backend.db.models import Official
from backend.services.security import verify_password

router = APIRouter(prefix="/api/auth", tags=["auth"])


def authenticate(session: SessionDep, username: str, password: str) -> Official | None:
    official = session.scalars(select(Official).where(Official.username == username)).first()
    ok = verify_password(password, official.password_hash if official else None)
    return official if ok and official is not None and official.active else None


@router.post("/token", response_model=Token)
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, settings: SettingsDep) -> Token:
    official = authenticate(session, form.username, form.password)
    if official is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Incorrect username or password / Sai tên đăng nhập hoặc mật khẩu",
            headers={"WWW-Authenticate": "Bearer"},
        )
    ttl = settings.token_ttl_minutes * 60
    return Token(access_token=api_signer(settings).sign({"sub": official.id}, ttl), expires_in=ttl)
