"""``gopy nlu``: parse, train, evaluate, list and activate models.

The commands take their directories from the ``NluSettings`` object of their (typer) context. ``gopy`` fills it from
its one ``Settings`` where it mounts this app (backend/cli.py), so the model store is the one ``gopy serve`` uses and
the training data come from the same ``GOPY_DATA_DIR``; nlu/ never imports backend/, so it is handed the paths.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from nlu.rasa_data import NluDataError, load_examples
from nlu.store import ModelStore, ModelStoreError, ensure_active_model, load_model, train, train_and_save
from nlu.training_data import NLU_FOLDER, TRAINING_FOLDERS, heldout_path, training_paths

app = typer.Typer(no_args_is_help=True, help="Vietnamese NLU: parse, train, evaluate, models, activate.")
err = Console(stderr=True)
# The training folders relative to a checkout, from nlu.training_data (the benchmark and the data tests read the
# repository's data/ with it).
DEFAULT_DATA = [Path("data", NLU_FOLDER, name) for name in TRAINING_FOLDERS]


@dataclass(frozen=True)
class NluSettings:
    """What the commands need from the application's settings."""

    model_dir: Path  # the model store (GOPY_MODEL_DIR, by default GOPY_VAR_DIR/models)
    data_dir: Path  # the data directory whose nlu/ holds the training data (GOPY_DATA_DIR)
    bootstrap: bool = True  # `parse` trains and activates the default model when none is active


def _settings(ctx: typer.Context) -> NluSettings:
    found = ctx.find_object(NluSettings)
    if found is None:
        raise _fail("the NLU commands run as `gopy nlu ...` (they read gopy's settings)")
    return found


def _store(ctx: typer.Context) -> ModelStore:
    return ModelStore(_settings(ctx).model_dir)


def _announce(message: str) -> None:
    err.print(message, markup=False, highlight=False)


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(2)


def _model_path(ctx: typer.Context, ref: str | None) -> Path:
    try:
        return _store(ctx).resolve(ref or "active")
    except ModelStoreError as exc:
        raise _fail(str(exc)) from None


@app.command()
def parse(
    ctx: typer.Context,
    text: Annotated[str | None, typer.Argument(help="A message; omit to read one message per line from stdin")] = None,
    model: Annotated[str | None, typer.Option(help="Model directory or version (default: the active one)")] = None,
) -> None:
    """Print the parse of TEXT as JSON, or stream stdin → one JSON object per line.

    Without --model, the active model is used; on a fresh installation (no active model) the default model is first
    trained from the bundled data and activated, as `gopy serve` does."""
    from nlu.engine import NLUEngine

    settings = _settings(ctx)
    if model is None and settings.bootstrap:
        try:
            ensure_active_model(ModelStore(settings.model_dir), settings.data_dir, announce=_announce)
        except (NluDataError, ModelStoreError, ValueError) as exc:
            raise _fail(str(exc)) from None
    try:
        engine = NLUEngine.load(_model_path(ctx, model))
    except ModelStoreError as exc:
        raise _fail(str(exc)) from None
    if text is not None:
        print(json.dumps(engine.parse(text).to_dict(), ensure_ascii=False))
        return
    # Lines are parsed in batches (much faster), but a batch is flushed as soon as no more input is waiting, so an
    # interactive caller writing one line at a time gets each answer at once.
    batch: list[str] = []
    for line in sys.stdin:
        line = line.rstrip("\n")
        if line.strip():
            batch.append(line)
        if batch and (len(batch) >= 256 or not _input_waiting()):
            _emit(engine, batch)
            batch = []
    if batch:
        _emit(engine, batch)


def _input_waiting() -> bool:
    import select

    try:
        return bool(select.select([sys.stdin], [], [], 0)[0])
    except (OSError, ValueError):  # not a real file (tests, some platforms): batch until the end
        return True


def _emit(engine: object, batch: list[str]) -> None:
    for result in engine.parse_many(batch):  # type: ignore[attr-defined]
        sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
    sys.stdout.flush()


@app.command("train")
def train_cmd(
    ctx: typer.Context,
    data: Annotated[list[Path] | None, typer.Option(help="Rasa NLU YAML files or folders (repeatable)")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the model here instead of the model store")] = None,
) -> None:
    """Train a new model version. It is NOT activated: use `gopy nlu activate VERSION`."""
    paths = data or training_paths(_settings(ctx).data_dir)
    try:
        examples = load_examples(paths)
        classifier, meta = train(examples)
        target = _store(ctx).save(classifier, meta, out)
    except (NluDataError, ModelStoreError, ValueError) as exc:
        raise _fail(str(exc)) from None
    err.print(
        f"trained [bold]{meta['version']}[/bold] on {meta['examples']} examples, "
        f"{len(meta['labels'])} labels, in {meta['train_seconds']} s → {target}"
    )
    print(meta["version"])


@app.command()
def evaluate(
    ctx: typer.Context,
    data: Annotated[
        list[Path] | None, typer.Option(help="Rasa NLU YAML test files or folders (default: the held-out folder)")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Model directory or version")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable metrics")] = False,
    level: Annotated[str, typer.Option(help="label | intent | category")] = "label",
    report_dir: Annotated[Path | None, typer.Option(help="Where to write the report files")] = None,
) -> None:
    """Per-label precision/recall/F1, macro-F1, accuracy, confusion matrix; Rasa-style report files."""
    from nlu.evaluate import evaluate as run
    from nlu.evaluate import write_reports

    if level not in ("label", "intent", "category"):
        raise _fail("--level must be label, intent or category")
    try:
        classifier, meta = load_model(_model_path(ctx, model))
        ev = run(classifier, load_examples(data or [heldout_path(_settings(ctx).data_dir)]), level)
    except (NluDataError, ModelStoreError) as exc:
        raise _fail(str(exc)) from None
    summary = ev.summary()
    files = write_reports(ev, report_dir or Path("reports") / str(meta.get("version", "model")))
    if as_json:
        print(json.dumps(summary, ensure_ascii=False))
        return
    table = Table(title=f"{meta.get('version')} on {len(ev.gold)} examples ({level})")
    for col in ("label", "precision", "recall", "f1", "support"):
        table.add_column(col)
    for label, row in summary["labels"].items():
        table.add_row(label, f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}", str(row["support"]))
    Console().print(table)
    Console().print(
        f"accuracy {summary['accuracy']:.4f} · macro-F1 {summary['macro_f1']:.4f} · "
        f"weighted-F1 {summary['weighted_f1']:.4f}"
    )
    Console().print("confusion matrix (rows gold, columns predicted, order as above):")
    for label, row in zip(ev.labels, ev.matrix(), strict=True):
        Console().print(f"  {label:<34} " + " ".join(f"{v:3d}" for v in row))
    err.print("reports: " + ", ".join(str(f) for f in files))


@app.command()
def models(ctx: typer.Context) -> None:
    """List model versions with their metrics; the active one is marked."""
    infos = _store(ctx).versions()
    if not infos:
        err.print(f"no models in {_store(ctx).root}")
        return
    table = Table()
    for col in ("", "version", "examples", "labels", "train s", "heldout accuracy"):
        table.add_column(col)
    for info in infos:
        m = info.metadata
        table.add_row(
            "*" if info.active else "",
            info.version,
            str(m.get("examples")),
            str(len(m.get("labels", {}))),
            str(m.get("train_seconds")),
            str(m.get("heldout", {}).get("accuracy", "—")),
        )
    Console().print(table)
    active = _store(ctx).active_version()
    print(f"active: {active}" if active else "no active model")


@app.command()
def activate(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="A version of the model store (see `gopy nlu models`) or 'latest'")],
) -> None:
    """Make VERSION the model every process uses (swapped without downtime).

    Only versions inside the model store can be activated: a path outside it, a symlink leading out or a version that
    does not exist is refused, and the active model stays as it was."""
    started = time.perf_counter()
    try:
        name = _store(ctx).activate(version)
    except ModelStoreError as exc:
        raise _fail(str(exc)) from None
    err.print(f"active model is now [bold]{name}[/bold] ({time.perf_counter() - started:.2f} s)")


__all__ = ["app", "train_and_save"]
