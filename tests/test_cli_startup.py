"""``gopy nlu parse`` starts light: it imports neither scikit-learn, the web application, the database models nor the
channel adapters, whose commands are built only when asked for (backend/channels_cli.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend.cli import app
from backend.config import get_settings
from nlu.rasa_data import load_examples
from nlu.store import ModelStore, train
from tests.nlu.test_cli_and_store import DATA

HEAVY = ("sklearn", "scipy", "fastapi", "sqlalchemy", "telegram", "httpx", "redis", "bot.telegram", "bot.zalo")
PROBE = """
import json, sys
sys.argv = ["gopy", "nlu", "parse", "--model", sys.argv[1], "one big pizza please"]
from backend.cli import main
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
print(json.dumps(sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in HEAVY))))
"""


@pytest.fixture
def model(tmp_path: Path) -> Path:
    (tmp_path / "train.yml").write_text(DATA, encoding="utf-8")
    return ModelStore(tmp_path / "models").save(*train(load_examples([tmp_path / "train.yml"])))


def test_nlu_parse_imports_no_web_database_channel_or_scikit_learn_module(model: Path, tmp_path: Path) -> None:
    env = {**os.environ, "GOPY_MODEL_DIR": str(model.parent), "GOPY_BOOTSTRAP_MODEL": "false"}
    done = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{PROBE}", str(model)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    parsed, loaded = done.stdout.strip().split("\n")
    assert json.loads(parsed)["intent"]["name"] == "order"
    assert json.loads(loaded) == []


def test_channel_commands_are_still_listed_and_run() -> None:
    get_settings.cache_clear()
    listed = CliRunner().invoke(app, ["--help"])
    assert listed.exit_code == 0
    for name in ("nlu", "telegram", "zalo", "zalobot", "report"):
        assert f" {name} " in listed.output
    found = CliRunner().invoke(app, ["zalo", "--help"])
    assert found.exit_code == 0 and "check" in found.output
    missing = CliRunner().invoke(app, ["no-such-command"])
    assert missing.exit_code == 2 and "No such command" in missing.output
