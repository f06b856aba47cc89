import json

import numpy as np
import pandas as pd
import pytest

from dart_assets.ml import metrics
from dart_assets.ml.dataset import chronological_split
from dart_assets_tests.ml.conftest import EXPECTED_NAMES, POINTS, per_point_names


def test_point_metrics_on_a_hand_example():
    actual = np.array([1.0, -2.0, 0.0, 3.0])
    predicted = np.array([2.0, -1.0, 5.0, -1.0])
    assert metrics.mae(actual, predicted) == pytest.approx((1 + 1 + 5 + 4) / 4)
    assert metrics.rmse(actual, predicted) == pytest.approx(np.sqrt((1 + 1 + 25 + 16) / 4))
    # mean 0.5, SST = 0.25 + 6.25 + 0.25 + 6.25 = 13, SSE = 43
    assert metrics.r2(actual, predicted) == pytest.approx(1 - 43 / 13)
    # actual == 0 ignored: signs match for 1 and -2, not for 3
    assert metrics.sign_accuracy(actual, predicted) == pytest.approx(2 / 3)


def test_pinball_and_coverage_on_a_hand_example():
    actual = np.array([0.0, 10.0, 5.0, -4.0, 2.0])
    # under-prediction costs alpha, over-prediction 1 - alpha
    assert metrics.pinball_loss(np.array([10.0]), np.array([0.0]), 0.9) == pytest.approx(9.0)
    assert metrics.pinball_loss(np.array([0.0]), np.array([10.0]), 0.9) == pytest.approx(1.0)
    assert metrics.pinball_loss(np.array([10.0, 0.0]), np.array([0.0, 10.0]), 0.1) == pytest.approx((1.0 + 9.0) / 2)
    lower = np.array([-1.0, 0.0, 5.0, -3.0, 3.0])
    upper = np.array([1.0, 9.0, 6.0, 0.0, 4.0])
    # inside: 0 in [-1,1], 5 in [5,6] (bounds inclusive); outside: 10, -4, 2
    assert metrics.interval_coverage(actual, lower, upper) == pytest.approx(2 / 5)


def _rows(points, hours, dows, dart, lag_2d, lag_1d=None):
    dates = pd.Timestamp("2025-06-02") + pd.to_timedelta(dows, unit="D")  # 2025-06-02 is a Monday
    lag_1d = [np.nan] * len(hours) if lag_1d is None else lag_1d
    return pd.DataFrame(
        {
            "settlement_point": points,
            "hour_ending": hours,
            "delivery_date": dates,
            "dart": dart,
            "dart_lag_1d": lag_1d,
            "dart_lag_2d": lag_2d,
        }
    )


def test_baselines_on_a_hand_example():
    a, b = "HB_NORTH", "HB_WEST"
    train = _rows([a, a, a, a, a, b, b], [1, 1, 1, 2, 2, 1, 1], [0, 0, 0, 0, 1, 0, 0], [1, 2, 9, 4, 6, 50, 70], [0] * 7)
    test = _rows(
        [a, a, a, a, b, b, "HB_PAN"],
        [1, 2, 2, 3, 1, 2, 1],
        [0, 0, 3, 0, 0, 0, 0],
        [0.0] * 7,
        [5.0, np.nan, -1.0, 2.0, 3.0, 4.0, 5.0],
        [np.nan, 7.0, np.nan, np.nan, 8.0, np.nan, np.nan],
    )
    base = metrics.baseline_predictions(test, metrics.HourOfWeekMedian.fit(train))
    np.testing.assert_array_equal(base["zero"], [0] * 7)
    # D-1's hour where it was published (dart_lag_1d), else D-2's, else 0.
    np.testing.assert_array_equal(base["same_hour"], [5.0, 7.0, -1.0, 2.0, 8.0, 4.0, 5.0])
    # Per point: (a, 1, Mon) median 2; (a, 2, Mon) 4; (a, 2, Thu) unseen -> a's hour-2 median 5; (a, hour 3) unseen
    # -> a's median 4; (b, 1, Mon) 60; (b, 2) unseen -> b's median 60; HB_PAN unseen -> the median of all rows, 6.
    np.testing.assert_array_equal(base["hour_dow"], [2.0, 4.0, 5.0, 4.0, 60.0, 60.0, 6.0])


def test_the_hour_of_week_table_survives_json():
    train = _rows(["HB_WEST"] * 3, [1, 2, 3], [0, 1, 2], [1.0, 2.0, 3.0], [0.0] * 3)
    table = metrics.HourOfWeekMedian.fit(train)
    again = metrics.HourOfWeekMedian.from_dict(json.loads(json.dumps(table.to_dict())))
    np.testing.assert_array_equal(again.predict(train), table.predict(train))


def test_comparison_table_and_skill():
    actual = np.array([1.0, 2.0, -1.0])
    table = metrics.comparison_table(actual, actual, {"zero": np.zeros(3), "same_hour": np.ones(3)}, "lgbm")
    assert list(table.index) == ["lgbm", "baseline_zero", "baseline_same_hour"]
    assert list(table.columns) == ["rmse", "mae", "r2", "sign_accuracy"]
    assert table.loc["lgbm", "mae"] == 0 and table.loc["baseline_zero", "mae"] == pytest.approx(4 / 3)
    assert metrics.skill(1.0, 4.0) == 0.75


def test_evaluate_scores_model_and_baselines_on_the_same_rows(hourly_frame):
    split = chronological_split(hourly_frame)

    def perfect(rows):
        pred = pd.DataFrame({"p10": rows["dart"] - 1, "p50": rows["dart"], "p90": rows["dart"] + 1})
        pred.iloc[:5] = np.nan  # e.g. LSTM rows without a full window
        return pred

    values, table = metrics.evaluate(split.train, split.val, split.test, perfect(split.val), perfect(split.test))
    assert set(values) == EXPECTED_NAMES | per_point_names(POINTS)
    assert values["test_mae"] == 0 and values["test_mae_skill"] == 1 and values["test_p10_p90_coverage"] == 1
    scored = split.test.iloc[5:]
    assert values["baseline_zero_test_mae"] == pytest.approx(scored["dart"].abs().mean())
    last_known = scored["dart_lag_1d"].fillna(scored["dart_lag_2d"]).fillna(0)
    assert table.loc["baseline_same_hour", "mae"] == pytest.approx((scored["dart"] - last_known).abs().mean())
    west = scored[scored["settlement_point"] == "HB_WEST"]
    assert values["baseline_zero_test_mae_HB_WEST"] == pytest.approx(west["dart"].abs().mean())
    assert values["test_mae_skill_HB_WEST"] == 1 and values["test_p10_p90_coverage_HB_WEST"] == 1


def test_per_point_and_trade_metrics_on_a_hand_example():
    rows = _rows(["A", "A", "B", "B"], [1, 2, 1, 2], [0] * 4, [4.0, -2.0, 1.0, -8.0], [0.0] * 4)
    pred = pd.DataFrame({"p10": [0.0, -9, -9, -9], "p50": [2.0, 1.0, -3.0, -6.0], "p90": [3.0, 9, 9, 9]})
    values, _ = metrics.evaluate(rows, rows, rows, pred, pred, trade_threshold=1.5)
    # Traded: |P50| > 1.5 -> rows 0, 2, 3; signs right on rows 0 and 3.
    assert values["test_traded_share"] == 0.75 and values["test_sign_accuracy_traded"] == pytest.approx(2 / 3)
    assert values["trade_threshold"] == 1.5
    # A: MAE (2 + 3) / 2 = 2.5; its baselines: zero 3, hour-of-week (its own rows) 0: skill 1 - 2.5 / 0 -> nan.
    assert values["test_mae_A"] == 2.5 and values["baseline_zero_test_mae_A"] == 3.0
    assert values["test_p10_p90_coverage_A"] == 0.5 and values["test_sign_accuracy_traded_B"] == 0.5
    table = metrics.per_point_table(values)
    assert list(table.index) == ["A", "B", "pooled"]
    assert table.loc["pooled", "test_mae"] == values["test_mae"] and table.loc["B", "test_mae"] == 3.0
    assert table.loc["A", "best_baseline"] == "hour_dow" and table.loc["pooled", "best_baseline"] == "hour_dow"
