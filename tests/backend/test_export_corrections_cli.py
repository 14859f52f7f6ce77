"""`gopy admin export-corrections`: exports accumulate in the training file and are idempotent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from backend.cli import app as cli
from backend.config import get_settings
from backend.db.migrate import upgrade
from backend.db.models import NluCorrection
from backend.services import nlu_review
from nlu.rasa_data import load_file


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    monkeypatch.setenv("GOPY_DATABASE_URL", url)
    monkeypatch.setenv("GOPY_REDIS_URL", "")
    monkeypatch.setenv("GOPY_MODEL_DIR", str(tmp_path / "models"))
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def _correct(
    url: str, text: str, corrected: str, *, review: str | None = "accepted", label: str | None = None, by: str = "xa.hk"
) -> None:
    """One official's correction; ``review``: what an admin decided (None: still pending)."""
    engine = create_engine(url)
    with Session(engine) as s:
        row = nlu_review.record(s, by, kind="category", text=text, predicted="gui_phan_anh/khac", corrected=corrected)
        if review is not None:
            nlu_review.decide(s, row, "quan.tri", review, (label or corrected) if review == "accepted" else None)
        s.commit()
    engine.dispose()


def _export(out: Path, *extra: str) -> str:
    result = CliRunner().invoke(cli, ["admin", "export-corrections", "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return result.output


def _examples(out: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for ex in load_file(out):
        found.setdefault(ex.label, []).append(ex.text)
    return found


def test_a_second_export_keeps_the_first_batch(db: str, tmp_path: Path) -> None:
    out = tmp_path / "corrections" / "corrections.yml"
    _correct(db, "Bãi rác tự phát bốc mùi ở Hoàn Kiếm", "gui_phan_anh/moi_truong")
    _export(out)
    _correct(db, "Đèn đường hỏng cả tháng nay", "gui_phan_anh/ha_tang")
    _correct(db, "Khói nhà máy gạch làm cả xóm ho", "gui_phan_anh/moi_truong")
    said = _export(out)
    assert _examples(out) == {
        "gui_phan_anh/moi_truong": ["Bãi rác tự phát bốc mùi ở Hoàn Kiếm", "Khói nhà máy gạch làm cả xóm ho"],
        "gui_phan_anh/ha_tang": ["Đèn đường hỏng cả tháng nay"],
    }
    assert yaml.safe_load(out.read_text(encoding="utf-8"))["version"] == "3.1"
    assert "added 2 examples" in said


def test_an_empty_export_leaves_the_file_alone(db: str, tmp_path: Path) -> None:
    out = tmp_path / "corrections.yml"
    said = _export(out)
    assert not out.exists()  # no file with "nlu: []"
    assert "no new corrections" in said
    _correct(db, "Đèn đường hỏng cả tháng nay", "gui_phan_anh/ha_tang")
    _export(out)
    before = out.read_bytes()
    said = _export(out)
    assert out.read_bytes() == before
    assert "no new corrections" in said


def test_exporting_everything_again_repeats_nothing(db: str, tmp_path: Path) -> None:
    out = tmp_path / "corrections.yml"
    _correct(db, "Đèn đường hỏng cả tháng nay", "gui_phan_anh/ha_tang")
    _export(out)
    before = out.read_bytes()
    said = _export(out, "--all")
    assert out.read_bytes() == before
    assert "no new corrections" in said
    out.unlink()  # a deleted file is rebuilt from every correction
    _export(out, "--all")
    assert _examples(out) == {"gui_phan_anh/ha_tang": ["Đèn đường hỏng cả tháng nay"]}


def test_the_administrators_edits_stay_and_a_later_correction_moves_the_example(db: str, tmp_path: Path) -> None:
    out = tmp_path / "corrections.yml"
    out.write_text(
        'version: "3.1"\nnlu:\n- intent: gui_phan_anh/ha_tang\n  examples: |\n'
        "    - Cầu [Long Biên](commune) xuống cấp\n    - Nước máy có mùi lạ\n",
        encoding="utf-8",
    )
    _correct(db, "Nước máy có mùi lạ", "gui_phan_anh/y_te")
    said = _export(out)
    assert _examples(out) == {
        "gui_phan_anh/ha_tang": ["Cầu Long Biên xuống cấp"],
        "gui_phan_anh/y_te": ["Nước máy có mùi lạ"],
    }
    assert "[Long Biên](commune)" in out.read_text(encoding="utf-8")  # annotations kept
    assert "added 1 examples" in said


def test_a_broken_file_is_not_overwritten(db: str, tmp_path: Path) -> None:
    out = tmp_path / "corrections.yml"
    out.write_text("nlu: [unclosed\n", encoding="utf-8")
    _correct(db, "Đèn đường hỏng cả tháng nay", "gui_phan_anh/ha_tang")
    result = CliRunner().invoke(cli, ["admin", "export-corrections", "--out", str(out)])
    assert out.read_text(encoding="utf-8") == "nlu: [unclosed\n"
    assert result.exit_code == 2 and "cannot read" in result.output
    out.unlink()
    _export(out)  # the correction was not marked exported by the failed run
    assert _examples(out) == {"gui_phan_anh/ha_tang": ["Đèn đường hỏng cả tháng nay"]}


def test_only_accepted_corrections_are_exported_with_their_reviewed_label(db: str, tmp_path: Path) -> None:
    out = tmp_path / "corrections.yml"
    _correct(db, "Đèn đường hỏng cả tháng nay", "gui_phan_anh/ha_tang", review=None)  # waits for review
    _correct(db, "Nước máy có mùi lạ", "gui_phan_anh/ha_tang", review="rejected")
    _correct(db, "Khói nhà máy gạch làm cả xóm ho", "gui_phan_anh/ha_tang", label="gui_phan_anh/moi_truong")
    said = _export(out)
    assert _examples(out) == {"gui_phan_anh/moi_truong": ["Khói nhà máy gạch làm cả xóm ho"]}  # the edited label
    assert "added 1 examples" in said
    first = out.read_bytes()

    # two more officials agree with the first one: the majority accepts it, and the next export adds it
    _correct(db, "Đèn đường hỏng cả tháng nay", "gui_phan_anh/ha_tang", review=None, by="xa.cn")
    _export(out)
    assert _examples(out) == {
        "gui_phan_anh/moi_truong": ["Khói nhà máy gạch làm cả xóm ho"],
        "gui_phan_anh/ha_tang": ["Đèn đường hỏng cả tháng nay"],
    }
    assert out.read_bytes().startswith(first[: first.index(b"ho\n")])  # the first batch is still there, unchanged
    second = out.read_bytes()
    _export(out)
    _export(out, "--all")
    assert out.read_bytes() == second  # the same input twice: the same file
    engine = create_engine(db)
    with Session(engine) as s:
        pending = s.scalars(select(NluCorrection).where(NluCorrection.status != "accepted")).all()
        assert [r.exported for r in pending] == [False]  # the rejected one is never exported
    engine.dispose()
