"""The DART promotion gate: RMSE threshold AND MAE skill over the best naive baseline, both inclusive."""

import math

import pytest

from dart_assets.ml.gate import DEFAULT_MIN_POINT_SKILL, evaluate_dart_gate


def metrics(test_rmse=40.0, test_mae=9.0, best_baseline_test_mae=10.0, skill=None) -> dict:
    return {
        "test_rmse": test_rmse,
        "test_mae": test_mae,
        "best_baseline_test_mae": best_baseline_test_mae,
        "test_mae_skill": 1 - test_mae / best_baseline_test_mae if skill is None else skill,
    }


def test_passes_when_both_conditions_hold_and_names_the_numbers():
    result = evaluate_dart_gate(metrics(), max_test_rmse=60, min_mae_skill=0.02)
    assert result.passed
    assert result.description == "RMSE gate passed: test RMSE 40.00 <= 60 $/MWh and MAE skill 10.0% >= 2.0%"
    assert result.numbers == {
        "test_rmse": 40.0,
        "max_test_rmse": 60.0,
        "test_mae": 9.0,
        "best_baseline_test_mae": 10.0,
        "test_mae_skill": pytest.approx(0.1),
        "min_mae_skill": 0.02,
    }


def test_fails_on_rmse_alone():
    result = evaluate_dart_gate(metrics(test_rmse=75.5), max_test_rmse=60, min_mae_skill=0.02)
    assert not result.passed
    assert result.description == "RMSE gate failed: test RMSE 75.50 $/MWh is above the 60 $/MWh threshold"


def test_fails_on_skill_alone_even_with_a_tiny_rmse():
    result = evaluate_dart_gate(metrics(test_rmse=1.0, test_mae=9.9), max_test_rmse=60, min_mae_skill=0.02)
    assert not result.passed
    assert result.description == (
        "RMSE gate failed: test MAE 9.90 beats the best naive baseline (10.00) by 1.0%, less than the required 2.0%"
    )


def test_fails_on_both_and_lists_both():
    result = evaluate_dart_gate(metrics(test_rmse=61.0, test_mae=11.0), max_test_rmse=60, min_mae_skill=0.02)
    assert not result.passed
    assert "test RMSE 61.00 $/MWh is above the 60 $/MWh threshold; test MAE 11.00" in result.description
    assert "by -10.0%, less than the required 2.0%" in result.description


@pytest.mark.parametrize("field", ["test_rmse", "test_mae_skill"])
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_non_finite_metrics_fail(field, value):
    m = metrics()
    m[field] = value
    result = evaluate_dart_gate(m, max_test_rmse=60, min_mae_skill=-10.0)
    assert not result.passed


def test_boundaries_are_inclusive():
    at_limit = metrics(test_rmse=60.0, skill=0.02)
    assert evaluate_dart_gate(at_limit, max_test_rmse=60.0, min_mae_skill=0.02).passed
    assert not evaluate_dart_gate(metrics(test_rmse=60.0001, skill=0.02), max_test_rmse=60.0, min_mae_skill=0.02).passed
    assert not evaluate_dart_gate(metrics(test_rmse=60.0, skill=0.0199), max_test_rmse=60.0, min_mae_skill=0.02).passed


def test_missing_metric_is_an_error_not_a_pass():
    with pytest.raises(KeyError, match="test_mae_skill"):
        evaluate_dart_gate({"test_rmse": 1.0, "test_mae": 1.0, "best_baseline_test_mae": 2.0}, 60, 0.02)


def test_a_point_below_the_floor_fails_the_gate_however_good_the_pooled_skill():
    m = {**metrics(), "test_mae_skill_HB_WEST": 0.2, "test_mae_skill_HB_NORTH": -0.031}
    result = evaluate_dart_gate(m, max_test_rmse=60, min_mae_skill=0.02, min_point_skill=-0.02)
    assert not result.passed
    assert result.description == "RMSE gate failed: HB_NORTH -3.1%: MAE skill below the per-point floor of -2.0%"
    assert result.numbers["test_mae_skill_HB_NORTH"] == -0.031 and result.numbers["min_point_skill"] == -0.02
    # At the floor (inclusive) it passes, and says so.
    m["test_mae_skill_HB_NORTH"] = -0.02
    passed = evaluate_dart_gate(m, max_test_rmse=60, min_mae_skill=0.02, min_point_skill=-0.02)
    assert passed.passed and passed.description.endswith("and every point's >= -2.0%")
    m["test_mae_skill_HB_NORTH"] = math.nan
    assert not evaluate_dart_gate(m, 60, 0.02, -0.02).passed


def test_the_default_floor_is_minus_two_percent():
    m = {**metrics(), "test_mae_skill_HB_WEST": -0.021}
    assert DEFAULT_MIN_POINT_SKILL == -0.02
    assert not evaluate_dart_gate(m, max_test_rmse=60, min_mae_skill=0.02).passed
