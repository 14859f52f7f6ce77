"""The model store: versioned model directories plus an ``ACTIVE`` pointer switched atomically."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nlu.rasa_data import Example, load_examples
from nlu.training_data import training_paths

if TYPE_CHECKING:  # numpy loads with the first model, not with every ``gopy`` command
    from nlu.classifier import IntentClassifier

MODEL_FILE = "model.npz"  # the classifier's arrays (nlu.linear): loads without scikit-learn
LEGACY_MODEL_FILE = "model.joblib"  # models written before: a pickled scikit-learn pipeline
META_FILE = "metadata.json"
ACTIVE_FILE = "ACTIVE"
BOOTSTRAP_LOCK = ".bootstrap.lock"
# The libraries a saved model depends on (pickled scikit-learn/numpy objects, underthesea's word segmentation).
LIBRARIES = ("scikit-learn", "numpy", "scipy", "underthesea")

log = logging.getLogger(__name__)


class ModelStoreError(RuntimeError):
    pass


def has_model(path: Path) -> bool:
    """Whether ``path`` holds a saved model (this format or the one before)."""
    return (path / MODEL_FILE).is_file() or (path / LEGACY_MODEL_FILE).is_file()


@dataclass(frozen=True)
class ModelInfo:
    version: str
    path: Path
    metadata: dict[str, Any]
    active: bool


class ModelStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path(self, version: str) -> Path:
        if not version or "/" in version or version.startswith("."):
            raise ModelStoreError(f"invalid model version {version!r}")
        return self.root / version

    def active_version(self) -> str | None:
        try:
            version = (self.root / ACTIVE_FILE).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return version or None

    def active_path(self) -> Path:
        version = self.active_version()
        if version is None:
            raise ModelStoreError(f"no active model in {self.root}: train one (gopy nlu train) and activate it")
        return self.path(version)

    def versions(self) -> list[ModelInfo]:
        active = self.active_version()
        infos = []
        if self.root.exists():
            for d in sorted(p for p in self.root.iterdir() if (p / META_FILE).exists()):
                meta = json.loads((d / META_FILE).read_text(encoding="utf-8"))
                infos.append(ModelInfo(d.name, d, meta, d.name == active))
        return infos

    def resolve(self, ref: str) -> Path:
        """A version name, ``latest``, ``active`` or a model directory path."""
        if ref == "active":
            return self.active_path()
        if ref == "latest":
            versions = self.versions()
            if not versions:
                raise ModelStoreError(f"no models in {self.root}")
            return versions[-1].path
        candidate = Path(ref)
        if has_model(candidate):
            return candidate
        path = self.path(ref)
        if not has_model(path):
            raise ModelStoreError(f"unknown model {ref!r} (see gopy nlu models)")
        return path

    def version_in_store(self, ref: str) -> str:
        """The version a reference to activate names: a version, ``latest``, ``active``, or a version directory
        of this store given as a path. Anything else (a path outside the store, ``..``, a symlink leading out,
        a version that does not exist) is refused with :class:`ModelStoreError`."""
        if ref in ("latest", "active"):
            return self.resolve(ref).name
        root = self.root.resolve()
        if "/" in ref or "\\" in ref or Path(ref).is_absolute():
            candidate = Path(ref).resolve()
            if candidate.parent != root:
                raise ModelStoreError(
                    f"{ref!r} is outside the model store {self.root}: activate takes a version of the store "
                    "(see gopy nlu models); train into the store with gopy nlu train (without --out)"
                )
            ref = candidate.name
        path = self.path(ref)
        if path.is_symlink() or path.resolve().parent != root:
            raise ModelStoreError(f"{ref!r} leads outside the model store {self.root}: refused")
        if not has_model(path):
            raise ModelStoreError(f"unknown model {ref!r} in the model store {self.root} (see gopy nlu models)")
        return ref

    def activate(self, ref: str) -> str:
        """Point ``ACTIVE`` at a version of this store (atomically); the active model is untouched on refusal."""
        path = self.path(self.version_in_store(ref))
        load_model(path)  # refuse a corrupt model: the active one stays
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{ACTIVE_FILE}.{os.getpid()}.tmp"
        tmp.write_text(path.name, encoding="utf-8")
        os.replace(tmp, self.root / ACTIVE_FILE)
        return path.name

    def save(self, classifier: IntentClassifier, metadata: dict[str, Any], out: Path | None = None) -> Path:
        version = metadata["version"]
        target = out or self.path(version)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        if classifier.model is None:
            raise ModelStoreError("the classifier is not trained")
        from nlu import linear

        linear.save(classifier.model, tmp / MODEL_FILE)
        (tmp / META_FILE).write_text(json.dumps(metadata, ensure_ascii=False, indent=2), encoding="utf-8")
        if target.exists():
            raise ModelStoreError(f"{target} already exists")
        os.replace(tmp, target)
        return target


def library_versions() -> dict[str, str]:
    """The versions of Python and of the libraries a model depends on, as recorded in its metadata."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def version_mismatches(metadata: dict[str, Any]) -> list[str]:
    """How the running libraries differ from those the model was trained with ("name trained-with → running").

    Python counts by major.minor; the libraries by exact version (a pickled scikit-learn model is only guaranteed to
    load and predict the same with the version that wrote it). A model from before versions were recorded counts as
    one mismatch."""
    trained = metadata.get("libraries")
    if not isinstance(trained, dict):
        return ["library versions not recorded (a model trained by an older gopy)"]
    running = library_versions()
    problems = []
    for name, now in running.items():
        then = str(trained.get(name, "unknown"))
        same = then.split(".")[:2] == now.split(".")[:2] if name == "python" else then == now
        if not same:
            problems.append(f"{name} {then} → {now}")
    return problems


def load_model(path: Path) -> tuple[IntentClassifier, dict[str, Any]]:
    """Load a saved model; a warning is logged when it was trained with other library versions than the running
    ones (retrain with `gopy nlu train` and activate the new version).

    A model of the format before (``model.joblib``, a pickled scikit-learn pipeline) still loads, through
    scikit-learn (slower: retraining writes the current format)."""
    from nlu import linear
    from nlu.classifier import IntentClassifier

    try:
        meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
        mismatches = version_mismatches(meta)
        if mismatches:
            log.warning(
                "NLU model %s was trained with other library versions than this installation (%s): it may fail to "
                "load or answer differently; retrain it with `gopy nlu train` and activate the new version",
                meta.get("version", path.name),
                "; ".join(mismatches),
            )
        if not (path / MODEL_FILE).is_file() and (path / LEGACY_MODEL_FILE).is_file():
            return _load_legacy(path), meta
        model = linear.load(path / MODEL_FILE)
    except linear.LinearModelError as exc:
        raise ModelStoreError(
            f"cannot load model from {path}: {exc}; retrain it with `gopy nlu train` and activate the new version"
        ) from exc
    except (OSError, ValueError, EOFError, KeyError, AttributeError, ImportError) as exc:
        raise ModelStoreError(f"cannot load model from {path}: {exc}") from exc
    return IntentClassifier(model=model), meta


def _load_legacy(path: Path) -> IntentClassifier:
    """A model saved as a pickled scikit-learn pipeline (``model.joblib``), turned into arrays."""
    import joblib

    from nlu.classifier import IntentClassifier
    from nlu.linear import LinearModel

    log.warning(
        "NLU model %s is in the format before (%s): it loads through scikit-learn, slowly; retrain it with "
        "`gopy nlu train` and activate the new version",
        path.name,
        LEGACY_MODEL_FILE,
    )
    bundle = joblib.load(path / LEGACY_MODEL_FILE)  # only files this store wrote
    old = bundle.get("classifier") if isinstance(bundle, dict) else None
    if not isinstance(old, IntentClassifier) or getattr(old, "pipeline", None) is None:
        raise ModelStoreError(f"{path} does not hold a gopy model")
    return IntentClassifier(old.c, LinearModel.from_pipeline(old.pipeline))


def data_hash(examples: list[Example]) -> str:
    h = hashlib.sha256()
    for ex in sorted(examples, key=lambda e: (e.label, e.text)):
        h.update(f"{ex.label}\t{ex.text}\n".encode())
    return h.hexdigest()


def train(examples: list[Example]) -> tuple[IntentClassifier, dict[str, Any]]:
    from nlu.classifier import IntentClassifier

    started = time.perf_counter()
    classifier = IntentClassifier().fit([e.text for e in examples], [e.label for e in examples])
    seconds = time.perf_counter() - started
    digest = data_hash(examples)
    now = datetime.now(UTC)
    version = f"{now:%Y%m%d-%H%M%S}-{digest[:6]}"
    metadata = {
        "version": version,
        "created_at": now.isoformat(),
        "train_seconds": round(seconds, 2),
        "examples": len(examples),
        "labels": dict(sorted(Counter(e.label for e in examples).items())),
        "data_sha256": digest,
        "model": "tfidf(char 2-5 + words 1-2 folded + segmented words) + logistic regression",
        "libraries": library_versions(),
    }
    return classifier, metadata


def train_and_save(data_paths: list[Path], store: ModelStore, out: Path | None = None) -> str:
    """Train on the given Rasa files/directories and write a new version; never activates it."""
    classifier, metadata = train(load_examples(data_paths))
    store.save(classifier, metadata, out)
    return str(metadata["version"])


@contextmanager
def _bootstrap_lock(root: Path) -> Iterator[None]:
    """One process at a time trains the first model of a store (others wait, then find it active)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / BOOTSTRAP_LOCK, "a+b") as handle:
        if sys.platform != "win32":
            import fcntl

            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def ensure_active_model(store: ModelStore, data_dir: Path, announce: Callable[[str], None] | None = None) -> str | None:
    """Train and activate a first model from the data directory's training data when the store has no active
    model. Returns the version trained, or None when one was already active. ``announce`` is told before the
    training starts (the CLI says so on stderr, the server logs it)."""
    if store.active_version() is not None:
        return None
    with _bootstrap_lock(store.root):
        if store.active_version() is not None:  # another process trained it while we waited
            return None
        paths = training_paths(data_dir)
        if announce is not None:
            announce(
                f"no active NLU model in {store.root}: training the default model from {data_dir / 'nlu'} "
                "(once, about a minute)"
            )
        version = train_and_save(paths, store)
        store.activate(version)
        return version
