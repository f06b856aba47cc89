"""Model bundles: a directory of native, pickle-free model files plus `metadata.json`.

Native formats (LightGBM text, XGBoost JSON, a torch state_dict loaded with weights_only=True) cannot run code
when loaded, unlike pickles, and stay readable across library upgrades.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from dart_assets.ml.conformal import calibrate
from dart_assets.ml.dataset import FeatureTransform

METADATA_FILE = "metadata.json"
FAMILY_MODULES = {"lgbm": "dart_assets.ml.lgbm", "xgb": "dart_assets.ml.xgb", "lstm": "dart_assets.ml.lstm"}
FAMILY_CLASSES = {"lgbm": "LgbmModel", "xgb": "XgbModel", "lstm": "LstmModel"}
LIBRARIES = ("lightgbm", "xgboost", "torch", "pandas", "numpy", "scikit-learn", "mlflow")


class FamilyModel(Protocol):
    """What every family's model object offers (LgbmModel, XgbModel, LstmModel)."""

    transform: FeatureTransform

    @property
    def native(self) -> Any: ...

    def native_input(self, frame: pd.DataFrame) -> Any: ...

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame: ...

    def save(self, directory: Path) -> None: ...


@dataclass
class LoadedModel:
    """A bundle loaded back: `predict(frame)` gives p10/p50/p90 aligned to `frame`'s index."""

    metadata: dict[str, Any]
    model: FamilyModel

    @property
    def family(self) -> str:
        return self.metadata["family"]

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """For the LSTM, rows without a full look-back window in `frame` get NaN: pass history rows along.
        The P10-P90 band carries the validation calibration stored with the model."""
        return calibrate(self.model.predict(frame), self.metadata.get("band_shift", 0.0))


def family_module(family: str):
    if family not in FAMILY_MODULES:
        raise ValueError(f"unknown model family {family!r}; expected one of {sorted(FAMILY_MODULES)}")
    return importlib.import_module(FAMILY_MODULES[family])


def save_bundle(model: FamilyModel, metadata: dict[str, Any], directory: Path) -> Path:
    """Write the model files and metadata.json into `directory` (created; existing files are overwritten)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.save(directory)
    (directory / METADATA_FILE).write_text(json.dumps(metadata, indent=2, default=str))
    return directory


def load_bundle(path: Path | str) -> LoadedModel:
    directory = Path(path)
    metadata = json.loads((directory / METADATA_FILE).read_text())
    module = family_module(metadata["family"])
    transform = FeatureTransform.from_dict(metadata["transform"])
    model_class = getattr(module, FAMILY_CLASSES[metadata["family"]])
    return LoadedModel(metadata, model_class.load(directory, transform, metadata["params"]))


# Import name -> distributions that provide it (the project installs the CPU-only XGBoost wheel).
DISTRIBUTIONS = {"xgboost": ("xgboost", "xgboost-cpu")}


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        versions[name] = None
        for distribution in DISTRIBUTIONS.get(name, (name,)):
            try:
                versions[name] = importlib.metadata.version(distribution)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
    return versions


def code_version() -> str:
    """The git commit of the working tree when available, else the installed dart-assets version."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return result.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        try:
            return f"dart-assets {importlib.metadata.version('dart-assets')}"
        except importlib.metadata.PackageNotFoundError:
            return "unknown"
