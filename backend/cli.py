"""The ``gopy`` command line: serve, database, seed, officials, terminal chat, NLU, channels."""

from __future__ import annotations

import getpass
import sys
import uuid
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from backend.channels_cli import ChannelCommandsGroup
from backend.config import get_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from backend.container import Container
    from backend.db.models import Official

app = typer.Typer(
    help="gopy — kênh góp ý Mặt trận số (Digital Front feedback channel).",
    no_args_is_help=True,
    cls=ChannelCommandsGroup,  # gopy telegram|zalo|zalobot ...: each channel's own commands, built when asked for
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
admin_app = typer.Typer(help="Officials and administration.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")
console = Console(stderr=True)


def _container() -> Container:
    from backend.container import Container

    return Container(get_settings())


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
) -> None:
    """Run the API, webhooks, console, web chat and workers in one process."""
    import uvicorn
    from sqlalchemy import func, select

    from backend.app import create_app, prepare
    from backend.datafiles import DataFileError
    from backend.db.models import Official
    from backend.logs import access_log_config

    settings = get_settings()
    container = _container()
    try:
        prepare(container)
    except DataFileError as exc:
        raise _fail(str(exc), 1) from None
    with container.scope() as session:
        officials = session.scalar(select(func.count()).select_from(Official)) or 0
    url = f"http://{host or settings.host}:{port or settings.port}"
    console.print(f"[bold]gopy[/bold] on {url} — web chat: {url}/chat — console: {url}/console — API: {url}/docs")
    _warm_up_model(container)
    if officials == 0:
        console.print(
            "No official accounts yet. Create one to log in to the console, e.g.:\n"
            "  gopy admin create-official --username canbo1 --unit TW --role admin"
        )
    uvicorn.run(
        create_app(settings, container),
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
        access_log=settings.access_log if settings.access_log is not None else settings.environment != "production",
        log_config=access_log_config(),  # secrets in query strings (session, api_key, token) are redacted
    )


def _warm_up_model(container: Container) -> None:
    """Load the NLU model in the background; on a first start train the default one, while the chat answers a polite
    "starting up" text (the server does not wait for it)."""
    from nlu.store import ModelStore

    settings = container.settings
    if ModelStore(settings.model_dir).active_version() is None:
        if not settings.bootstrap_model:
            console.print(
                f"No active NLU model in {settings.model_dir} and GOPY_BOOTSTRAP_MODEL is off: the chat cannot answer "
                "until one is trained and activated (gopy nlu train, then gopy nlu activate VERSION).",
                markup=False,
                highlight=False,
            )
            return
        console.print(
            f"No active NLU model in {settings.model_dir}: training the default model in the background "
            "(about a minute); until it is ready the chat asks citizens to write again shortly.",
            markup=False,
            highlight=False,
        )
    container.parser.warm_up_in_background()


@app.command()
def worker(
    only: Annotated[
        str,
        typer.Option(
            help="Comma-separated workers to run (default: all), e.g. 'inbound,outbox' for a process that only moves "
            "messages while another runs the periodic jobs (sla, retention, reports, rollups, nlu-train).",
        ),
    ] = "",
) -> None:
    """Run only the background workers (outbox delivery, inbound processing, periodic jobs), for scaled-out
    deployments."""
    import asyncio
    import signal

    from backend.datafiles import DataFileError
    from backend.workers.runner import WORKERS, run_workers

    names = [n.strip() for n in only.split(",") if n.strip()]
    known = [name for name, _ in WORKERS]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise _fail(f"unknown worker(s): {', '.join(unknown)}; known: {', '.join(known)}", 2)
    chosen = [(name, factory) for name, factory in WORKERS if not names or name in names]
    container = _container()
    try:
        container.validate_data()
    except DataFileError as exc:
        raise _fail(str(exc), 1) from None

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await run_workers(container, stop, chosen)
        finally:
            await container.aclose()

    asyncio.run(main())


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply database migrations (production: run before starting the API)."""
    from backend.db.migrate import current_revision, upgrade

    container = _container()
    upgrade(container.engine, revision)
    console.print(f"database at revision {current_revision(container.engine)}")


@app.command()
def prestart() -> None:
    """Wait for the database, migrate, seed, make sure an NLU model is active: the step before API processes."""
    import time

    from backend.app import prepare

    container = _container()
    for attempt in range(60):
        if container.db_ok():
            break
        console.print(f"waiting for the database ({attempt + 1}/60)...")
        time.sleep(1)
    else:
        raise _fail("database unreachable")
    prepare(container, migrate=True)  # production sets GOPY_AUTO_MIGRATE=false: this step is where it migrates
    seed()
    container.parser.engine()  # trains and activates a first model when none is active


@app.command()
def seed() -> None:
    """Create or update the Front's organisation tree (central, 34 provinces, 3,321 communes). Idempotent."""
    from backend.services.units import seed_units

    container = _container()
    with container.scope() as session:
        report = seed_units(session)
    console.print(
        f"gazetteer {report.source}: {len(report.added)} added, {len(report.renamed)} renamed, "
        f"{len(report.moved)} moved, {len(report.deactivated)} deactivated, {report.unchanged} unchanged"
    )
    for code, old, new in report.renamed[:50]:
        console.print(f"  renamed {code}: {old} → {new}")
    for code, old_parent, new_parent in report.moved[:50]:
        console.print(f"  moved {code}: {old_parent} → {new_parent}")
    for code in report.deactivated[:50]:
        console.print(f"  deactivated {code}")


@admin_app.command("create-official")
def create_official(
    username: Annotated[str, typer.Option(help="Login name")],
    unit: Annotated[str, typer.Option(help="Unit code: TW, a 2-digit province or 5-digit commune code")],
    role: Annotated[str, typer.Option(help="officer | supervisor | admin")] = "officer",
    full_name: Annotated[str, typer.Option(help="Display name")] = "",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin")] = False,
) -> None:
    """Create an official account (the password is asked for, or read from stdin)."""
    from sqlalchemy import select

    from backend.db.models import Official, OrgUnit
    from backend.services.security import hash_password

    if role not in ("officer", "supervisor", "admin"):
        raise _fail("role must be officer, supervisor or admin")
    if not username or len(username) > 64 or not username.replace(".", "").replace("_", "").isalnum():
        raise _fail("username: 1-64 letters, digits, '.' or '_'")
    password = _read_new_password(password_stdin, username)
    container = _container()
    from backend.app import prepare

    prepare(container)
    with container.scope() as session:
        if session.get(OrgUnit, unit) is None:
            raise _fail(f"unknown unit code '{unit}' (run `gopy seed` first?)")
        if session.scalars(select(Official).where(Official.username == username)).first():
            raise _fail(f"username '{username}' already exists")
        session.add(
            Official(
                username=username,
                full_name=full_name,
                password_hash=hash_password(password),
                role=role,
                unit_code=unit,
            )
        )
        _audit_cli(session, "create", username, role=role, unit=unit)
        session.commit()
    console.print(f"created {role} '{username}' for unit {unit}")


def _read_new_password(from_stdin: bool, username: str) -> str:
    """A new password, read and checked against the password policy (backend/services/passwords.py)."""
    import unicodedata

    from backend.services.passwords import password_problem

    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password / Mật khẩu: ")
        if getpass.getpass("Repeat password / Nhập lại mật khẩu: ") != password:
            raise _fail("passwords do not match / hai lần nhập mật khẩu không khớp nhau")
    password = unicodedata.normalize("NFC", password)
    problem = password_problem(password, username)
    if problem is not None:
        raise _fail(f"password refused / mật khẩu không được chấp nhận: {problem}")
    return password


def _official(session: Session, username: str) -> Official:
    from sqlalchemy import select

    from backend.db.models import Official

    official = session.scalars(select(Official).where(Official.username == username)).first()
    if official is None:
        raise _fail(f"no official '{username}' / không có cán bộ với tên đăng nhập '{username}'")
    return official


@admin_app.command("set-password")
def set_password(
    username: Annotated[str, typer.Option(help="Login name")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin")] = False,
) -> None:
    """Set a new password for an official (same policy as create-official); ends its sessions and API tokens."""
    from backend.app import prepare
    from backend.services.accounts import revoke_all
    from backend.services.security import hash_password

    password = _read_new_password(password_stdin, username)
    container = _container()
    prepare(container)
    with container.scope() as session:
        official = _official(session, username)
        official.password_hash = hash_password(password)
        revoke_all(session, official)
        _audit_cli(session, "set_password", official.username)
        session.commit()
    console.print(f"password of '{username}' changed; its sessions and API tokens are revoked")


@admin_app.command("revoke-tokens")
def revoke_tokens(username: Annotated[str, typer.Option(help="Login name")]) -> None:
    """Revoke every API token and end every console session of an official (it must log in again)."""
    from backend.app import prepare
    from backend.services.accounts import revoke_all

    container = _container()
    prepare(container)
    with container.scope() as session:
        official = _official(session, username)
        version = revoke_all(session, official)
        _audit_cli(session, "revoke_tokens", official.username, token_version=version)
        session.commit()
    console.print(f"revoked every API token and console session of '{username}' (token version {version})")


@admin_app.command("deactivate-official")
def deactivate_official(username: Annotated[str, typer.Option(help="Login name")]) -> None:
    """Deactivate an official: logins are refused and its sessions and API tokens end at once."""
    from backend.app import prepare
    from backend.services.accounts import deactivate

    container = _container()
    prepare(container)
    with container.scope() as session:
        official = _official(session, username)
        deactivate(session, official)
        _audit_cli(session, "deactivate", official.username)
        session.commit()
    console.print(f"deactivated '{username}'; its sessions and API tokens are revoked")


def _audit_cli(session: Session, action: str, username: str, **detail: object) -> None:
    from backend.db.models import AuditLog

    session.add(AuditLog(actor="cli", action=action, object_type="official", object_id=username, detail=detail))


@admin_app.command("create-api-key")
def create_api_key(
    name: Annotated[str, typer.Option(help="Who the key is for")],
    unit: Annotated[
        str,
        typer.Option(help="The unit whose subtree the key reads: TW (all), a province or a commune code"),
    ],
) -> None:
    """Create an integrator API key (Open311 writes; reads of the unit's subtree). The key is shown once."""
    from backend.api.routes.open311 import new_api_key
    from backend.db.models import OrgUnit

    unit, name = unit.strip(), name.strip()
    if not name or len(name) > 100:
        raise _fail("name: 1-100 characters (who the key is for)")
    container = _container()
    from backend.app import prepare

    prepare(container)
    with container.scope() as session:
        found = session.get(OrgUnit, unit) if unit else None
        if found is None or not found.active:
            raise _fail(f"unknown unit code '{unit}' (TW, a 2-digit province or a 5-digit commune code)")
        key = new_api_key(session, name, found.code)
        session.commit()
    console.print(f"created API key '{name}' reading {found.name} ({found.code}) and the units below it")
    print(key)


@admin_app.command("export-corrections")
def export_corrections_cmd(
    out: Annotated[str, typer.Option(help="Rasa NLU YAML file the corrections are added to")] = (
        "data/nlu/corrections/corrections.yml"
    ),
    all_: Annotated[bool, typer.Option("--all", help="Include corrections exported before")] = False,
) -> None:
    """Add officials' category corrections to a Rasa NLU training file (then `gopy nlu train`).

    Exports accumulate: examples already in the file stay, running it again adds nothing twice.
    """
    from pathlib import Path

    from backend.services.corrections import CorrectionsFileError, export_corrections

    container = _container()
    with container.scope() as session:
        try:
            n = export_corrections(session, Path(out), include_exported=all_)
        except CorrectionsFileError as exc:
            raise _fail(str(exc)) from None
    console.print(f"added {n} examples to {out}" if n else f"no new corrections: {out} unchanged")


citizen_app = typer.Typer(
    help="Citizens' personal data (Decree 13/2023): export everything held about one citizen, or erase it.",
    no_args_is_help=True,
)
admin_app.add_typer(citizen_app, name="citizen")

ChannelOpt = Annotated[str, typer.Option("--channel", help="telegram | zalo | zalobot | webchat | open311")]
UserOpt = Annotated[str, typer.Option("--user", help="The citizen's user id on that platform")]
ActorOpt = Annotated[str | None, typer.Option("--actor", help="Who asks, for the audit log (default: the OS user)")]


def _operator(actor: str | None) -> str:
    if actor and actor.strip():
        return actor.strip()
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in this environment (e.g. a bare container)
        return "cli:unknown"


def _privacy_container() -> Container:
    container = _container()
    if container.settings.auto_migrate:
        from backend.db.migrate import upgrade

        upgrade(container.engine)
    return container


@citizen_app.command("export")
def citizen_export(
    channel: ChannelOpt,
    user: UserOpt,
    out: Annotated[str | None, typer.Option("--out", help="JSON file to write (default: standard output)")] = None,
    actor: ActorOpt = None,
) -> None:
    """Write everything held about one citizen as JSON (times in UTC and Vietnam time). Audited."""
    import json
    import os

    from backend.services import privacy
    from backend.services.state import RedisStateStore
    from handlers.state import state_key

    container = _privacy_container()
    try:
        with container.scope() as session:
            citizen = privacy.find_citizen(session, channel, user)
            if citizen is None:
                raise _fail(
                    f"no citizen '{user}' on channel '{channel}' (never seen, or erased) / "
                    f"không có người dân '{user}' trên kênh '{channel}' (chưa từng liên hệ hoặc đã bị xoá)",
                    1,
                )
            state = RedisStateStore(container.kv).load(state_key(privacy.citizen_ref(citizen)))
            data = privacy.export_citizen(session, citizen, state=state)
            privacy.write_audit(
                session,
                _operator(actor),
                "citizen_export",
                "citizen",
                str(citizen.id),
                tickets=len(data["tickets"]),
                messages=len(data["messages"]),
                to="file" if out else "stdout",
            )
            session.commit()
    finally:
        container.close()
    body = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if out is None:
        sys.stdout.write(body)
        return
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # personal data: readable by the operator only
    os.fchmod(fd, 0o600)  # also when the file existed before
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(body)
    console.print(
        f"wrote {out}: citizen #{data['citizen']['id']}, {len(data['tickets'])} tickets, "
        f"{len(data['messages'])} messages"
    )


@citizen_app.command("erase")
def citizen_erase(
    channel: ChannelOpt,
    user: UserOpt,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
    actor: ActorOpt = None,
) -> None:
    """Erase a citizen's personal data and words; tickets stay, anonymised, so statistics still count. Audited."""
    from sqlalchemy import func, select

    from backend.db.models import Message, Ticket
    from backend.services import privacy
    from backend.services.state import RedisStateStore

    operator = _operator(actor)
    container = _privacy_container()
    try:
        with container.scope() as session:
            citizen = privacy.find_citizen(session, channel, user)
            if citizen is None:
                privacy.write_audit(session, operator, "citizen_erase", "citizen", "-", found=False)
                session.commit()
                console.print(
                    f"nothing to erase: no citizen '{user}' on channel '{channel}' (never seen, or already erased) / "
                    "không có dữ liệu để xoá"
                )
                return
            if not yes:
                tickets = session.scalar(select(func.count()).where(Ticket.citizen_id == citizen.id)) or 0
                messages = session.scalar(select(func.count()).where(Message.citizen_id == citizen.id)) or 0
                typer.confirm(
                    f"Erase the personal data of citizen #{citizen.id} on {channel} ({tickets} tickets, {messages} "
                    "messages)? This cannot be undone / Xoá dữ liệu cá nhân, không thể khôi phục?",
                    abort=True,
                )
            done = privacy.erase_citizen(session, citizen, states=RedisStateStore(container.kv), actor=operator)
            session.commit()
            citizen_id = citizen.id
    finally:
        container.close()
    console.print(
        f"erased citizen #{citizen_id}: {done.tickets} tickets anonymised, {done.messages} messages, "
        f"{done.outbox} outgoing messages, {done.events} history entries"
    )


routing_app = typer.Typer(help="Routing rules.", no_args_is_help=True)
app.add_typer(routing_app, name="routing")


@routing_app.command("explain")
def routing_explain(text: Annotated[str, typer.Argument(help="A citizen's message")]) -> None:
    """Show which routing rule fires for a message, and why."""
    import json

    from backend.domain.routing import RoutingInput

    container = _container()
    from backend.app import prepare

    prepare(container)
    parsed = container.parser.parse(text)
    loc, category = parsed.location, parsed.category.name if parsed.category else None
    inp = RoutingInput(category, parsed.urgent, loc.province_code if loc else None, loc.commune_code if loc else None)
    decision = container.router.route(inp)
    for rule in container.router.rules:
        fired = rule.name == decision.rule
        matches = rule.matches(inp.category, inp.urgent, inp.precision)
        mark = "→" if fired else ("·" if not matches else " ")
        print(f" {mark} {rule.name:<24} route={rule.route}{'  (fires)' if fired else ''}")
    print(
        json.dumps(
            {
                "intent": parsed.intent.name,
                "category": category,
                "urgent": inp.urgent,
                "province_code": inp.province_code,
                "commune_code": inp.commune_code,
                "precision": inp.precision,
                "rule": decision.rule,
                "unit": decision.unit_code,
                "alerts": list(decision.alerts),
                "reason": decision.reason,
            },
            ensure_ascii=False,
            indent=2,
        )
    )


@app.command()
def chat(
    session_id: Annotated[str | None, typer.Option("--session", help="Resume a web chat session")] = None,
) -> None:
    """Talk to the bot in the terminal: the same conversation as the web chat."""
    from backend.app import prepare
    from bot.messages import InboundMessage

    container = _container()
    prepare(container)
    session_id = session_id or "term" + uuid.uuid4().hex[:16]
    out = Console()
    out.print(f"[dim]session {session_id} — Ctrl-D to quit[/dim]")
    pending: list[str] = []
    while True:
        try:
            line = input("> ").strip()
        except (EOFError, KeyboardInterrupt):
            out.print()
            return
        if not line:
            continue
        payload = None
        if line.isdecimal() and pending and 1 <= int(line) <= len(pending):
            payload = pending[int(line) - 1]
        msg = InboundMessage(
            channel="webchat",
            platform_message_id=f"{session_id}:{uuid.uuid4().hex}",
            user_id=session_id,
            chat_id=session_id,
            kind="button" if payload else "text",
            text=line,
            payload=payload,
            event="terminal",
        )
        stored = container.intake.store(msg)
        pending = []
        for row in container.intake.process(stored.message_id, deliver_inline=True):
            out.print(f"[bold red]Mặt trận:[/bold red] {row.text}")
            for i, b in enumerate((row.data or {}).get("buttons", []), 1):
                out.print(f"   [cyan]{i}.[/cyan] {b['title']}")
                pending.append(b["payload"])


def _nlu_settings(ctx: typer.Context) -> None:
    """`gopy nlu ...` reads the same settings as `gopy serve`: the model store and the training data."""
    from nlu.cli import NluSettings

    settings = get_settings()
    ctx.obj = NluSettings(settings.model_dir, settings.data_dir, settings.bootstrap_model)


def _mount_optional() -> None:
    try:
        from nlu.cli import app as nlu_app
    except ImportError:  # pragma: no cover - the NLU CLI is part of the package
        return
    app.add_typer(
        nlu_app, name="nlu", help="Train, evaluate, activate and run the Vietnamese NLU.", callback=_nlu_settings
    )


_mount_optional()
__import__("backend.report_cli").report_cli.mount(app)  # gopy report, gopy dev synth


def main() -> None:
    app()
