"""Diagnostic PNG for a training run: test forecast vs actual with the P10-P90 band, plus the learning curve."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: runs inside workers without a display

import matplotlib.pyplot as plt
import pandas as pd

from dart_assets.ml.dataset import POINT, TARGET, TIMESTAMP


def training_plot(
    test: pd.DataFrame, predictions: pd.DataFrame, learning_curve: dict[str, list[float]] | None, title: str, path: Path
) -> Path:
    """Top: one settlement point's test hours (the first by name). Bottom: train/val loss per iteration."""
    point = sorted(test[POINT].unique())[0]
    rows = test[test[POINT] == point].join(predictions).dropna(subset=["p50"]).sort_values(TIMESTAMP)
    panels = 2 if learning_curve else 1
    figure, axes = plt.subplots(panels, 1, figsize=(11, 4 * panels), squeeze=False)
    ax = axes[0, 0]
    ax.fill_between(rows[TIMESTAMP], rows["p10"], rows["p90"], alpha=0.3, label="P10-P90")
    ax.plot(rows[TIMESTAMP], rows[TARGET], color="black", linewidth=1, label="actual DART")
    ax.plot(rows[TIMESTAMP], rows["p50"], color="tab:red", linewidth=1, label="forecast")
    ax.set(title=f"{title}: test set, {point}", ylabel="$/MWh")
    ax.legend(loc="upper right")
    if learning_curve:
        ax = axes[1, 0]
        for name, values in learning_curve.items():
            ax.plot(range(1, len(values) + 1), values, label=name)
        ax.set(title="learning curve", xlabel="iteration / epoch", ylabel="loss")
        ax.legend()
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
