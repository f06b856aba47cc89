"""The serving rules: what turns a family's raw P10/P50/P90 into the forecast that is served.

Chosen on the validation split when the model is trained, stored with it (bundle metadata) and applied by `serve`,
the one function behind the scored test split (`training.py`), every reload (`artifacts.LoadedModel.predict`: the
morning run, the backtest):
1. **Shrink**: P50 = w x model + (1 - w) x anchor, with (w, anchor) minimising the validation MAE over w in
   {0, 0.1, .., 1} and the anchors in SHRINK_ANCHORS (ties go to the larger w); the band moves with the median.
   On real ERCOT data the models beat naive by a few percent at best, so a model that does worse on validation is
   pulled toward, or (w = 0) replaced by, the naive forecast: a labelled fallback (`ServingRules.fallback`).
2. **Band**: the P10-P90 band is recalibrated per delivery day and point from the served forecast's own misses on
   the settled days D-8..D-2 (`conformal.recent_shifts`); with less history, by the validation shift.
3. **Trade threshold**: t = the 75th percentile of |served P50| on validation; a desk trades the hours with
   |P50| > t (about a quarter of them), and the metrics report the sign accuracy there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from dart_assets.ml import conformal
from dart_assets.ml.metrics import BASELINE_LABELS, HourOfWeekMedian, baseline_predictions, mae, naive_forecast

SHRINK_WEIGHTS = tuple(round(w / 10, 1) for w in range(11))
SHRINK_ANCHORS = ("hour_dow", "zero")
TRADE_QUANTILE = 0.75


@dataclass(frozen=True)
class ServingRules:
    shrink_weight: float
    """w: the share of the model in the served P50; 0 serves the anchor alone."""
    shrink_anchor: str
    """The naive baseline the P50 is shrunk toward (`metrics.BASELINES`)."""
    band_shift: float
    """The validation split's conformal shift, $/MWh: the band's fallback where recent history is short."""
    trade_threshold: float
    """|P50| above which the hour is traded, $/MWh."""

    @property
    def fallback(self) -> str | None:
        """The naive baseline served instead of the model when the model has no weight (w = 0), else None."""
        return BASELINE_LABELS[self.shrink_anchor] if not self.shrink_weight else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServingRules:
        return cls(**data)

    @classmethod
    def identity(cls, band_shift: float = 0.0) -> ServingRules:
        """The model as it is: for bundles saved before serving rules were stored."""
        return cls(1.0, "zero", band_shift, 0.0)


def choose(
    val: pd.DataFrame, raw: pd.DataFrame, hour_of_week: HourOfWeekMedian, anchors: tuple[str, ...] = SHRINK_ANCHORS
) -> ServingRules:
    """The rules from the validation rows (`val`, with the target) and the model's raw predictions for them."""
    actual = val["dart"].to_numpy(dtype="float64")
    predicted = raw["p50"].notna().to_numpy()
    naive = baseline_predictions(val, hour_of_week)
    candidates = [(w, a) for a in anchors for w in SHRINK_WEIGHTS]
    scores = [
        mae(actual[predicted], (w * raw["p50"].to_numpy() + (1 - w) * naive[a])[predicted]) for w, a in candidates
    ]
    w, a = min(zip(candidates, scores, strict=True), key=lambda pair: (pair[1], -pair[0][0]))[0]
    shrunk = shrink(raw, naive[a], w)
    return ServingRules(
        shrink_weight=w,
        shrink_anchor=a,
        band_shift=conformal.band_shift(actual, shrunk),
        trade_threshold=float(np.nanquantile(np.abs(shrunk["p50"].to_numpy()), TRADE_QUANTILE)),
    )


def shrink(raw: pd.DataFrame, anchor: np.ndarray, weight: float) -> pd.DataFrame:
    """P50 = weight x raw P50 + (1 - weight) x anchor; P10 and P90 move by the same amount."""
    out = raw.copy()
    delta = (1 - weight) * (np.asarray(anchor, dtype="float64") - raw["p50"].to_numpy())
    for column in ("p10", "p50", "p90"):
        out[column] = raw[column] + delta
    return out


def serve(
    raw: pd.DataFrame, rows: pd.DataFrame, rules: ServingRules, hour_of_week: HourOfWeekMedian | None
) -> pd.DataFrame:
    """The served P10/P50/P90 for `rows` (aligned to their index) from the model's raw predictions `raw`.

    Each row's band uses the misses of the rows of the same point on days D-8..D-2 that carry a known target: pass
    those days along (their features are as of their own decision times, so they are what that morning saw).
    """
    shrunk = raw
    if rules.shrink_weight != 1.0:
        shrunk = shrink(raw, naive_forecast(rules.shrink_anchor, rows, hour_of_week), rules.shrink_weight)
    return conformal.calibrate(shrunk, conformal.recent_shifts(rows, shrunk, rules.band_shift))
