"""Model bundles: a directory of native, pickle-free model files plus `metadata.json`.

Native formats (LightGBM text, XGBoost JSON, a torch state_dict loaded with weights_only=True) cannot run code
when loaded, unlike pickles, and stay readable across library upgrades.
"""

from __future__ import annotations

import importlib.metadata
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from dart_assets.ml import families
from dart_assets.ml.dataset import FeatureTransform
from dart_assets.ml.family import ModelFamily
from dart_assets.ml.metrics import HourOfWeekMedian
from dart_assets.ml.serving import ServingRules, serve

METADATA_FILE = "metadata.json"
LIBRARIES = ("lightgbm", "xgboost", "torch", "pandas", "numpy", "scikit-learn", "mlflow")
# Import name -> distributions that provide it (the project installs the CPU-only XGBoost wheel).
DISTRIBUTIONS = {"xgboost": ("xgboost", "xgboost-cpu")}


@dataclass
class LoadedModel:
    """A bundle loaded back: `predict(frame)` gives p10/p50/p90 aligned to `frame`'s index."""

    metadata: dict[str, Any]
    model: ModelFamily

    @property
    def family(self) -> str:
        return self.metadata["family"]

    @property
    def serving(self) -> ServingRules:
        """The serving rules stored with the model (none before they existed: the model as it is)."""
        stored = self.metadata.get("serving")
        return ServingRules.from_dict(stored) if stored else ServingRules.identity(self.metadata.get("band_shift", 0.0))

    @property
    def baseline(self) -> str | None:
        """The naive baseline this forecast is, if it is one: the naive family's choice, or the anchor of a model
        its serving rules give no weight (w = 0); None for a model's own forecast."""
        return self.model.baseline() or self.serving.fallback

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The served P10/P50/P90 (`serving.serve`: shrink toward the stored anchor, band from recent misses).

        Rows without metadata["history_hours"] of the point's history in `frame` get NaN; the band of day D reads
        the rows of days D-8..D-2 with a known target: pass history rows along (else the validation shift applies).
        """
        table = self.metadata.get("hour_of_week")
        hour_of_week = HourOfWeekMedian.from_dict(table) if table else None
        return serve(self.model.predict(frame), frame, self.serving, hour_of_week)


def save_bundle(model: ModelFamily, metadata: dict[str, Any], directory: Path) -> Path:
    """Write the model files and metadata.json into `directory` (created; existing files are overwritten)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.save(directory)
    (directory / METADATA_FILE).write_text(json.dumps(metadata, indent=2, default=str))
    return directory


def load_bundle(path: Path | str) -> LoadedModel:
    directory = Path(path)
    metadata = json.loads((directory / METADATA_FILE).read_text())
    family = families.get(metadata["family"])
    metadata.setdefault("history_hours", family.history_hours(metadata["params"]))  # bundles saved before it was
    transform = FeatureTransform.from_dict(metadata["transform"])
    return LoadedModel(metadata, family.load(directory, transform, metadata["params"]))


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
