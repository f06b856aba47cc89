"""Naive family: per settlement point, the naive baseline that did best on validation, with a band from its
validation errors.

A candidate like the models (its asset `naive_model`, its MLflow run, its place in the promotion), so a model is
only served if it beats this on validation; and the morning's fallback when no candidate ever passed the gate
(`promoted_model` registers it under the `fallback` alias, `dart_forecast` labels its forecast "fallback: ...").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from dart_assets.ml.dataset import POINT, TARGET, FeatureTransform, quantile_frame
from dart_assets.ml.family import BundleServedModel, FamilyFit, Progress
from dart_assets.ml.metrics import (
    BASELINE_LABELS,
    BASELINES,
    HourOfWeekMedian,
    baseline_predictions,
    mae,
    naive_forecast,
)

if TYPE_CHECKING:
    from dart_assets.common.split import Split

STATE_FILE = "naive.json"
POOLED = "*"  # the choice and band for a point validation never saw: those of all validation rows
BAND_QUANTILES = (0.1, 0.9)


class NaiveModel(BundleServedModel):
    name = "naive"
    label = "Best naive baseline"
    library = "numpy"
    default_params: ClassVar[Mapping[str, Any]] = {}
    tunable: ClassVar[Mapping[str, str]] = {}
    learned = False  # zero spread is a legitimate (constant) naive forecast

    def __init__(
        self,
        transform: FeatureTransform,
        choice: Mapping[str, str],
        band: Mapping[str, tuple[float, float]],
        hour_of_week: HourOfWeekMedian,
    ) -> None:
        self.transform = transform
        self.choice = dict(choice)
        self.band = {point: (float(lo), float(hi)) for point, (lo, hi) in band.items()}
        self.hour_of_week = hour_of_week

    @classmethod
    def fit(
        cls,
        split: Split,
        transform: FeatureTransform,
        params: Mapping[str, Any],
        seed: int,
        n_threads: int,
        progress: Progress,
    ) -> FamilyFit:
        hour_of_week = HourOfWeekMedian.fit(split.train)
        val = split.val
        points = val[POINT].astype(str).to_numpy()
        actual = val[TARGET].to_numpy(dtype="float64")
        naive = baseline_predictions(val, hour_of_week)
        choice: dict[str, str] = {}
        band: dict[str, tuple[float, float]] = {}
        for point, rows in [(POOLED, np.ones(len(val), dtype=bool)), *((p, points == p) for p in np.unique(points))]:
            best = min(BASELINES, key=lambda name: mae(actual[rows], naive[name][rows]))
            errors = actual[rows] - naive[best][rows]
            choice[point] = best
            low, high = np.quantile(errors, BAND_QUANTILES)
            band[point] = (float(low), float(high))
            progress(f"naive {point}: {best} (validation MAE {mae(actual[rows], naive[best][rows]):.3f})")
        model = cls(transform, choice, band, hour_of_week)
        return FamilyFit(
            model=model, best_iteration=1, learning_curve={"train": [], "val": []}, feature_importance=None
        )

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        points = frame[POINT].astype(str).map(lambda p: p if p in self.choice else POOLED).to_numpy()
        p50 = np.full(len(frame), np.nan)
        for name in set(self.choice.values()):
            rows = np.isin(points, [p for p, chosen in self.choice.items() if chosen == name])
            if rows.any():
                p50[rows] = naive_forecast(name, frame[rows], self.hour_of_week)
        low = np.array([self.band[p][0] for p in points])
        high = np.array([self.band[p][1] for p in points])
        return quantile_frame(frame.index, p50 + low, p50, p50 + high)

    def baseline(self) -> str:
        """ "hour-of-week median", or per point when they differ: "zero spread (HB_NORTH), hour-of-week ..."."""
        chosen = {p: c for p, c in self.choice.items() if p != POOLED} or {POOLED: self.choice[POOLED]}
        if len(set(chosen.values())) == 1:
            return BASELINE_LABELS[next(iter(chosen.values()))]
        by_baseline = {c: sorted(p for p in chosen if chosen[p] == c) for c in sorted(set(chosen.values()))}
        return ", ".join(f"{BASELINE_LABELS[c]} ({', '.join(points)})" for c, points in by_baseline.items())

    def save(self, directory: Path) -> None:
        state = {"choice": self.choice, "band": self.band, "hour_of_week": self.hour_of_week.to_dict()}
        (directory / STATE_FILE).write_text(json.dumps(state, indent=2))

    @classmethod
    def load(cls, directory: Path, transform: FeatureTransform, params: Mapping[str, Any]) -> NaiveModel:
        state = json.loads((directory / STATE_FILE).read_text())
        return cls(transform, state["choice"], state["band"], HourOfWeekMedian.from_dict(state["hour_of_week"]))
