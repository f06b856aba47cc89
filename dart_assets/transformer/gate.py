"""The promotion gate: a model becomes champion only if its held-out errors are small enough to plan on.

One pure function, evaluated before registering a version and again by the blocking asset check, so the two
can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping

from dart_assets.common.gate import GateResult

GATED_METRICS = ("val_rmse", "test_rmse")


def evaluate_gate(metrics: Mapping[str, float], threshold_kw: float) -> GateResult:
    """Pass when validation AND test RMSE are at or below `threshold_kw`."""
    failing = {name: metrics[name] for name in GATED_METRICS if not metrics[name] <= threshold_kw}
    numbers = {**{name: float(metrics[name]) for name in GATED_METRICS}, "threshold_kw": float(threshold_kw)}
    if failing:
        listed = ", ".join(f"{name} {value:.3f} kW" for name, value in failing.items())
        return GateResult(False, f"RMSE gate failed: {listed} above the {threshold_kw:g} kW threshold", numbers)
    listed = ", ".join(f"{name} {metrics[name]:.3f} kW" for name in GATED_METRICS)
    return GateResult(True, f"RMSE gate passed: {listed} within the {threshold_kw:g} kW threshold", numbers)
