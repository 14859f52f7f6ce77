"""FastAPI dependencies as ``Annotated`` aliases: the settings, a database session, the current official, and one
alias per service (``TicketCasesDep``, ``TextsDep``, ``ChannelsDep``...), as in the full-stack FastAPI template."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.container import Container
from backend.db.models import Official
from backend.services.accounts import LoginGuard, LoginLimits
from backend.services.channels import ChannelHub
from backend.services.intake import Intake
from backend.services.nlu_workbench import Workbench
from backend.services.security import TokenSigner
from backend.services.throttle import Throttle
from backend.services.tickets import TicketOps
from backend.services.usecases import TicketCases
from handlers.ports import Parser
from handlers.texts import Texts

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)

# Dependencies that only look something up are ``async def``: FastAPI runs a plain ``def`` dependency in its thread
# pool, a thread hop per dependency per request (the webhooks' hot path). Those that touch the database stay ``def``.


async def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


async def get_settings_dep(container: ContainerDep) -> Settings:
    return container.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_session(container: ContainerDep) -> Iterator[Session]:
    with container.scope() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


# -- one dependency per service (the container builds each once) -------------------------------------------------
async def get_ticket_ops(container: ContainerDep) -> TicketOps:
    return container.ops


TicketOpsDep = Annotated[TicketOps, Depends(get_ticket_ops)]


async def get_ticket_cases(container: ContainerDep) -> TicketCases:
    return container.cases


TicketCasesDep = Annotated[TicketCases, Depends(get_ticket_cases)]


async def get_texts(container: ContainerDep) -> Texts:
    return container.texts


TextsDep = Annotated[Texts, Depends(get_texts)]


async def get_parser(container: ContainerDep) -> Parser:
    return container.parser


ParserDep = Annotated[Parser, Depends(get_parser)]


async def get_intake(container: ContainerDep) -> Intake:
    return container.intake


IntakeDep = Annotated[Intake, Depends(get_intake)]


async def get_throttle(container: ContainerDep) -> Throttle:
    return container.throttle


ThrottleDep = Annotated[Throttle, Depends(get_throttle)]


async def get_channels(container: ContainerDep) -> ChannelHub:
    return container.channels


ChannelsDep = Annotated[ChannelHub, Depends(get_channels)]


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


async def client_address(request: Request) -> str:
    """The client's address as the server sees it (behind a proxy: run uvicorn with --proxy-headers)."""
    return request.client.host if request.client else "unknown"


ClientAddress = Annotated[str, Depends(client_address)]


async def get_login_guard(settings: SettingsDep, throttle: ThrottleDep) -> LoginGuard:
    s = settings
    limits = LoginLimits(s.login_failures_per_account, s.login_failures_per_address, s.login_window_seconds)
    return LoginGuard(throttle, limits)


LoginGuardDep = Annotated[LoginGuard, Depends(get_login_guard)]


ADMINS_ONLY = "administrators only / chỉ quản trị viên được dùng bàn làm việc NLU"


async def get_current_admin(official: CurrentOfficial) -> Official:
    """The current official if an admin (the NLU workbench); officers and supervisors get 403."""
    if official.role != "admin":
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail=ADMINS_ONLY)
    return official


CurrentAdmin = Annotated[Official, Depends(get_current_admin)]


async def get_workbench(settings: SettingsDep) -> Workbench:
    return Workbench(settings.model_dir, settings.data_dir)


WorkbenchDep = Annotated[Workbench, Depends(get_workbench)]

RowId = Annotated[int, Path(ge=1, le=2**31 - 1, description="A row id")]
"""A database row id in a path: bounded so that a huge number is a 422, never a driver error."""
