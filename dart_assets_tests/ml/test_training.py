import pytest

from dart_assets.ml import families
from dart_assets.ml.training import train_model
from dart_assets_tests.ml.conftest import POINTS, QUICK_PARAMS, TRAINING_NAMES


def test_trainer_beats_the_best_naive_baseline(trained):
    result, _ = trained
    assert set(result.metrics) == TRAINING_NAMES
    assert list(result.comparison.index) == [result.family, "baseline_zero", "baseline_same_hour", "baseline_hour_dow"]
    assert result.comparison.loc[result.family, "mae"] == pytest.approx(result.metrics["test_mae"])
    if result.family == "naive":  # it is a naive baseline: about as good as the best one, by construction
        assert abs(result.metrics["test_mae_skill"]) < 0.05
        return
    assert result.metrics["test_mae_skill"] > 0 and result.metrics["val_mae_skill"] > 0
    assert result.metrics["test_mae"] < result.metrics["best_baseline_test_mae"]
    for point in POINTS:
        assert result.metrics[f"test_mae_skill_{point}"] > 0


def test_quantiles_are_ordered_and_the_band_covers_a_sensible_share(trained):
    result, _ = trained
    predictions = result.test_predictions.dropna()
    # Every test hour is scored: an LSTM reads the look-back of the first test hours from the validation rows.
    assert len(predictions) == result.n_test
    assert (predictions["p10"] <= predictions["p50"]).all() and (predictions["p50"] <= predictions["p90"]).all()
    assert (predictions["p90"] - predictions["p10"]).mean() > 0
    assert 0.5 < result.metrics["test_p10_p90_coverage"] <= 1.0


def test_result_carries_what_tracking_needs(trained, small_frame):
    result, messages = trained
    known = small_frame["dart"].notna().sum()
    assert result.n_train + result.n_val + result.n_test == known
    assert result.split_boundaries["train_end"] < result.split_boundaries["val_start"]
    assert result.best_iteration >= 1 and result.train_seconds > 0
    assert result.plot_png.read_bytes()[:4] == b"\x89PNG"
    assert result.params == {**families.get(result.family).default_params, **QUICK_PARAMS[result.family]}
    assert len(result.input_example) > 0
    if result.family == "lstm":
        assert result.feature_importance is None
        assert result.input_example.shape[1:] == (24, result.model.lstm.input_size)
        assert any("epoch 1:" in m and "val loss" in m for m in messages)
    elif result.family == "naive":
        assert result.feature_importance is None
        assert sum(m.startswith("naive ") for m in messages) == len(POINTS) + 1  # each point, and pooled
    else:
        assert result.feature_importance.iloc[0]["gain"] > 0
        assert any("iteration 10:" in m and "val" in m for m in messages)


def test_same_seed_gives_the_same_predictions(trained, small_frame, feature_columns, tmp_path):
    result, _ = trained
    again = train_model(result.family, small_frame, feature_columns, tmp_path, params=QUICK_PARAMS[result.family])
    assert again.test_predictions.equals(result.test_predictions)


def test_bad_requests_are_refused(small_frame, feature_columns, tmp_path):
    with pytest.raises(ValueError, match="unknown model family"):
        train_model("rf", small_frame, feature_columns, tmp_path)
    with pytest.raises(ValueError, match="unknown lgbm params"):
        train_model("lgbm", small_frame, feature_columns, tmp_path, params={"num_leafs": 3})
    with pytest.raises(ValueError, match="same-hour"):
        train_model("xgb", small_frame, [*feature_columns, "rtm_price"], tmp_path)
