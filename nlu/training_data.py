"""Where the NLU training and held-out data live inside a data directory: the one place that says so.

``gopy serve`` (first start), ``gopy nlu train``/``parse`` and the tests all train on :func:`training_paths`; the
held-out folder is never trained on.
"""

from __future__ import annotations

from pathlib import Path

NLU_FOLDER = "nlu"
TRAINING_FOLDERS = ("categories", "intents", "seed", "corrections", "realworld")
HELDOUT_FOLDER = "test"


def training_paths(data_dir: Path) -> list[Path]:
    """The training folders of ``data_dir`` that exist (``corrections/`` is empty until a first export)."""
    root = data_dir / NLU_FOLDER
    return [root / name for name in TRAINING_FOLDERS if (root / name).is_dir()]


def heldout_path(data_dir: Path) -> Path:
    """The held-out test folder: scored by the benchmark and the tests, never trained on."""
    return data_dir / NLU_FOLDER / HELDOUT_FOLDER
