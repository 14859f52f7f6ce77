"""The ``gopy`` command line: serve, database, seed, officials, terminal chat, NLU, channels."""

from __future__ import annotations

import getpass
import sys
import uuid
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from backend.config import get_settings

if TYPE_CHECKING:
    from backend.container import Container

app = typer.Typer(help="gopy — kênh góp ý Mặt trận số (Digital Front feedback channel).", no_args_is_help=True)
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
    from backend.db.models import Official

    settings = get_settings()
    container = _container()
    prepare(container)
    with container.scope() as session:
        officials = session.scalar(select(func.count()).select_from(Official)) or 0
    url = f"http://{host or settings.host}:{port or settings.port}"
    console.print(f"[bold]gopy[/bold] on {url} — web chat: {url}/chat — console: {url}/console — API: {url}/docs")
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
    )


@app.command()
def worker() -> None:
    """Run only the background workers (outbox delivery, inbound processing), for scaled-out deployments."""
    import asyncio
    import signal

    from backend.workers.runner import run_workers

    container = _container()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await run_workers(container, stop)
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
    prepare(container)
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
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise _fail("passwords do not match")
    if len(password) < 8:
        raise _fail("password must have at least 8 characters")
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
        session.commit()
    console.print(f"created {role} '{username}' for unit {unit}")


@admin_app.command("create-api-key")
def create_api_key(name: Annotated[str, typer.Option(help="Who the key is for")]) -> None:
    """Create an integrator API key (Open311 write access). The key is shown once."""
    from backend.api.routes.open311 import new_api_key

    container = _container()
    from backend.app import prepare

    prepare(container)
    with container.scope() as session:
        key = new_api_key(session, name)
        session.commit()
    print(key)


@admin_app.command("export-corrections")
def export_corrections_cmd(
    out: Annotated[str, typer.Option(help="Rasa NLU YAML file to write")] = "data/nlu/corrections/corrections.yml",
    all_: Annotated[bool, typer.Option("--all", help="Include corrections exported before")] = False,
) -> None:
    """Export officials' category corrections as Rasa NLU training data (then `gopy nlu train`)."""
    from pathlib import Path

    from backend.services.corrections import export_corrections

    container = _container()
    with container.scope() as session:
        n = export_corrections(session, Path(out), include_exported=all_)
    console.print(f"wrote {n} examples to {out}")


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
    loc = parsed.get("location") or {}
    category = (parsed.get("category") or {}).get("name")
    inp = RoutingInput(category, bool(parsed.get("urgent")), loc.get("province_code"), loc.get("commune_code"))
    decision = container.router.route(inp)
    for rule in container.router.rules:
        fired = rule.name == decision.rule
        matches = rule.matches(inp.category, inp.urgent, inp.precision)
        mark = "→" if fired else ("·" if not matches else " ")
        print(f" {mark} {rule.name:<24} route={rule.route}{'  (fires)' if fired else ''}")
    print(
        json.dumps(
            {
                "intent": parsed["intent"]["name"],
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
        if line.isdigit() and pending and 1 <= int(line) <= len(pending):
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


def _mount_optional() -> None:
    try:
        from nlu.cli import app as nlu_app
    except ImportError:  # pragma: no cover - the NLU CLI is part of the package
        return
    app.add_typer(nlu_app, name="nlu", help="Train, evaluate, activate and run the Vietnamese NLU.")
    from backend.channels_cli import telegram_app, zalo_app, zalobot_app

    app.add_typer(telegram_app, name="telegram", help="Telegram bot: webhook registration, polling mode.")
    app.add_typer(zalo_app, name="zalo", help="Zalo Official Account: token check and refresh.")
    app.add_typer(zalobot_app, name="zalobot", help="Zalo Bot platform: webhook registration.")


_mount_optional()


def main() -> None:
    app()
