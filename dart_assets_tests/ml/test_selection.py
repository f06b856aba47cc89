"""The production selection rule: validation picks, the gate judges on test, unusable candidates never compete; the
promotion asset and the backtest both call it."""

from __future__ import annotations

import math

import pytest

from dart_assets import backtest
from dart_assets.defs.dart import promotion
from dart_assets.ml.selection import NoUsableCandidate, SelectionRule, select_candidate

RULE = SelectionRule(max_test_rmse=10.0, min_mae_skill=0.02)


def metrics(val_mae: float, val_rmse: float, test_rmse: float, test_mae: float, baseline: float = 10.0) -> dict:
    return {
        "val_mae": val_mae,
        "val_rmse": val_rmse,
        "test_rmse": test_rmse,
        "test_mae": test_mae,
        "best_baseline_test_mae": baseline,
        "test_mae_skill": 1 - test_mae / baseline,
    }


CANDIDATES = {
    "lgbm": metrics(val_mae=5.0, val_rmse=6.5, test_rmse=3.0, test_mae=2.0),  # best on test, not on validation
    "xgb": metrics(val_mae=4.0, val_rmse=7.0, test_rmse=8.0, test_mae=6.0),
    "lstm": {**metrics(1.0, 1.0, 1.0, 1.0), "test_mae_skill": math.nan},  # best everywhere, but not usable
}


def test_the_lowest_validation_metric_wins_and_the_gate_reads_its_test_metrics():
    selection = select_candidate(CANDIDATES, RULE)
    assert selection.chosen == "xgb" and selection.usable == ("lgbm", "xgb")
    assert selection.passed and selection.gate.numbers["test_rmse"] == 8.0
    assert selection.reason == (
        "xgb has the best val_mae (4.000) of 2 candidate(s). RMSE gate passed: test RMSE 8.00 <= 10 $/MWh and MAE "
        "skill 40.0% >= 2.0%."
    )
    by_rmse = select_candidate(CANDIDATES, SelectionRule(10.0, 0.02, "val_rmse"))
    assert by_rmse.chosen == "lgbm" and by_rmse.reason.startswith("lgbm has the best val_rmse (6.500) of 2")


def test_a_winner_failing_the_gate_is_still_the_choice_but_not_passed():
    selection = select_candidate(CANDIDATES, SelectionRule(max_test_rmse=5.0, min_mae_skill=0.5))
    assert selection.chosen == "xgb" and not selection.passed
    assert "test RMSE 8.00 $/MWh is above the 5 $/MWh threshold" in selection.reason
    assert "by 40.0%, less than the required 50.0%" in selection.reason


def test_ties_go_to_the_first_candidate_and_missing_metrics_disqualify():
    tied = {"b": metrics(4.0, 5.0, 5.0, 4.0), "a": metrics(4.0, 5.0, 5.0, 4.0)}
    assert select_candidate(tied, RULE).chosen == "b"
    missing = {"a": {k: v for k, v in metrics(1.0, 1.0, 1.0, 1.0).items() if k != "val_mae"}}
    with pytest.raises(NoUsableCandidate, match="no usable candidate model among: a"):
        select_candidate(missing, RULE)
    with pytest.raises(ValueError, match="selection metric 'test_mae' is not one of val_mae, val_rmse"):
        select_candidate(CANDIDATES, SelectionRule(10.0, 0.02, "test_mae"))  # type: ignore[arg-type]


def test_promotion_and_the_backtest_share_the_rule():
    assert promotion.select_candidate is select_candidate is backtest.select_candidate
    gate = promotion.PromotionGate(max_test_rmse=10.0, min_mae_skill=0.02, selection_metric="val_rmse")
    assert gate.rule() == SelectionRule(10.0, 0.02, "val_rmse")
