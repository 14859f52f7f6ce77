"""FastAPI dependencies as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.container import Container
from backend.db.models import Official
from backend.services.accounts import LoginGuard, LoginLimits
from backend.services.security import TokenSigner

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def get_settings_dep(container: ContainerDep) -> Settings:
    return container.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_session(container: ContainerDep) -> Iterator[Session]:
    with container.scope() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def api_signer(settings: Settings) -> TokenSigner:
    return TokenSigner(settings.secret_key, "api")


def get_current_official(
    session: SessionDep, settings: SettingsDep, token: Annotated[str | None, Depends(oauth2)]
) -> Official:
    unauthorized = HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="Not authenticated / Chưa đăng nhập hoặc phiên đã hết hạn",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if not token:
        raise unauthorized
    payload = api_signer(settings).verify(token)
    if payload is None:
        raise unauthorized
    try:
        official = session.get(Official, int(payload.get("sub", 0)))
    except (TypeError, ValueError):
        raise unauthorized from None
    # a token carries the official's token version: logging out or revoking bumps it, and every older token dies
    if official is None or not official.active or payload.get("ver") != official.token_version:
        raise unauthorized
    return official


CurrentOfficial = Annotated[Official, Depends(get_current_official)]


def client_address(request: Request) -> str:
    """The client's address as the server sees it (behind a proxy: run uvicorn with --proxy-headers)."""
    return request.client.host if request.client else "unknown"


ClientAddress = Annotated[str, Depends(client_address)]


def get_login_guard(container: ContainerDep) -> LoginGuard:
    s = container.settings
    limits = LoginLimits(s.login_failures_per_account, s.login_failures_per_address, s.login_window_seconds)
    return LoginGuard(container.throttle, limits)


LoginGuardDep = Annotated[LoginGuard, Depends(get_login_guard)]
