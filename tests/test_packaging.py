"""The wheel is self-contained: built from a copy of the checkout (nothing is written into it), installed into a
fresh virtual environment, it runs from an empty directory — `gopy nlu parse` trains the bundled default model on
first use, `gopy serve` (same settings, same model store) takes a citizen's report through the web chat and files a
ticket. The dependencies come from the test environment (a .pth file), so the test needs no network. And the
installs are reproducible: constraints.txt pins every dependency within pyproject's ranges."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("bot", "nlu", "handlers", "backend", "data", "pyproject.toml", "setup.py", "README.md")
CODE = re.compile(r"PA-[0-9A-Z]{4}-[0-9A-Z]{4}")
REPORT = "Đường ở phường Hoàn Kiếm, Hà Nội ngập nặng mấy hôm nay, xe máy chết máy hàng loạt"
STARTING_UP = yaml.safe_load((ROOT / "data" / "templates" / "vi.yml").read_text(encoding="utf-8"))["starting_up"]


def _checkout_state() -> dict[str, float]:
    """The checkout's top level and its build leftovers (with modification times)."""
    state = {p.name: 0.0 for p in ROOT.iterdir()}
    for leftover in ("build", "dist", *(p.name for p in ROOT.glob("*.egg-info"))):
        if (ROOT / leftover).exists():
            state[leftover] = (ROOT / leftover).stat().st_mtime
    return state


def _run(args: list[str | Path], **kw: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kw)
    assert result.returncode == 0, f"{args}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def _clean_env() -> dict[str, str]:
    """The environment without gopy settings or Python paths of the test run."""
    drop = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if not k.startswith("GOPY_") and k not in drop}


def test_constraints_pin_every_dependency_within_pyproject_ranges_with_upper_bounds() -> None:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin"
            pins[canonicalize_name(name)] = version.strip()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for line in project["dependencies"] + project["optional-dependencies"]["test"]:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not pinned in constraints.txt (regenerate it: see its header)"
        assert req.specifier.contains(pins[name], prereleases=True), f"{req.name}=={pins[name]} is outside {req}"
        assert any(s.operator in ("<", "<=", "==", "~=") for s in req.specifier), f"{req}: no upper bound"
    assert "-c constraints.txt" in (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert 'PIP_CONSTRAINT="$PWD/constraints.txt"' in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    before = _checkout_state()
    src = work / "src"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, src / name)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", work / "dist", src])
    assert _checkout_state() == before  # no build/, no egg-info written into the checkout
    [built] = (work / "dist").glob("gopy-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel installed; its dependencies are the test environment's."""
    root = tmp_path_factory.mktemp("venv") / "venv"
    _run([sys.executable, "-m", "venv", root])
    python = root / "bin" / "python"
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(purelib) / "gopy-test-dependencies.pth").write_text("\n".join(sorted(ours)) + "\n", encoding="utf-8")
    _run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", wheel], env=_clean_env())
    return root


@pytest.mark.slow
def test_the_wheel_ships_the_data_as_the_gopy_data_package(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for bundled in (
        "gopy_data/routing.yml",
        "gopy_data/templates/vi.yml",
        "gopy_data/security/common-passwords.txt",
        "gopy_data/nlu/test/heldout.yml",
        "backend/console/templates/base.html",
        "backend/webchat/chat.html",
        "backend/db/migrations/script.py.mako",
    ):
        assert bundled in names, bundled
    for folder in ("categories", "intents", "seed", "realworld"):
        assert any(n.startswith(f"gopy_data/nlu/{folder}/") and n.endswith(".yml") for n in names), folder
    # every file a page loads (the console's and the API documentation's scripts, styles and icon)
    served = [p.relative_to(ROOT).as_posix() for p in (ROOT / "backend").rglob("static/**/*") if p.is_file()]
    assert "backend/console/static/favicon.svg" in served
    assert [s for s in served if s not in names] == []
    assert not [n for n in names if "__pycache__" in n or n.startswith(("tests/", "data/"))]
    top_level = {n.split("/")[0] for n in names if not n.startswith("gopy-")}
    assert top_level == {"bot", "nlu", "handlers", "backend", "gopy_data"}


@pytest.fixture(scope="module")
def site(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty working directory: no .env, no data/, no var/."""
    return tmp_path_factory.mktemp("site")


def _gopy(venv: Path, site: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return _run([venv / "bin" / "gopy", *args], cwd=site, env=_clean_env(), timeout=timeout)


@pytest.mark.slow
def test_installed_gopy_uses_its_own_code_and_data(venv: Path, site: Path) -> None:
    code = "import backend, gopy_data, backend.config as c; print(backend.__file__); print(c.bundled_data_dir())"
    out = _run([venv / "bin" / "python", "-c", code], cwd=site, env=_clean_env()).stdout.splitlines()
    assert all(Path(line).is_relative_to(venv) for line in out), out
    assert Path(out[1]).name == "gopy_data"


@pytest.mark.slow
def test_nlu_parse_on_a_fresh_install_trains_the_default_model(venv: Path, site: Path) -> None:
    result = _gopy(venv, site, "nlu", "parse", REPORT)
    assert "training the default model" in " ".join(result.stderr.split()), result.stderr
    parsed = json.loads(result.stdout)
    assert parsed["intent"]["name"] == "gui_phan_anh" and parsed["category"]["name"] == "ha_tang"
    assert (site / "var" / "models" / "ACTIVE").is_file()  # anchored to the working directory's var/
    again = _gopy(venv, site, "nlu", "parse", "xin chào")
    assert "training" not in again.stderr and json.loads(again.stdout)["model"] == parsed["model"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(venv: Path, site: Path, tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    log = (tmp_path / "serve.log").open("w", encoding="utf-8")
    proc = subprocess.Popen(
        [str(venv / "bin" / "gopy"), "serve", "--port", str(port)],
        cwd=site,
        env=_clean_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text(encoding="utf-8")
            assert time.monotonic() < deadline, "gopy serve did not answer /healthz in time"
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _say(url: str, session: str, text: str, payload: str | None = None) -> list[dict[str, Any]]:
    """Post a web chat message; while the server is still loading the model it answers "starting up": wait, retry."""
    deadline = time.monotonic() + 120
    while True:
        r = httpx.post(
            f"{url}/api/webchat/messages",
            json={"session": session, "text": text, "payload": payload},
            headers={"X-Chat-Session": session},
            timeout=60,
        )
        if r.status_code == 429 and time.monotonic() < deadline:  # the "starting up" answers count against the
            time.sleep(min(float(r.headers.get("Retry-After", "5")), 10.0))  # session's 20 per minute: wait, retry
            continue
        assert r.status_code == 200, r.text
        replies: list[dict[str, Any]] = r.json()["replies"]
        if [m["text"] for m in replies] != [STARTING_UP]:
            return replies
        assert time.monotonic() < deadline, "still starting up"
        time.sleep(0.5)


@pytest.mark.slow
def test_serve_from_the_wheel_files_a_ticket_through_the_web_chat(venv: Path, site: Path, served: str) -> None:
    session = "wheel-test-0001"
    replies = _say(served, session, "xin chào")
    sent = False
    for _ in range(12):
        codes = [m.group(0) for r in replies if (m := CODE.search(r["text"]))]
        if codes:
            break
        payloads = [b["payload"] for b in replies[-1]["buttons"]] if replies else []
        choice = next(
            (p for want in ("consent:named", "confirm:send", "category:ha_tang") for p in payloads if p == want),
            next((p for p in payloads if p.startswith(("commune:", "category:"))), None),
        )
        if choice is not None:
            replies = _say(served, session, choice, choice)
        elif not sent:
            replies, sent = _say(served, session, REPORT), True
        else:
            pytest.fail(f"the chat asked something unexpected: {replies}")
    assert codes, replies
    assert any("Hoàn Kiếm" in r["text"] for r in replies), replies

    active = (site / "var" / "models" / "ACTIVE").read_text(encoding="utf-8").strip()
    assert f"active: {active}" in _gopy(venv, site, "nlu", "models").stdout
    # the server used the model `gopy nlu parse` had trained into the same store: it trained none of its own
    versions = [p for p in (site / "var" / "models").iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(versions) == 1  # (".cache" holds the NLU's cached indexes, nlu/cache.py: not a model)
    assert (site / "var" / "gopy.db").is_file()
    assert sorted(p.name for p in site.iterdir()) == ["var"]  # nothing else written into the working directory
