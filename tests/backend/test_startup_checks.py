"""Malformed routing rules or reply templates stop the start-up at once, naming the file and the line."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from backend.app import create_app
from backend.cli import app as cli
from backend.config import PROJECT_ROOT, Settings, get_settings
from backend.container import Container
from backend.datafiles import DataFileError, check_data_files


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A copy of the project's data files (without the large NLU data) that a test may break."""
    target = tmp_path / "data"
    target.mkdir()
    shutil.copy(PROJECT_ROOT / "data" / "routing.yml", target / "routing.yml")
    shutil.copytree(PROJECT_ROOT / "data" / "templates", target / "templates")
    return target


def _replace(path: Path, old: str, new: str) -> int:
    """Replace ``old`` once; returns the (1-based) line where it was."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return line


def _settings(tmp_path: Path, data_dir: Path, trained: Path | None = None, **kw: Any) -> Settings:
    return Settings(
        _env_file=None,
        environment="test",
        database_url=f"sqlite:///{tmp_path / 'g.db'}",
        redis_url="",
        data_dir=data_dir,
        model_dir=trained or tmp_path / "models",
        bootstrap_model=False,
        **kw,
    )


def test_the_project_data_files_are_valid() -> None:
    check_data_files(PROJECT_ROOT / "data")


def test_a_bad_routing_rule_stops_the_app_start_naming_file_and_line(tmp_path: Path, data_dir: Path) -> None:
    routing = data_dir / "routing.yml"
    line = _replace(routing, "route: central", "route: nowhere")
    settings = _settings(tmp_path, data_dir, run_workers=False)
    container = Container(settings)
    with pytest.raises(DataFileError) as err, TestClient(create_app(settings, container)):
        pass
    assert f"{routing} line {line - 2}" in str(err.value)  # the rule starts two lines above its route
    container.close()


def test_broken_yaml_in_templates_stops_the_app_start(tmp_path: Path, data_dir: Path) -> None:
    templates = data_dir / "templates" / "vi.yml"
    line = _replace(templates, 'consent_button_yes: "Đồng ý"', 'consent_button_yes: "Đồng ý')
    settings = _settings(tmp_path, data_dir, run_workers=False)
    container = Container(settings)
    with pytest.raises(DataFileError) as err, TestClient(create_app(settings, container)):
        pass
    message = str(err.value)
    assert str(templates) in message and "invalid YAML" in message
    assert f"line {line}" in message or f"line {line + 1}" in message  # the scanner stops at or after the quote
    container.close()


def test_a_template_with_a_wrong_placeholder_is_named_with_its_line(data_dir: Path) -> None:
    templates = data_dir / "templates" / "vi.yml"
    line = _replace(templates, 'star_button: "{n} sao"', 'star_button: "{sao} sao"')
    with pytest.raises(DataFileError) as err:
        check_data_files(data_dir)
    assert f"{templates} line {line}: template 'star_button'" in str(err.value)


def test_a_bad_deadline_is_named_with_its_line(data_dir: Path) -> None:
    routing = data_dir / "routing.yml"
    text = routing.read_text(encoding="utf-8")
    sla_line = text.splitlines().index("sla:") + 1
    routing.write_text(text.replace("sla:\n", "sla:\n  bogus: 1\n", 1), encoding="utf-8")
    with pytest.raises(DataFileError) as err:
        check_data_files(data_dir)
    assert f"{routing} line {sla_line}" in str(err.value)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data_dir: Path) -> Iterator[list[Any]]:
    monkeypatch.setenv("GOPY_DATABASE_URL", f"sqlite:///{tmp_path / 'g.db'}")
    monkeypatch.setenv("GOPY_REDIS_URL", "")
    monkeypatch.setenv("GOPY_DATA_DIR", str(data_dir))
    monkeypatch.setenv("GOPY_MODEL_DIR", str(tmp_path / "models"))
    served: list[Any] = []
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append(app))
    get_settings.cache_clear()
    yield served
    get_settings.cache_clear()


def test_gopy_serve_refuses_to_start_with_a_malformed_routing_file(env: list[Any], data_dir: Path) -> None:
    routing = data_dir / "routing.yml"
    line = _replace(routing, "rules:\n", "rules:\n  - name: [unclosed\n")
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code != 0
    assert env == []  # the server never started
    output = " ".join(result.output.split())  # rich wraps long lines
    assert f"routing.yml line {line + 2}, column 9: invalid YAML" in output, output  # where the parser gave up
    assert f"flow sequence that starts at line {line + 1}" in output, output  # and where the list began


def test_gopy_serve_starts_with_valid_files(env: list[Any]) -> None:
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 0, result.output
    assert len(env) == 1


def test_gopy_worker_refuses_to_start_with_a_malformed_routing_file(env: list[Any], data_dir: Path) -> None:
    """The scaled-out worker checks the same files before it starts, with a clear message and no traceback."""
    routing = data_dir / "routing.yml"
    line = _replace(routing, "rules:\n", "rules:\n  - name: [unclosed\n")
    result = CliRunner().invoke(cli, ["worker"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    output = " ".join(result.output.split())
    assert f"routing.yml line {line + 2}" in output, output
    assert "Traceback" not in output
