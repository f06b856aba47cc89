"""Model bundles: a directory of native, pickle-free model files plus `metadata.json`.

Native formats (LightGBM text, XGBoost JSON, the LSTM's NumPy arrays loaded with allow_pickle=False and its torch
state_dict loaded with weights_only=True) cannot run code when loaded, unlike pickles, and stay readable across
library upgrades. metadata.json records the sha256 of every model file at save time; a bundle whose files do not
match (damaged, half copied, or changed since) is refused before any model library reads it.
"""

from __future__ import annotations

import importlib.metadata
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from dart_assets.common.files import sha256_of, write_atomically
from dart_assets.ml import families
from dart_assets.ml.dataset import FeatureTransform
from dart_assets.ml.family import ModelFamily
from dart_assets.ml.metrics import HourOfWeekMedian
from dart_assets.ml.serving import ServingRules, serve

METADATA_FILE = "metadata.json"
CHECKSUMS_KEY = "files"
"""metadata.json's record of the bundle's files: relative path -> sha256."""
LIBRARIES = ("lightgbm", "xgboost", "torch", "pandas", "numpy", "scikit-learn", "mlflow")
# Import name -> distributions that provide it (the project installs the CPU-only XGBoost wheel).
DISTRIBUTIONS = {"xgboost": ("xgboost", "xgboost-cpu")}


class BundleIntegrityError(ValueError):
    """A bundle whose files are not the ones recorded at save time; the message names the file."""


@dataclass
class LoadedModel:
    """A bundle loaded back: `predict(frame)` gives p10/p50/p90 aligned to `frame`'s index."""

    metadata: dict[str, Any]
    model: ModelFamily
    directory: Path | None = None
    """The verified bundle folder it was loaded from."""

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
    """Write the model files, then metadata.json with their checksums, into `directory` (created; existing files are
    overwritten)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.save(directory)
    checksums = {name: sha256_of(directory / name) for name in _bundle_files(directory)}
    payload = json.dumps({**metadata, CHECKSUMS_KEY: checksums}, indent=2, default=str)
    write_atomically(directory / METADATA_FILE, payload.encode())
    return directory


def load_bundle(path: Path | str) -> LoadedModel:
    """The bundle in `path`, after checking its files against the checksums recorded at save time."""
    directory = Path(path)
    manifest = directory / METADATA_FILE
    if not manifest.is_file():
        raise BundleIntegrityError(f"{manifest}: missing; {directory} is not a complete model bundle")
    metadata = json.loads(manifest.read_text())
    verify_bundle(directory, metadata)
    family = families.get(metadata["family"])
    metadata.setdefault("history_hours", family.history_hours(metadata["params"]))  # bundles saved before it was
    transform = FeatureTransform.from_dict(metadata["transform"])
    return LoadedModel(metadata, family.load(directory, transform, metadata["params"]), directory)


def verify_bundle(directory: Path, metadata: dict[str, Any]) -> None:
    """BundleIntegrityError unless the folder holds exactly the recorded files, each with its recorded sha256."""
    recorded = metadata.get(CHECKSUMS_KEY)
    if not isinstance(recorded, dict) or not recorded:
        raise BundleIntegrityError(
            f"{directory / METADATA_FILE}: records no checksums of the model files, so the bundle cannot be "
            "verified; retrain the model (bundles record them since the reliability work of issue 16)"
        )
    present = set(_bundle_files(directory))
    for name in sorted(set(recorded) | present):
        path = directory / name
        if name not in recorded:
            raise BundleIntegrityError(f"{path}: not recorded in {METADATA_FILE} at save time; refusing the bundle")
        if name not in present:
            raise BundleIntegrityError(f"{path}: recorded in {METADATA_FILE} but missing from the bundle")
        actual = sha256_of(path)
        if actual != recorded[name]:
            raise BundleIntegrityError(
                f"{path}: sha256 {actual} does not match {recorded[name]} recorded in {METADATA_FILE} at save "
                "time; the file is damaged or was changed: refusing to load the bundle"
            )


def _bundle_files(directory: Path) -> list[str]:
    """The bundle's files besides metadata.json, as POSIX paths relative to `directory`."""
    return sorted(
        p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file() and p.name != METADATA_FILE
    )


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
