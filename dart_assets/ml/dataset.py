"""The DART split, train-only feature transforms and LSTM look-back windows for the DART models.

Everything fitted here (category codes, scaler) is fitted on the training split only and round-trips through
plain JSON dicts, so prediction time applies exactly what training saw.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from dart_assets.common import split
from dart_assets.common.split import DEFAULT_FRACTIONS, Split

TARGET = "dart"
POINT = "settlement_point"
TIMESTAMP = "timestamp_utc"
# Same-hour prices that make up the target: using them as features would leak the answer.
LEAKY_COLUMNS = ("dart", "dam_price", "rtm_price")
CATEGORICAL_COLUMNS = (POINT, "hour_ending", "day_of_week")
# What the boosters start from (LightGBM init_score, XGBoost base_margin) instead of a constant: a damped copy of
# the same hour's 28-day median DART over settled days (`features.py`). On real ERCOT validation months this
# anchor alone beats every naive baseline by ~3%; the trees then learn the correction (issue 12's research).
ANCHOR_COLUMN = "dart_median_28d"
ANCHOR_WEIGHT = 0.75


def anchor(rows: pd.DataFrame, weight: float = ANCHOR_WEIGHT) -> np.ndarray:
    """`weight` x the anchor column per row; 0 where it is missing (no settled history yet)."""
    if ANCHOR_COLUMN not in rows:
        raise ValueError(f"the rows lack {ANCHOR_COLUMN!r}, the anchor the models boost from (see features.py)")
    return weight * rows[ANCHOR_COLUMN].fillna(0.0).to_numpy(dtype="float64")


def model_columns(feature_columns: list[str]) -> list[str]:
    """The model's input columns: the caller's features, with the settlement point always first.

    The point identifies the series, so every family sees it even if the caller's list leaves it out.
    Raises ValueError for leaky or duplicated columns.
    """
    leaky = sorted(set(feature_columns) & set(LEAKY_COLUMNS))
    if leaky:
        raise ValueError(f"feature columns must not contain the target or same-hour prices: {leaky}")
    if len(set(feature_columns)) != len(feature_columns):
        raise ValueError("feature columns contain duplicates")
    return [POINT] + [c for c in feature_columns if c != POINT]


def chronological_split(frame: pd.DataFrame, fractions: tuple[float, float, float] = DEFAULT_FRACTIONS) -> Split:
    """Split rows with a known target into train/val/test by unique timestamp, oldest first.

    Splitting on timestamps (not rows) keeps every hour in exactly one split for all points, so no point's test
    hour has a sibling in training. Rows with NaN target (prices not published yet) are dropped.
    """
    known = frame[frame[TARGET].notna()].sort_values([TIMESTAMP, POINT])
    return split.chronological_split(known, TIMESTAMP, fractions)


@dataclass
class FeatureTransform:
    """Category codes and a standard scaler fitted on the training split, serialisable as a JSON dict.

    Boosters get integer category codes and raw numerics (NaN kept: they handle missing values natively);
    the LSTM gets one-hot categories and standardised numerics with NaN -> 0 (= the training mean).
    """

    columns: list[str]
    categories: dict[str, list[Any]]
    means: dict[str, float]
    stds: dict[str, float]
    target_mean: float
    target_std: float
    numeric: list[str] = field(init=False)
    categorical: list[str] = field(init=False)

    def __post_init__(self) -> None:
        # Column order, never dict order, fixes the layout: JSON round trips may reorder dict keys.
        self.numeric = [c for c in self.columns if c not in self.categories]
        self.categorical = [c for c in self.columns if c in self.categories]

    @classmethod
    def fit(cls, train: pd.DataFrame, feature_columns: list[str]) -> FeatureTransform:
        columns = model_columns(feature_columns)
        missing = sorted(set(columns) - set(train.columns))
        if missing:
            raise ValueError(f"feature columns missing from the frame: {missing}")
        categorical = [c for c in columns if c in CATEGORICAL_COLUMNS]
        categories = {c: sorted(_json_scalar(v) for v in train[c].dropna().unique()) for c in categorical}
        numeric = [c for c in columns if c not in categorical]
        means = {c: float(train[c].mean()) if train[c].notna().any() else 0.0 for c in numeric}
        stds = {c: _safe_std(train[c]) for c in numeric}
        return cls(columns, categories, means, stds, float(train[TARGET].mean()), _safe_std(train[TARGET]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "categories": self.categories,
            "means": self.means,
            "stds": self.stds,
            "target_mean": self.target_mean,
            "target_std": self.target_std,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureTransform:
        return cls(**data)

    def booster_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Float frame of the model columns; categories as codes 0..k-1, unseen categories as NaN."""
        out = pd.DataFrame(index=frame.index)
        for column in self.columns:
            if column in self.categories:
                codes = pd.Categorical(frame[column].map(_json_scalar), categories=self.categories[column]).codes
                out[column] = np.where(codes < 0, np.nan, codes).astype("float64")
            else:
                out[column] = frame[column].astype("float64")
        return out

    def lstm_matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """float32 matrix: standardised numerics (NaN -> 0) then one-hot categories (unseen -> all zeros)."""
        blocks = []
        if self.numeric:
            values = frame[self.numeric].to_numpy(dtype="float64")
            means = np.array([self.means[c] for c in self.numeric])
            stds = np.array([self.stds[c] for c in self.numeric])
            blocks.append(np.nan_to_num((values - means) / stds, nan=0.0))
        for column in self.categorical:
            levels = self.categories[column]
            codes = pd.Categorical(frame[column].map(_json_scalar), categories=levels).codes
            blocks.append((codes[:, None] == np.arange(len(levels))[None, :]).astype("float64"))
        return np.concatenate(blocks, axis=1).astype("float32")

    def lstm_width(self) -> int:
        return len(self.numeric) + sum(len(levels) for levels in self.categories.values())


@dataclass(frozen=True)
class Windows:
    """Look-back windows as a row matrix plus end positions, so batches are sliced lazily (no L-fold copy).

    Window i is `matrix[ends[i] - lookback + 1 : ends[i] + 1]`: the last `lookback` hours of one settlement
    point ending at (and including) the target row `labels[i]` of the source frame.
    """

    matrix: np.ndarray
    ends: np.ndarray
    labels: pd.Index
    lookback: int

    def __len__(self) -> int:
        return len(self.ends)

    def batch(self, positions: np.ndarray) -> np.ndarray:
        """(len(positions), lookback, width) float32 array of the windows at `positions`."""
        offsets = np.arange(-self.lookback + 1, 1)
        return self.matrix[self.ends[positions][:, None] + offsets[None, :]]

    def batches(self, size: int) -> Iterator[np.ndarray]:
        """The windows in order, `size` at a time (the last batch holds the rest)."""
        for start in range(0, len(self), size):
            yield self.batch(np.arange(start, min(start + size, len(self))))


def build_windows(frame: pd.DataFrame, transform: FeatureTransform, lookback: int) -> Windows:
    """Windows over consecutive hours of the same point inside `frame` only.

    Called per split, so a window never reaches across a split boundary; it only looks back, and a row gets a
    window only if the `lookback` hours ending at it are all present (no gaps), else it is skipped.
    """
    ordered = frame.sort_values([POINT, TIMESTAMP])
    matrix = transform.lstm_matrix(ordered)
    stamps = ordered[TIMESTAMP].to_numpy()
    points = ordered[POINT].to_numpy()
    positions = np.arange(len(ordered))
    start = positions - (lookback - 1)
    valid = start >= 0
    safe_start = np.where(valid, start, 0)
    valid &= points[safe_start] == points
    valid &= (stamps - stamps[safe_start]) == np.timedelta64(lookback - 1, "h")
    ends = positions[valid]
    return Windows(matrix=matrix, ends=ends, labels=ordered.index[ends], lookback=lookback)


def quantile_frame(index: pd.Index, p10: ArrayLike, p50: ArrayLike, p90: ArrayLike) -> pd.DataFrame:
    """Prediction frame with crossing quantiles clipped to the median (p10 <= p50 <= p90, median untouched)."""
    p50 = np.asarray(p50, dtype="float64")
    return pd.DataFrame({"p10": np.minimum(p10, p50), "p50": p50, "p90": np.maximum(p90, p50)}, index=index)


def _safe_std(values: pd.Series) -> float:
    std = float(values.std(ddof=0)) if values.notna().sum() > 1 else 0.0
    return std if np.isfinite(std) and std > 0 else 1.0


def _json_scalar(value: Any) -> Any:
    """numpy scalars -> Python ints/strings so category levels survive a JSON round trip unchanged."""
    if isinstance(value, (np.integer, bool, np.bool_)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    return value
