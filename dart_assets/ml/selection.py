"""The production rule that picks the DART model to serve: one pure function, shared by `promoted_model` and the
walk-forward backtest, so the backtest's months are chosen exactly as production chooses.

The rule: among the candidates whose required metrics are all finite, the one with the lowest validation metric
wins (ties: the first in the given order); the gate is then evaluated on its test metrics. Nothing here knows where
the candidates come from (MLflow runs in production, in-memory trainings in the backtest) or what happens when the
gate fails (production keeps its champion; the backtest serves a labelled naive fallback).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from dart_assets.common.gate import GateResult
from dart_assets.ml.gate import DEFAULT_MIN_POINT_SKILL, REQUIRED_METRICS, evaluate_dart_gate

SelectionMetric = Literal["val_mae", "val_rmse"]
SELECTION_METRICS: tuple[str, ...] = get_args(SelectionMetric)


class NoUsableCandidate(ValueError):
    """No candidate reports every required metric as a finite number."""


@dataclass(frozen=True)
class SelectionRule:
    """The gate thresholds and the validation metric that picks the candidate."""

    max_test_rmse: float
    min_mae_skill: float
    selection_metric: SelectionMetric = "val_mae"
    min_point_skill: float = DEFAULT_MIN_POINT_SKILL


@dataclass(frozen=True)
class Selection:
    chosen: str
    """The winning candidate's name (the key it was given under)."""
    gate: GateResult
    """The gate's verdict on the winner: only a passing winner may be served."""
    usable: tuple[str, ...]
    """Every candidate that could compete, in the given order."""
    reason: str
    """One sentence: who won on which number, among how many, and the gate's verdict."""

    @property
    def passed(self) -> bool:
        return self.gate.passed


def usable(metrics: Mapping[str, float]) -> bool:
    """A candidate competes only if it reports every required metric as a finite number."""
    return all(isinstance(metrics.get(m), (int, float)) and math.isfinite(metrics[m]) for m in REQUIRED_METRICS)


def select_candidate(candidates: Mapping[str, Mapping[str, float]], rule: SelectionRule) -> Selection:
    """The usable candidate with the lowest `rule.selection_metric`, and whether it passes the gate.

    `candidates` maps a name to its metrics (those of `ml.metrics.evaluate`). Raises NoUsableCandidate naming what
    was offered when none is usable.
    """
    if rule.selection_metric not in SELECTION_METRICS:
        raise ValueError(f"selection metric {rule.selection_metric!r} is not one of {', '.join(SELECTION_METRICS)}")
    competing = [name for name, metrics in candidates.items() if usable(metrics)]
    if not competing:
        raise NoUsableCandidate(f"no usable candidate model among: {', '.join(candidates) or 'none'}")
    chosen = min(competing, key=lambda name: candidates[name][rule.selection_metric])
    gate = evaluate_dart_gate(candidates[chosen], rule.max_test_rmse, rule.min_mae_skill, rule.min_point_skill)
    reason = (
        f"{chosen} has the best {rule.selection_metric} ({candidates[chosen][rule.selection_metric]:.3f}) of "
        f"{len(competing)} candidate(s). {gate.description}."
    )
    return Selection(chosen, gate, tuple(competing), reason)
