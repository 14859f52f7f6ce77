"""``gopy nlu``: parse, train, evaluate, list and activate models."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from nlu.rasa_data import NluDataError, load_examples
from nlu.store import ModelStore, ModelStoreError, load_model, train, train_and_save

app = typer.Typer(no_args_is_help=True, help="Vietnamese NLU: parse, train, evaluate, models, activate.")
err = Console(stderr=True)
DEFAULT_DATA = [
    Path("data/nlu/categories"),
    Path("data/nlu/intents"),
    Path("data/nlu/seed"),
    Path("data/nlu/corrections"),
    Path("data/nlu/realworld"),
]


def _store() -> ModelStore:
    return ModelStore(Path(os.environ.get("GOPY_MODEL_DIR", "./var/models")))


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(2)


def _model_path(ref: str | None) -> Path:
    try:
        return _store().resolve(ref or "active")
    except ModelStoreError as exc:
        raise _fail(str(exc)) from None


@app.command()
def parse(
    text: Annotated[str | None, typer.Argument(help="A message; omit to read one message per line from stdin")] = None,
    model: Annotated[str | None, typer.Option(help="Model directory or version (default: the active one)")] = None,
) -> None:
    """Print the parse of TEXT as JSON, or stream stdin → one JSON object per line."""
    from nlu.engine import NLUEngine

    try:
        engine = NLUEngine.load(_model_path(model))
    except ModelStoreError as exc:
        raise _fail(str(exc)) from None
    if text is not None:
        print(json.dumps(engine.parse(text), ensure_ascii=False))
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
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    sys.stdout.flush()


@app.command("train")
def train_cmd(
    data: Annotated[list[Path] | None, typer.Option(help="Rasa NLU YAML files or folders (repeatable)")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the model here instead of the model store")] = None,
) -> None:
    """Train a new model version. It is NOT activated: use `gopy nlu activate VERSION`."""
    paths = data or DEFAULT_DATA
    try:
        examples = load_examples(paths)
        classifier, meta = train(examples)
        target = _store().save(classifier, meta, out)
    except (NluDataError, ModelStoreError, ValueError) as exc:
        raise _fail(str(exc)) from None
    err.print(
        f"trained [bold]{meta['version']}[/bold] on {meta['examples']} examples, "
        f"{len(meta['labels'])} labels, in {meta['train_seconds']} s → {target}"
    )
    print(meta["version"])


@app.command()
def evaluate(
    data: Annotated[list[Path], typer.Option(help="Rasa NLU YAML test files or folders")],
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
        classifier, meta = load_model(_model_path(model))
        ev = run(classifier, load_examples(data), level)
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
def models() -> None:
    """List model versions with their metrics; the active one is marked."""
    infos = _store().versions()
    if not infos:
        err.print(f"no models in {_store().root}")
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
    active = _store().active_version()
    print(f"active: {active}" if active else "no active model")


@app.command()
def activate(
    version: Annotated[str, typer.Argument(help="A version of the model store (see `gopy nlu models`) or 'latest'")],
) -> None:
    """Make VERSION the model every process uses (swapped without downtime).

    Only versions inside the model store can be activated: a path outside it, a symlink leading out or a version that
    does not exist is refused, and the active model stays as it was."""
    started = time.perf_counter()
    try:
        name = _store().activate(version)
    except ModelStoreError as exc:
        raise _fail(str(exc)) from None
    err.print(f"active model is now [bold]{name}[/bold] ({time.perf_counter() - started:.2f} s)")


__all__ = ["app", "train_and_save"]
