"""One training entry for all model families: shared split, transforms, calibration, evaluation, bundle and plot.

Each family (see `family.py`) only fits, predicts and saves itself; everything that must be identical across
families for their metrics to be comparable happens here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from dart_assets.common.versions import code_version
from dart_assets.ml import families, plots
from dart_assets.ml.artifacts import library_versions, save_bundle
from dart_assets.ml.conformal import band_shift, calibrate
from dart_assets.ml.dataset import POINT, TARGET, TIMESTAMP, FeatureTransform, chronological_split
from dart_assets.ml.family import ModelFamily
from dart_assets.ml.metrics import evaluate

INPUT_EXAMPLE_ROWS = 5
TOP_FEATURES = 20


@dataclass
class TrainingResult:
    family: str
    bundle_dir: Path
    metrics: dict[str, float]
    comparison: pd.DataFrame
    n_train: int
    n_val: int
    n_test: int
    split_boundaries: dict[str, str]
    best_iteration: int
    train_seconds: float
    feature_importance: pd.DataFrame | None
    plot_png: Path
    params: dict[str, Any]
    test_predictions: pd.DataFrame
    """p10/p50/p90 on the test rows (frame index), as scored; a reloaded bundle must reproduce them exactly."""
    fitted: ModelFamily
    input_example: Any
    """A few rows of the native model's input: a DataFrame for the boosters, a (n, lookback, width) array of
    windows for the LSTM (its input is a tensor, not a table)."""

    @property
    def model(self) -> Any:
        """The native P50 model (lgb.Booster, xgb.Booster, torch.nn.Module), as logged in its MLflow flavor."""
        return self.fitted.native


def train_model(
    family: str,
    frame: pd.DataFrame,
    feature_columns: list[str],
    out_dir: Path,
    params: dict | None = None,
    split: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 42,
    n_threads: int = 1,
    progress: Callable[[str], None] | None = None,
) -> TrainingResult:
    """Fit `family` on the train split (early stopping on val), score on test, write bundle + plot to `out_dir`.

    `params` override the family's default_params; unknown keys are refused so typos do not pass silently.
    """
    model_family = families.get(family)
    unknown = sorted(set(params or {}) - set(model_family.default_params))
    if unknown:
        raise ValueError(f"unknown {family} params {unknown}; known: {sorted(model_family.default_params)}")
    merged = {**model_family.default_params, **(params or {})}
    report = progress or (lambda message: None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    parts = chronological_split(frame, split)
    transform = FeatureTransform.fit(parts.train, feature_columns)
    report(f"{family}: {len(parts.train)} train / {len(parts.val)} val / {len(parts.test)} test rows")
    started = time.perf_counter()
    fitted = model_family.fit(parts, transform, merged, seed, n_threads, report)
    train_seconds = time.perf_counter() - started

    raw_val = fitted.model.predict(parts.val)
    shift = band_shift(parts.val[TARGET].to_numpy(), raw_val)
    val_pred, test_pred = calibrate(raw_val, shift), calibrate(fitted.model.predict(parts.test), shift)
    metrics, comparison = evaluate(parts.train, parts.val, parts.test, val_pred, test_pred, model_name=family)
    report(
        f"{family}: test MAE {metrics['test_mae']:.3f} vs best baseline {metrics['best_baseline_test_mae']:.3f} "
        f"(skill {metrics['test_mae_skill']:.3f}) in {train_seconds:.1f}s"
    )
    history_hours = model_family.history_hours(merged)
    metadata = {
        "family": family,
        "feature_columns": list(feature_columns),
        "transform": transform.to_dict(),
        "band_shift": shift,
        "params": merged,
        "seed": seed,
        "metrics": metrics,
        "best_iteration": fitted.best_iteration,
        "data_window": {"first": frame[TIMESTAMP].min().isoformat(), "last": frame[TIMESTAMP].max().isoformat()},
        "split_fractions": list(split),
        "split_boundaries": parts.boundaries.to_dict(),
        "history_hours": history_hours,
        "library_versions": library_versions(),
        "code_version": code_version(),
    }
    bundle_dir = save_bundle(fitted.model, metadata, out_dir / "bundle")
    plot_png = plots.training_plot(
        parts.test, test_pred, fitted.learning_curve, f"{family} DART forecast", out_dir / f"{family}_test_forecast.png"
    )
    importance = fitted.feature_importance
    return TrainingResult(
        family=family,
        bundle_dir=bundle_dir,
        metrics=metrics,
        comparison=comparison,
        n_train=len(parts.train),
        n_val=len(parts.val),
        n_test=len(parts.test),
        split_boundaries=parts.boundaries.to_dict(),
        best_iteration=fitted.best_iteration,
        train_seconds=train_seconds,
        feature_importance=None if importance is None else importance.head(TOP_FEATURES),
        plot_png=plot_png,
        params=merged,
        test_predictions=test_pred,
        fitted=fitted.model,
        input_example=_input_example(fitted.model, parts.test, history_hours),
    )


def _input_example(model: ModelFamily, test: pd.DataFrame, history_hours: int) -> Any:
    """A few predictable rows of the first point, with the history before them the model needs."""
    rows = INPUT_EXAMPLE_ROWS + history_hours - 1
    first_point = test[test[POINT] == test[POINT].iloc[0]]
    return model.native_input(first_point.sort_values(TIMESTAMP).head(rows))[:INPUT_EXAMPLE_ROWS]
