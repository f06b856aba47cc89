"""Chronological train / validation / test splits, oldest first, never shuffled: the held-out periods are the most
recent ones, as in real use."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)


@dataclass(frozen=True)
class SplitBoundaries:
    """First and last timestamp of each split (inclusive)."""

    train_start: pd.Timestamp
    train_end: pd.Timestamp
    val_start: pd.Timestamp
    val_end: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp

    def to_dict(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name).isoformat() for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> SplitBoundaries:
        return cls(**{name: pd.Timestamp(value) for name, value in data.items()})


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    boundaries: SplitBoundaries


def chronological_split(
    frame: pd.DataFrame, time_column: str, fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
) -> Split:
    """Split `frame` by the unique values of `time_column`: the first share of them trains, the next validates, the
    rest tests. Rows sharing a timestamp (several series) always land in the same split. Rows keep their order.

    Raises ValueError for fractions that are not three positive numbers summing to 1, or too few timestamps.
    """
    if len(fractions) != 3 or min(fractions) <= 0 or not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"split fractions must be three positive numbers summing to 1, got {fractions}")
    stamps = np.sort(frame[time_column].unique())
    n_train = round(len(stamps) * fractions[0])
    n_val = round(len(stamps) * fractions[1])
    if n_train < 1 or n_val < 1 or len(stamps) - n_train - n_val < 1:
        raise ValueError(f"{len(stamps)} timestamps are too few to split by {fractions}")
    parts = (stamps[:n_train], stamps[n_train : n_train + n_val], stamps[n_train + n_val :])
    train, val, test = (frame[frame[time_column].isin(part)] for part in parts)
    bounds = [pd.Timestamp(part[i]) for part in parts for i in (0, -1)]
    return Split(train, val, test, SplitBoundaries(*bounds))
