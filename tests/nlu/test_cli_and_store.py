"""gopy nlu train / models / activate / evaluate / parse, and the Rasa YAML loader's errors, on a small label set
(the engine serves any Rasa data set, not only ours)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nlu.cli import app
from nlu.rasa_data import NluDataError, load_examples
from nlu.store import ModelStore, ModelStoreError

DATA = """version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello there
    - hi bot
    - good morning
    - hey you
    - xin chao ban
    - chao buoi sang
- intent: weather
  examples: |
    - will it rain tomorrow
    - how hot is it today
    - weather forecast for [Hà Nội](province)
    - is it sunny outside
    - troi co mua khong
    - hom nay nang khong
- intent: order/pizza
  examples: |
    - one large pizza please
    - I want a pepperoni pizza
    - pizza with extra cheese
    - order two pizzas
    - cho mot banh pizza
    - dat pizza hai suat
"""


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GOPY_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.yml").write_text(DATA, encoding="utf-8")
    return tmp_path


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), input=stdin)
    return result.exit_code, result.output


def test_train_never_activates_then_activate_parse_and_models(env: Path) -> None:
    code, out = run("train", "--data", "train.yml")
    assert code == 0, out
    version = out.strip().splitlines()[-1]
    store = ModelStore(env / "models")
    assert store.active_version() is None  # training alone replaces nothing
    code, out = run("parse", "hello")
    assert code == 2 and "active" in out.lower()
    assert run("activate", version)[0] == 0 and store.active_version() == version

    code, out = run("parse", "one big pizza please")
    parsed = json.loads(out)
    assert parsed["intent"]["name"] == "order" and parsed["model"] == version
    assert {"text", "intent_ranking", "entities", "category", "location", "urgent"} <= set(parsed)

    code, out = run("parse", stdin="hi bot\n\nwill it rain tomorrow\n")
    lines = [json.loads(line) for line in out.strip().splitlines()]
    assert [p["intent"]["name"] for p in lines] == ["greet", "weather"]

    code, out = run("models")
    assert code == 0 and version in out


def test_second_training_leaves_the_active_model_in_place(env: Path) -> None:
    first = run("train", "--data", "train.yml")[1].strip().splitlines()[-1]
    run("activate", first)
    (env / "more.yml").write_text(DATA.replace("hello there", "hello again"), encoding="utf-8")
    second = run("train", "--data", "more.yml")[1].strip().splitlines()[-1]
    assert second != first and ModelStore(env / "models").active_version() == first
    assert run("activate", "latest")[0] == 0 and ModelStore(env / "models").active_version() == second


def test_evaluate_prints_json_and_writes_rasa_style_reports(env: Path) -> None:
    version = run("train", "--data", "train.yml")[1].strip().splitlines()[-1]
    code, out = run("evaluate", "--data", "train.yml", "--model", version, "--json", "--report-dir", "rep")
    assert code == 0, out
    summary = json.loads(out)
    assert {"accuracy", "macro_f1", "weighted_f1", "labels"} <= set(summary)
    assert set(summary["labels"]["greet"]) == {"precision", "recall", "f1", "support"}
    assert summary["accuracy"] > 0.8  # on its own training data
    assert {p.name for p in (env / "rep").iterdir()} >= {"intent_report.json", "intent_errors.json"}
    assert any(p.suffix == ".png" for p in (env / "rep").iterdir())


def test_unknown_label_at_evaluation_names_file_and_line(env: Path) -> None:
    version = run("train", "--data", "train.yml")[1].strip().splitlines()[-1]
    (env / "test.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: goodbye\n  examples: |\n    - bye\n', encoding="utf-8"
    )
    code, out = run("evaluate", "--data", "test.yml", "--model", version)
    assert code == 2 and "test.yml:5" in out and "goodbye" in out


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ('version: "3.1"\nnlu:\n- intent: a\n  examples: |\n    - x\n  - : broken\n', "bad.yml:"),
        ('version: "3.1"\nnlu:\n- intent: a\n  examples: 5\n', "bad.yml:3"),
        ('version: "3.1"\nnlu: []\n', "bad.yml"),
        ("", "bad.yml"),
    ],
)
def test_malformed_data_is_refused_with_file_and_line_and_nothing_is_written(
    env: Path, content: str, where: str
) -> None:
    (env / "bad.yml").write_text(content, encoding="utf-8")
    with pytest.raises(NluDataError) as err:
        examples = load_examples([env / "bad.yml"])
        if not examples:
            raise NluDataError(f"{env / 'bad.yml'}: no examples")
    assert where in str(err.value)
    code, out = run("train", "--data", "bad.yml")
    assert code == 2 and "error" in out
    assert not (env / "models").exists() or not any((env / "models").iterdir())


def test_unknown_version_is_a_clear_error(env: Path) -> None:
    with pytest.raises(ModelStoreError):
        ModelStore(env / "models").resolve("20990101-000000-abcdef")
    code, out = run("activate", "no-such-version")
    assert code == 2 and "error" in out


def _trained_and_active(env: Path) -> tuple[ModelStore, str]:
    version = run("train", "--data", "train.yml")[1].strip().splitlines()[-1]
    assert run("activate", version)[0] == 0
    return ModelStore(env / "models"), version


def _still_serving(store: ModelStore, version: str) -> None:
    from nlu.engine import NLUEngine

    assert store.active_version() == version
    assert (store.root / "ACTIVE").read_text(encoding="utf-8").strip() == version
    assert NLUEngine.load(store.active_path()).parse("one big pizza please")["model"] == version


@pytest.mark.parametrize("where", ["traversal", "absolute", "sibling"])
def test_activate_refuses_a_model_outside_the_store(env: Path, where: str) -> None:
    store, version = _trained_and_active(env)
    outside = env / "elsewhere" / "x"
    code, out = run("train", "--data", "train.yml", "--out", str(outside))
    assert code == 0 and (outside / "model.joblib").exists(), out
    ref = {
        "traversal": "models/../elsewhere/x",
        "absolute": str(outside),
        "sibling": "../" + env.name + "/elsewhere/x",
    }[where]
    code, out = run("activate", ref)
    assert code == 2 and "model store" in " ".join(out.split()), out
    _still_serving(store, version)


@pytest.mark.parametrize("ref", ["../../tmp/x", "/etc", "..", ".", "no-such-version", "20990101-000000-abcdef", ""])
def test_activate_refuses_bad_references_and_keeps_the_active_model(env: Path, ref: str) -> None:
    store, version = _trained_and_active(env)
    code, out = run("activate", ref)
    assert code == 2 and "error" in out, out
    _still_serving(store, version)


def test_activate_accepts_a_version_directory_inside_the_store(env: Path) -> None:
    store, first = _trained_and_active(env)
    (env / "more.yml").write_text(DATA.replace("hello there", "hello again"), encoding="utf-8")
    second = run("train", "--data", "more.yml")[1].strip().splitlines()[-1]
    assert run("activate", str(env / "models" / second))[0] == 0 and store.active_version() == second
    assert run("activate", f"models/{first}")[0] == 0 and store.active_version() == first


def test_activate_refuses_a_symlink_leading_out_of_the_store(env: Path) -> None:
    store, version = _trained_and_active(env)
    outside = env / "elsewhere" / "y"
    assert run("train", "--data", "train.yml", "--out", str(outside))[0] == 0
    (store.root / "20990101-000000-linked").symlink_to(outside)
    code, out = run("activate", "20990101-000000-linked")
    assert code == 2 and "model store" in " ".join(out.split()), out
    _still_serving(store, version)
