"""Managing officials' accounts from the API and the console: list, create, change role/unit/active, reset a password.

Only supervisors and admins manage accounts, and only inside their own subtree (the units
:func:`~backend.services.tickets.unit_subtree` gives for their unit): an official or a unit outside it is reported as
not found (never whether it exists). Nobody gives a role above their own (a supervisor cannot create an admin), nor
changes an account ranked above their own. Deactivation, a role or unit change and a password reset end the account's
console sessions and API tokens (:func:`~backend.services.accounts.revoke_all`). Every change is audited.

Refusals are typed: :class:`NotAllowed` (403), :class:`OfficialNotFound` (404), :class:`AccountConflict` (409) and
:class:`BadAccount` (422); each carries an English reason (API, logs) and a Vietnamese one (API detail, console).
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.api.schemas import OfficialPublic, UnitPublic
from backend.db.models import Official, OrgUnit
from backend.domain.deadlines import VN_TZ
from backend.services.accounts import deactivate, revoke_all
from backend.services.audit import audit
from backend.services.passwords import password_problem
from backend.services.security import hash_password
from backend.services.tickets import unit_subtree

ROLES = ("officer", "supervisor", "admin")
RANK = {role: rank for rank, role in enumerate(ROLES)}
MANAGERS = ("supervisor", "admin")
USERNAME = re.compile(r"^[A-Za-z0-9._]{1,64}$")
TEMP_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/l/I: read aloud or copied


class AccountError(Exception):
    status = 422

    def __init__(self, reason: str, vi: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.vi = vi

    @property
    def detail(self) -> str:
        return f"{self.reason} / {self.vi}"


class NotAllowed(AccountError):
    status = 403


class OfficialNotFound(AccountError):
    status = 404


class AccountConflict(AccountError):
    status = 409


class BadAccount(AccountError):
    status = 422


@dataclass(frozen=True)
class AccountChange:
    """What a PATCH asks for; ``None`` leaves a field as it is. ``reset_password``: make a temporary password."""

    full_name: str | None = None
    role: str | None = None
    unit_code: str | None = None
    active: bool | None = None
    password: str | None = None
    reset_password: bool = False


@dataclass(frozen=True)
class AccountResult:
    official: Official
    temporary_password: str | None = None  # shown once, never stored in clear


def temporary_password() -> str:
    """A random 16-character password that meets the policy (``xxxx-xxxx-xxxx-xxxx``)."""
    while True:
        raw = "".join(secrets.choice(TEMP_ALPHABET) for _ in range(16))
        candidate = "-".join(raw[i : i + 4] for i in range(0, 16, 4))
        if password_problem(candidate) is None:
            return candidate


def _may_manage(actor: Official) -> None:
    if actor.role not in MANAGERS:
        raise NotAllowed(
            "only supervisors and admins manage officials",
            "Chỉ lãnh đạo đơn vị hoặc quản trị viên mới được quản lý tài khoản cán bộ.",
        )


def _in_subtree(session: Session, actor: Official, unit_code: str) -> bool:
    return (
        session.scalar(
            select(func.count()).where(OrgUnit.code == unit_code, OrgUnit.code.in_(unit_subtree(actor.unit_code)))
        )
        == 1
    )


def _check_unit(session: Session, actor: Official, unit_code: str) -> str:
    unit_code = unit_code.strip()
    if not unit_code or not _in_subtree(session, actor, unit_code):
        raise OfficialNotFound(
            f"no unit '{unit_code[:32]}' in your scope", "Không có đơn vị này trong phạm vi bạn quản lý."
        )
    return unit_code


def _check_role(actor: Official, role: str) -> str:
    if role not in ROLES:
        raise BadAccount(
            "role must be officer, supervisor or admin", "Vai trò phải là cán bộ, lãnh đạo đơn vị hoặc quản trị viên."
        )
    if RANK[role] > RANK[actor.role]:
        raise NotAllowed(
            "you cannot give a role above your own", "Bạn không thể cấp vai trò cao hơn vai trò của chính mình."
        )
    return role


def _check_password(password: str, username: str) -> str:
    password = unicodedata.normalize("NFC", password)
    problem = password_problem(password, username)
    if problem is not None:
        raise BadAccount(
            f"password refused: {problem.split(' / ')[0]}",
            f"Mật khẩu không được chấp nhận: {problem.split(' / ')[-1]}.",
        )
    return password


def official_public(official: Official) -> OfficialPublic:
    unit = official.unit
    return OfficialPublic(
        username=official.username,
        full_name=official.full_name,
        role=official.role,  # one of ROLES: checked on every write
        unit=UnitPublic(code=unit.code, name=unit.name, level=unit.level),
        active=official.active,
        created_at=official.created_at.astimezone(VN_TZ),
    )


def managed(session: Session, actor: Official) -> list[str]:
    """Codes of the units whose officials ``actor`` manages (its subtree)."""
    _may_manage(actor)
    return list(session.scalars(unit_subtree(actor.unit_code)))


def list_officials(
    session: Session, actor: Official, *, offset: int = 0, limit: int = 100
) -> tuple[list[Official], int]:
    """The accounts of the actor's subtree, by unit then login name, and how many there are."""
    _may_manage(actor)
    where = Official.unit_code.in_(unit_subtree(actor.unit_code))
    count = session.scalar(select(func.count()).select_from(Official).where(where)) or 0
    rows = session.scalars(
        select(Official).where(where).order_by(Official.unit_code, Official.username).offset(offset).limit(limit)
    ).all()
    audit(session, actor, "list", "official", "*", offset=offset, count=len(rows))
    session.commit()
    return list(rows), count


def get_official(session: Session, actor: Official, username: str) -> Official:
    """An account in the actor's subtree, else :class:`OfficialNotFound` (whether or not it exists elsewhere)."""
    _may_manage(actor)
    official = session.scalars(select(Official).where(Official.username == username.strip()[:64])).first()
    if official is None or not _in_subtree(session, actor, official.unit_code):
        raise OfficialNotFound(f"no official '{username[:64]}'", "Không có cán bộ này trong phạm vi bạn quản lý.")
    return official


def create_official(
    session: Session,
    actor: Official,
    *,
    username: str,
    unit_code: str,
    role: str = "officer",
    full_name: str = "",
    password: str | None = None,
) -> AccountResult:
    """A new account in the actor's subtree; without ``password`` a temporary one is made and returned once."""
    _may_manage(actor)
    username = unicodedata.normalize("NFC", username).strip()
    if not USERNAME.match(username):
        raise BadAccount(
            "username: 1-64 letters, digits, '.' or '_'",
            "Tên đăng nhập gồm 1–64 chữ cái không dấu, chữ số, dấu chấm hoặc gạch dưới.",
        )
    unit_code = _check_unit(session, actor, unit_code)
    role = _check_role(actor, role)
    if session.scalars(select(Official.id).where(func.lower(Official.username) == username.lower())).first():
        raise AccountConflict(f"username '{username}' already exists", "Tên đăng nhập này đã có người dùng.")
    temp = None if password is not None else temporary_password()
    secret = _check_password(password, username) if password is not None else temp
    assert secret is not None
    official = Official(
        username=username,
        full_name=full_name.strip()[:200],
        password_hash=hash_password(secret),
        role=role,
        unit_code=unit_code,
        active=True,
        token_version=0,
    )
    session.add(official)
    session.flush()
    audit(session, actor, "create", "official", username, role=role, unit=unit_code, temporary=temp is not None)
    session.commit()
    return AccountResult(official, temp)


def update_official(session: Session, actor: Official, username: str, change: AccountChange) -> AccountResult:
    """Apply ``change`` to an account of the actor's subtree (see the module's rules); audited, committed."""
    target = get_official(session, actor, username)
    if RANK.get(target.role, 0) > RANK[actor.role]:
        raise NotAllowed(
            "you cannot change an account ranked above yours",
            "Bạn không thể thay đổi tài khoản có vai trò cao hơn vai trò của mình.",
        )
    own = target.id == actor.id
    moves = (change.role not in (None, target.role)) or (change.unit_code not in (None, target.unit_code))
    if own and (moves or change.active is False):
        raise AccountConflict(
            "you cannot change your own role, unit or active state",
            "Bạn không thể tự đổi vai trò, đơn vị hoặc tự khóa tài khoản của mình.",
        )
    if change.password is not None and change.reset_password:
        raise BadAccount(
            "give either a password or reset_password, not both",
            "Chỉ chọn một: đặt mật khẩu mới hoặc tạo mật khẩu tạm.",
        )
    # validate everything before changing anything: a refused request changes nothing
    role = _check_role(actor, change.role) if change.role is not None else None
    unit_code = _check_unit(session, actor, change.unit_code) if change.unit_code is not None else None
    password = _check_password(change.password, target.username) if change.password is not None else None
    changed: dict[str, object] = {}
    revoke = False
    if change.full_name is not None and change.full_name.strip()[:200] != target.full_name:
        target.full_name = change.full_name.strip()[:200]
        changed["full_name"] = target.full_name
    if role is not None and role != target.role:
        changed["role"] = [target.role, role]
        target.role = role
        revoke = True
    if unit_code is not None and unit_code != target.unit_code:
        changed["unit"] = [target.unit_code, unit_code]
        target.unit_code = unit_code
        revoke = True
    temp = temporary_password() if change.reset_password else None
    if password is not None or temp is not None:
        target.password_hash = hash_password(password or temp or "")
        changed["password"] = "temporary" if temp else "set"
        revoke = True
    if change.active is not None and change.active != target.active:
        changed["active"] = change.active
        if change.active:
            target.active = True
        else:
            deactivate(session, target)  # ends its sessions and tokens
    if revoke:
        revoke_all(session, target)
    if changed:
        audit(session, actor, "update", "official", target.username, **changed)
    session.commit()
    session.refresh(target)
    return AccountResult(target, temp)
