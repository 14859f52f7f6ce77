"""gopy nlu train / models / activate / evaluate / parse, and the Rasa YAML loader's errors, on a small label set
(the engine serves any Rasa data set, not only ours); the commands read gopy's settings (model store, data, .env);
the model records the library versions it was trained with."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from backend.cli import app as gopy
from backend.config import get_settings
from nlu import linear
from nlu.classifier import IntentClassifier
from nlu.cli import app
from nlu.features import views
from nlu.rasa_data import NluDataError, load_examples
from nlu.store import ModelStore, ModelStoreError, ensure_active_model, library_versions, load_model, train

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
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in ("GOPY_VAR_DIR", "GOPY_DATA_DIR", "GOPY_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOPY_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("GOPY_BOOTSTRAP_MODEL", "false")  # these tests train their own models
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.yml").write_text(DATA, encoding="utf-8")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def gopy_nlu(*args: str, stdin: str | None = None) -> Result:
    get_settings.cache_clear()  # each command is a new process: it reads the environment and .env afresh
    return CliRunner().invoke(gopy, ["nlu", *args], input=stdin)


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    """`gopy nlu ARGS`: exit code, standard output, standard error."""
    result = gopy_nlu(*args, stdin=stdin)
    return result.exit_code, result.stdout, result.stderr


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    """`gopy nlu ARGS`: exit code and both outputs as they came."""
    result = gopy_nlu(*args, stdin=stdin)
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
    assert NLUEngine.load(store.active_path()).parse("one big pizza please").model == version


@pytest.mark.parametrize("where", ["traversal", "absolute", "sibling"])
def test_activate_refuses_a_model_outside_the_store(env: Path, where: str) -> None:
    store, version = _trained_and_active(env)
    outside = env / "elsewhere" / "x"
    code, out = run("train", "--data", "train.yml", "--out", str(outside))
    assert code == 0 and (outside / "model.npz").exists(), out
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


# -- the same settings as `gopy serve` ------------------------------------------------------------------------------
def small_data_dir(root: Path) -> Path:
    """A data directory of the bundled layout (GOPY_DATA_DIR) whose NLU data is the small label set above."""
    (root / "nlu" / "seed").mkdir(parents=True)
    (root / "nlu" / "seed" / "train.yml").write_text(DATA, encoding="utf-8")
    (root / "nlu" / "test").mkdir()
    (root / "nlu" / "test" / "heldout.yml").write_text(DATA, encoding="utf-8")  # never trained on
    return root


def test_parse_on_a_fresh_install_trains_the_default_model_once_and_says_so_on_stderr(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOPY_BOOTSTRAP_MODEL")
    monkeypatch.setenv("GOPY_DATA_DIR", str(small_data_dir(env / "mydata")))
    code, out, err = invoke("parse", "one big pizza please")
    assert code == 0, err
    assert json.loads(out)["intent"]["name"] == "order"
    assert "training the default model" in " ".join(err.split()) and str(env / "mydata") in err.replace("\n", "")
    store = ModelStore(env / "models")
    [trained] = store.versions()
    assert trained.active and trained.metadata["labels"] == {"greet": 6, "order/pizza": 6, "weather": 6}

    code, out, err = invoke("parse", "will it rain tomorrow")  # the second time it just answers
    assert code == 0 and json.loads(out)["model"] == trained.version and err == ""
    assert len(store.versions()) == 1


def test_parse_without_bootstrap_still_asks_for_an_active_model(env: Path) -> None:
    code, out, err = invoke("parse", "hello")
    assert code == 2 and "no active model" in err and out == ""
    assert not (env / "models").exists() or ModelStore(env / "models").versions() == []


def test_nlu_commands_read_the_var_dir_and_data_dir_from_dotenv_like_serve(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOPY_MODEL_DIR")
    data = small_data_dir(env / "mydata")
    (env / ".env").write_text(f"GOPY_VAR_DIR=state\nGOPY_DATA_DIR={data}\n", encoding="utf-8")
    code, out, err = invoke("train")  # no --data: the training folders of GOPY_DATA_DIR
    assert code == 0, err
    version = out.strip()
    assert (env / "state" / "models" / version / "model.npz").is_file()
    assert get_settings().model_dir == env / "state" / "models"  # the directory `gopy serve` uses
    assert invoke("activate", version)[0] == 0
    code, out, _ = invoke("models")
    assert code == 0 and f"active: {version}" in out

    monkeypatch.chdir(env / "mydata")  # elsewhere (no .env there): another store, explicitly named
    monkeypatch.setenv("GOPY_VAR_DIR", str(env / "state"))
    code, out, _ = invoke("models")
    assert f"active: {version}" in out


def test_evaluate_defaults_to_the_held_out_folder_of_the_data_dir(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOPY_DATA_DIR", str(small_data_dir(env / "mydata")))
    version = run("train")[1].strip().splitlines()[-1]
    code, out, err = invoke("evaluate", "--model", version, "--json", "--report-dir", "rep")
    assert code == 0, err
    assert json.loads(out)["labels"]["greet"]["support"] == 6


def test_the_nlu_app_outside_gopy_says_how_to_run_it(env: Path) -> None:
    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 2 and "gopy nlu" in result.output


def test_two_processes_bootstrapping_at_once_train_one_model(env: Path) -> None:
    data = small_data_dir(env / "mydata")
    store = ModelStore(env / "models")
    trained: list[str | None] = []
    workers = [threading.Thread(target=lambda: trained.append(ensure_active_model(store, data))) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(store.versions()) == 1 and trained.count(None) == 2 and store.active_version() in trained


# -- library versions ---------------------------------------------------------------------------------------------
def test_metadata_records_library_versions_and_loading_warns_on_a_mismatch(
    env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = ModelStore(env / "models").save(*train(load_examples([env / "train.yml"])))
    meta = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
    assert meta["libraries"] == library_versions()
    assert {"python", "scikit-learn", "numpy", "underthesea"} <= set(meta["libraries"])
    with caplog.at_level(logging.WARNING, logger="nlu.store"):
        load_model(path)
    assert caplog.records == []  # trained here: nothing to say

    meta["libraries"]["scikit-learn"] = "0.24.2"
    (path / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="nlu.store"):
        classifier, _ = load_model(path)  # still loads: a warning, not a refusal
    [record] = caplog.records
    assert "scikit-learn 0.24.2 → " in record.getMessage() and "gopy nlu train" in record.getMessage()
    assert classifier.predict("one big pizza please")


def test_a_model_without_recorded_versions_warns(env: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = ModelStore(env / "models").save(*train(load_examples([env / "train.yml"])))
    meta = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
    del meta["libraries"]
    (path / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="nlu.store"):
        load_model(path)
    assert "not recorded" in caplog.text


# -- model format ------------------------------------------------------------------------------------------------
TEXTS = ["one big pizza please", "hello there", "will it rain", "xin chao", "", "?!"]


def test_training_writes_arrays_that_load_without_scikit_learn(env: Path) -> None:
    code, out, err = invoke("train", "--data", str(env / "train.yml"))
    assert code == 0, err
    path = env / "models" / out.strip()
    assert (path / "model.npz").is_file() and not (path / "model.joblib").exists()
    with np.load(path / "model.npz", allow_pickle=False) as stored:  # plain arrays: nothing pickled
        assert int(stored["format"]) == linear.FORMAT
    import subprocess
    import sys

    script = (
        "import sys; from pathlib import Path; from nlu.store import load_model; "
        f"c, _ = load_model(Path({str(path)!r})); print(c.predict('one big pizza please').intent); "
        "print(sorted(m for m in ('sklearn', 'scipy') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:2] == ["order", "[]"], done.stderr


def test_a_model_of_the_format_before_still_loads_and_answers_the_same(
    env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Models saved before the arrays format (a pickled scikit-learn pipeline in model.joblib) keep working."""
    import joblib

    store = ModelStore(env / "models")
    classifier, meta = train(load_examples([env / "train.yml"]))
    old = store.root / meta["version"]
    old.mkdir(parents=True)
    legacy = IntentClassifier(classifier.c)
    legacy.pipeline, legacy.labels = classifier.pipeline, classifier.labels
    joblib.dump({"classifier": legacy, "version": meta["version"]}, old / "model.joblib")
    (old / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    assert store.activate("latest") == meta["version"]  # activation loads it: accepted
    with caplog.at_level(logging.WARNING, logger="nlu.store"):
        loaded, _ = load_model(store.active_path())
    assert "format before" in caplog.text and "gopy nlu train" in caplog.text
    assert np.array_equal(loaded.probabilities(TEXTS), classifier.probabilities(TEXTS))
    assert np.array_equal(loaded.probabilities(TEXTS), classifier.pipeline.predict_proba([views(t) for t in TEXTS]))
    code, out, err = invoke("parse", "one big pizza please")
    assert code == 0 and json.loads(out)["intent"]["name"] == "order", err


def test_a_model_file_of_another_format_is_refused_with_the_advice_to_retrain(env: Path) -> None:
    path = ModelStore(env / "models").save(*train(load_examples([env / "train.yml"])))
    with np.load(path / "model.npz", allow_pickle=False) as stored:
        arrays = dict(stored)
    arrays["format"] = np.array(linear.FORMAT + 1)
    with open(path / "model.npz", "wb") as handle:
        np.savez(handle, **arrays)
    with pytest.raises(ModelStoreError, match="retrain it with `gopy nlu train`"):
        load_model(path)
    del arrays["coef"]
    arrays["format"] = np.array(linear.FORMAT)
    with open(path / "model.npz", "wb") as handle:
        np.savez(handle, **arrays)
    with pytest.raises(ModelStoreError, match="incomplete model file"):
        load_model(path)
    (path / "model.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelStoreError, match="cannot load model"):
        load_model(path)
