"""``gopy report`` (a periodic report as DOCX or XLSX) and ``gopy dev synth`` (synthetic tickets at scale)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from backend.config import get_settings

console = Console(stderr=True)
dev_app = typer.Typer(help="Development helpers: synthetic data.", no_args_is_help=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def _date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _fail(f"{option} must be a date YYYY-MM-DD, got '{value}'") from None


report_app = typer.Typer(help="Periodic reports (DOCX/XLSX) and the summaries' daily roll-ups.")


@report_app.callback(invoke_without_command=True)
def report(
    ctx: typer.Context,
    unit: Annotated[
        str | None, typer.Option("--unit", help="Unit code: TW, a 2-digit province or a 5-digit commune")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="File to write")] = None,
    period: Annotated[str | None, typer.Option("--period", help="A month, YYYY-MM")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD (with --to)")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD, included")] = None,
    fmt: Annotated[str, typer.Option("--format", help="docx or xlsx")] = "docx",
) -> None:
    """Write the report "Tổng hợp ý kiến, kiến nghị của Nhân dân" of a unit's subtree for a period
    (``gopy report --unit CODE --period YYYY-MM --format docx --out FILE``)."""
    from backend.container import Container
    from backend.services.report_files import FORMATS, Period, ReportError, build, gather

    if ctx.invoked_subcommand is not None:
        return
    if unit is None or out is None:
        raise _fail("--unit and --out are required (or a command: gopy report rollup)")

    if fmt not in FORMATS:
        raise _fail(f"--format must be one of {', '.join(FORMATS)}")
    if (period is None) == (from_ is None and to is None):
        raise _fail("give either --period YYYY-MM or --from D --to D")
    try:
        if period is not None:
            chosen = Period.month(period)
        else:
            if from_ is None or to is None:
                raise _fail("--from and --to go together")
            chosen = Period.between(_date(from_, "--from"), _date(to, "--to"))
        container = Container(get_settings())
        try:
            with container.scope() as session:
                data = gather(session, container.scope, unit, chosen, container.texts.status_name)
                content = build(data, fmt)
        finally:
            container.close()
    except ReportError as exc:
        raise _fail(str(exc)) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(content)
    console.print(f"wrote {out} ({len(content) // 1024} KB): {data.unit_name}, {chosen.vietnamese}")


@report_app.command("rollup")
def rollup(
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Start over: roll up every day again")] = False,
) -> None:
    """Bring the summaries' daily roll-ups up to date (the worker does it every minute)."""
    from backend.container import Container
    from backend.services.rollups import refresh

    container = Container(get_settings())
    try:
        with container.scope() as session:
            result = refresh(session, rebuild=rebuild)
    finally:
        container.close()
    how = "rebuilt" if result.rebuilt else "updated"
    console.print(f"roll-ups {how}: {result.days:,} days, {result.rows:,} rows")


@dev_app.command("synth")
def synth(
    tickets: Annotated[int, typer.Option("--tickets", min=1, max=10_000_000, help="How many tickets to add")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same data)")] = 0,
    months: Annotated[int, typer.Option("--months", min=1, max=120, help="Spread over the last M months")] = 6,
) -> None:
    """Fill the configured database with realistic synthetic tickets (citizens, events, replies, ratings)."""
    from backend.container import Container
    from backend.services.synth import SynthError, synthesize

    settings = get_settings()
    if settings.environment == "production":
        raise _fail("refusing to add synthetic tickets to a production database")
    container = Container(settings)
    try:
        result = synthesize(container.engine, tickets, seed=seed, months=months, data_dir=settings.data_dir)
    except SynthError as exc:
        raise _fail(str(exc)) from None
    finally:
        container.close()
    console.print(
        f"added {result.tickets:,} tickets, {result.citizens:,} citizens, {result.events:,} events and "
        f"{result.messages:,} messages in {result.seconds:.1f} s ({result.per_second:,.0f} tickets/s); "
        f"overdue {result.overdue:,}, urgent {result.urgent:,}"
    )


def mount(app: typer.Typer) -> None:
    """Add ``gopy report`` and ``gopy dev`` to the main command line."""
    app.add_typer(report_app, name="report")
    app.add_typer(dev_app, name="dev")
