"""First start without a model: the server trains it in the background and the chat answers a polite "starting up"
text meanwhile (the message is answered with that text, not queued); once the model is ready the chat answers
normally. Nothing waits on the training inline."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import nlu.store
from backend.app import create_app
from backend.config import Settings
from backend.container import Container
from nlu.store import ModelStore

SMALL = """version: "3.1"
nlu:
- intent: chao_hoi
  examples: |
    - xin chào
    - chào bạn
    - alo
    - chào Mặt trận
- intent: gui_phan_anh/ha_tang
  examples: |
    - đường hỏng nặng
    - mất điện cả ngày
    - cống tắc ngập nước
    - đèn đường tắt
"""


class GatedTraining:
    """Stands in for the (long) training: signals when it starts, trains on a small file once released."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.started = threading.Event()
        self.release = threading.Event()
        self.real = nlu.store.train_and_save

    def __call__(self, paths: list[Path], store: ModelStore, out: Path | None = None) -> str:
        self.started.set()
        assert self.release.wait(60), "the test never released the training"
        return self.real([self.data], store, out)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, Container, GatedTraining]]:
    (tmp_path / "small.yml").write_text(SMALL, encoding="utf-8")
    gate = GatedTraining(tmp_path / "small.yml")
    monkeypatch.setattr(nlu.store, "train_and_save", gate)
    settings = Settings(
        _env_file=None,
        environment="test",
        var_dir=tmp_path / "var",  # type: ignore[call-arg]
        redis_url="",
        run_workers=False,
    )
    container = Container(settings)
    with TestClient(create_app(settings, container)) as client:
        yield client, container, gate
    gate.release.set()
    container.close()


def say(client: TestClient, text: str) -> list[dict[str, Any]]:
    r = client.post("/api/webchat/messages", json={"session": "first-start-01", "text": text})
    assert r.status_code == 200, r.text
    replies: list[dict[str, Any]] = r.json()["replies"]
    return replies


def test_chat_says_starting_up_while_the_first_model_trains_then_answers(
    server: tuple[TestClient, Container, GatedTraining],
) -> None:
    client, container, gate = server
    assert ModelStore(container.settings.model_dir).active_version() is None
    warm_up = container.parser.warm_up_in_background()
    assert gate.started.wait(30)

    starting = container.texts.render("starting_up")
    assert [r["text"] for r in say(client, "xin chào")] == [starting]  # at once, not after the training
    assert [r["text"] for r in say(client, "đường hỏng nặng ở phường Hoàn Kiếm")] == [starting]
    assert container.parser.starting_up

    gate.release.set()
    warm_up.join(60)
    assert not warm_up.is_alive() and not container.parser.starting_up
    store = ModelStore(container.settings.model_dir)
    assert store.active_version() is not None and store.versions()[0].active  # trained where the settings say

    replies = [r["text"] for r in say(client, "xin chào")]
    assert replies and starting not in replies
    assert "Mặt trận" in replies[0]


def test_without_a_warm_up_the_model_loads_on_first_use_as_before(
    server: tuple[TestClient, Container, GatedTraining],
) -> None:
    """Processes that do not warm up (tests, `gopy chat`, `gopy worker`) keep loading the model when first needed."""
    client, container, gate = server
    gate.release.set()
    assert not container.parser.starting_up
    replies = [r["text"] for r in say(client, "xin chào")]
    assert container.texts.render("starting_up") not in replies and "Mặt trận" in replies[0]
