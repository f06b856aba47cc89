import numpy as np
import pandas as pd
import pytest

from dart_assets.ml import metrics
from dart_assets.ml.dataset import chronological_split
from dart_assets_tests.ml.conftest import EXPECTED_NAMES


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


def _rows(hours, dows, dart, lag):
    dates = pd.Timestamp("2025-06-02") + pd.to_timedelta(dows, unit="D")  # 2025-06-02 is a Monday
    return pd.DataFrame({"hour_ending": hours, "delivery_date": dates, "dart": dart, "dart_lag_2d": lag})


def test_baselines_on_a_hand_example():
    train = _rows([1, 1, 1, 2, 2], [0, 0, 0, 0, 1], [1.0, 2.0, 9.0, 4.0, 6.0], [0.0] * 5)
    test = _rows([1, 2, 2, 3], [0, 0, 3, 0], [0.0, 0.0, 0.0, 0.0], [5.0, np.nan, -1.0, 2.0])
    base = metrics.baseline_predictions(test, train)
    np.testing.assert_array_equal(base["zero"], [0, 0, 0, 0])
    np.testing.assert_array_equal(base["same_hour"], [5.0, 0.0, -1.0, 2.0])  # NaN lag -> 0
    # (1, Mon) median 2; (2, Mon) 4; (2, Thu) unseen -> hour-2 median 5; hour 3 unseen -> overall median 4
    np.testing.assert_array_equal(base["hour_dow"], [2.0, 4.0, 5.0, 4.0])


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
    assert set(values) == EXPECTED_NAMES
    assert values["test_mae"] == 0 and values["test_mae_skill"] == 1 and values["test_p10_p90_coverage"] == 1
    scored = split.test.iloc[5:]
    assert values["baseline_zero_test_mae"] == pytest.approx(scored["dart"].abs().mean())
    assert table.loc["baseline_same_hour", "mae"] == pytest.approx(
        (scored["dart"] - scored["dart_lag_2d"].fillna(0)).abs().mean()
    )
