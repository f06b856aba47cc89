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

from dart_assets.common.split import Split
from dart_assets.common.versions import code_version
from dart_assets.ml import families, plots, serving
from dart_assets.ml.artifacts import library_versions, save_bundle
from dart_assets.ml.dataset import POINT, TIMESTAMP, FeatureTransform, chronological_split
from dart_assets.ml.family import FamilyFit, ModelFamily
from dart_assets.ml.metrics import HourOfWeekMedian, evaluate
from dart_assets.ml.serving import ServingRules

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
    """Served p10/p50/p90 on the test rows (frame index), as scored; a reloaded bundle given the validation and test
    rows must reproduce them exactly (the band of a test day reads the misses of the days before it)."""
    serving: ServingRules
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
    report(f"{family}: {len(parts.train)} train / {len(parts.val)} val / {len(parts.test)} test rows")
    candidate = fit_candidate(model_family, parts, feature_columns, merged, seed, n_threads, report)
    rules = candidate.rules
    val_pred, test_pred = candidate.val_predictions, candidate.test_predictions
    metrics, comparison = evaluate(
        parts.train,
        parts.val,
        parts.test,
        val_pred,
        test_pred,
        model_name=family,
        trade_threshold=rules.trade_threshold,
    )
    report(
        f"{family}: test MAE {metrics['test_mae']:.3f} vs best baseline {metrics['best_baseline_test_mae']:.3f} "
        f"(skill {metrics['test_mae_skill']:.3f}) in {candidate.train_seconds:.1f}s; serving: P50 = "
        f"{rules.shrink_weight:.1f} x model + {1 - rules.shrink_weight:.1f} x {rules.shrink_anchor}"
        + (f" (fallback: {rules.fallback})" if rules.fallback else "")
    )
    fitted = candidate.fit
    history_hours = model_family.history_hours(merged)
    metadata = {
        "family": family,
        "feature_columns": list(feature_columns),
        "transform": candidate.transform.to_dict(),
        "band_shift": rules.band_shift,
        "serving": rules.to_dict(),
        "hour_of_week": candidate.hour_of_week.to_dict(),
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
        train_seconds=candidate.train_seconds,
        feature_importance=None if importance is None else importance.head(TOP_FEATURES),
        plot_png=plot_png,
        params=merged,
        test_predictions=test_pred,
        serving=rules,
        fitted=fitted.model,
        input_example=_input_example(fitted.model, parts.test, history_hours),
    )


@dataclass
class Candidate:
    """A family fitted on a split and served by the rules chosen on its validation part."""

    fit: FamilyFit
    transform: FeatureTransform
    hour_of_week: HourOfWeekMedian
    rules: ServingRules
    val_predictions: pd.DataFrame
    test_predictions: pd.DataFrame
    train_seconds: float


def fit_candidate(
    model_family: type[ModelFamily],
    parts: Split,
    feature_columns: list[str],
    params: dict[str, Any],
    seed: int,
    n_threads: int,
    report: Callable[[str], None],
) -> Candidate:
    """Fit on parts.train (early stopping on parts.val), choose the serving rules on parts.val, and serve parts.val
    and parts.test as a reloaded bundle given both would (`LoadedModel.predict`): the band of each test day from the
    misses of the days before it."""
    transform = FeatureTransform.fit(parts.train, feature_columns)
    started = time.perf_counter()
    fitted = model_family.fit(parts, transform, params, seed, n_threads, report)
    train_seconds = time.perf_counter() - started
    hour_of_week = HourOfWeekMedian.fit(parts.train)
    rows = pd.concat([parts.val, parts.test])  # an LSTM's first test hours read their look-back from validation
    raw = fitted.model.predict(rows)
    rules = serving.choose(parts.val, raw.loc[parts.val.index], hour_of_week)
    served = serving.serve(raw, rows, rules, hour_of_week)
    return Candidate(
        fit=fitted,
        transform=transform,
        hour_of_week=hour_of_week,
        rules=rules,
        val_predictions=served.loc[parts.val.index],
        test_predictions=served.loc[parts.test.index],
        train_seconds=train_seconds,
    )


def _input_example(model: ModelFamily, test: pd.DataFrame, history_hours: int) -> Any:
    """A few predictable rows of the first point, with the history before them the model needs."""
    rows = INPUT_EXAMPLE_ROWS + history_hours - 1
    first_point = test[test[POINT] == test[POINT].iloc[0]]
    return model.native_input(first_point.sort_values(TIMESTAMP).head(rows))[:INPUT_EXAMPLE_ROWS]
