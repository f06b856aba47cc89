"""The DART promotion gate: a model goes to production only if it is both sane in $/MWh and better than naive.

An absolute RMSE alone means little for DART (one scarcity spike moves it more than any model), so the gate also
asks that the model's test MAE beat the best naive baseline by a margin, pooled, and at every settlement point by
at least a floor. One pure function, evaluated before anything is registered and again by the blocking `rmse_gate`
check, so the two can never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from dart_assets.common.gate import GateResult
from dart_assets.ml import families
from dart_assets.ml.metrics import POINT_SKILL_PREFIX
from dart_assets.ml.summary import TrainingSummary

DEFAULT_MIN_POINT_SKILL = -0.02
# What every candidate must report before it can be compared: validation scores pick, test scores gate.
REQUIRED_METRICS = ("val_rmse", "val_mae", "test_rmse", "test_mae", "test_mae_skill", "best_baseline_test_mae")


def evaluate_dart_gate(
    metrics: Mapping[str, float],
    max_test_rmse: float,
    min_mae_skill: float,
    min_point_skill: float = DEFAULT_MIN_POINT_SKILL,
) -> GateResult:
    """Pass when test RMSE <= max_test_rmse ($/MWh) AND 1 - test MAE / best baseline MAE >= min_mae_skill AND every
    settlement point's own skill (`test_mae_skill_<point>`, see `metrics.evaluate`) >= min_point_skill.

    A pooled skill can hide a point that loses to naive; the per-point floor (slightly below zero by default: a few
    hundred test hours of one point are noisy) keeps such a model out of production.
    """
    rmse, skill = float(metrics["test_rmse"]), float(metrics["test_mae_skill"])
    point_skills = {
        key.removeprefix(POINT_SKILL_PREFIX): float(value)
        for key, value in metrics.items()
        if key.startswith(POINT_SKILL_PREFIX)
    }
    numbers = {
        "test_rmse": rmse,
        "max_test_rmse": float(max_test_rmse),
        "test_mae": float(metrics["test_mae"]),
        "best_baseline_test_mae": float(metrics["best_baseline_test_mae"]),
        "test_mae_skill": skill,
        "min_mae_skill": float(min_mae_skill),
        **({f"{POINT_SKILL_PREFIX}{p}": v for p, v in point_skills.items()}),
        **({"min_point_skill": float(min_point_skill)} if point_skills else {}),
    }
    problems = []
    if not (math.isfinite(rmse) and rmse <= max_test_rmse):
        problems.append(f"test RMSE {rmse:.2f} $/MWh is above the {max_test_rmse:g} $/MWh threshold")
    if not (math.isfinite(skill) and skill >= min_mae_skill):
        problems.append(
            f"test MAE {numbers['test_mae']:.2f} beats the best naive baseline "
            f"({numbers['best_baseline_test_mae']:.2f}) by {skill:.1%}, less than the required {min_mae_skill:.1%}"
        )
    losing = {p: v for p, v in sorted(point_skills.items()) if not (math.isfinite(v) and v >= min_point_skill)}
    if losing:
        problems.append(
            ", ".join(f"{p} {v:.1%}" for p, v in losing.items())
            + f": MAE skill below the per-point floor of {min_point_skill:.1%}"
        )
    if problems:
        return GateResult(False, "RMSE gate failed: " + "; ".join(problems), numbers)
    floor = f" and every point's >= {min_point_skill:.1%}" if point_skills else ""
    return GateResult(
        True,
        f"RMSE gate passed: test RMSE {rmse:.2f} <= {max_test_rmse:g} $/MWh "
        f"and MAE skill {skill:.1%} >= {min_mae_skill:.1%}{floor}",
        numbers,
    )


def candidate_problems(summary: TrainingSummary) -> list[str]:
    """Why a trained candidate cannot be trusted (empty if it can): a missing MLflow run or bundle, a metric that
    is not finite, or test predictions that never move (a learned model that learned a constant)."""
    recorded = {"mlflow_run_id": summary.mlflow_run_id, "bundle_uri": summary.bundle_uri}
    problems = [f"missing {key}" for key, value in recorded.items() if not value]
    for key in REQUIRED_METRICS:
        value = summary.metrics.get(key)
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            problems.append(f"{key} is not finite ({value!r})")
    if families.get(summary.family).learned and not summary.metrics.get("test_prediction_std", 0.0) > 1e-6:
        problems.append("test predictions are constant")
    return problems
