"""The serving rules: chosen on validation, stored with the model, applied the same way at training and reload."""

import json

import numpy as np
import pandas as pd
import pytest

from dart_assets.ml import serving
from dart_assets.ml.artifacts import load_bundle
from dart_assets.ml.metrics import HourOfWeekMedian, mae
from dart_assets_tests.ml.conftest import make_hourly_features, served_rows


@pytest.fixture(scope="module")
def frame():
    return make_hourly_features(days=30).dropna(subset=["dart"])


def _raw(p50: np.ndarray, width: float = 2.0) -> pd.DataFrame:
    return pd.DataFrame({"p10": p50 - width, "p50": p50, "p90": p50 + width})


def test_a_model_worse_than_naive_is_replaced_by_the_naive_forecast_and_labelled(frame):
    train, val = frame.iloc[: len(frame) // 2], frame.iloc[len(frame) // 2 :]
    noise = np.random.default_rng(0).normal(0, 50, len(val))
    rules = serving.choose(val, _raw(noise), HourOfWeekMedian.fit(train))
    assert rules.shrink_weight == 0.0 and rules.fallback in {"zero spread", "hour-of-week median"}


def test_a_good_model_keeps_its_weight_and_the_threshold_is_the_validation_quantile(frame):
    train, val = frame.iloc[: len(frame) // 2], frame.iloc[len(frame) // 2 :]
    good = val["dart"].to_numpy() + np.random.default_rng(1).normal(0, 0.5, len(val))
    rules = serving.choose(val, _raw(good), HourOfWeekMedian.fit(train))
    assert rules.shrink_weight == 1.0 and rules.fallback is None
    assert rules.trade_threshold == pytest.approx(np.quantile(np.abs(good), 0.75))
    # The validation shift makes the band cover 80% of the validation hours.
    served = serving.shrink(_raw(good), np.zeros(len(val)), 1.0)
    inside = np.abs(val["dart"].to_numpy() - good) <= 2.0 + rules.band_shift
    assert inside.mean() == pytest.approx(0.8, abs=0.01) and served["p50"].equals(_raw(good)["p50"])


def test_shrink_moves_the_band_with_the_median():
    raw = _raw(np.array([10.0, -4.0]))
    out = serving.shrink(raw, np.array([0.0, 2.0]), 0.3)
    np.testing.assert_allclose(out["p50"], [3.0, 0.2])
    np.testing.assert_allclose(out["p90"] - out["p50"], [2.0, 2.0])


def test_ties_go_to_the_larger_weight(frame):
    train, val = frame.iloc[: len(frame) // 2], frame.iloc[len(frame) // 2 :]
    naive = HourOfWeekMedian.fit(train)
    rules = serving.choose(val, _raw(naive.predict(val)), naive, anchors=("hour_dow",))
    assert rules.shrink_weight == 1.0  # every w gives the same MAE


def test_serving_rules_round_trip_through_a_saved_bundle(trained, small_frame):
    result, _ = trained
    metadata = json.loads((result.bundle_dir / "metadata.json").read_text())
    assert metadata["serving"] == result.serving.to_dict()
    assert metadata["band_shift"] == result.serving.band_shift
    assert metadata["metrics"]["trade_threshold"] == result.serving.trade_threshold
    loaded = load_bundle(result.bundle_dir)
    assert loaded.serving == result.serving
    # Val and test rows together, as training served them: the reload reproduces the scored test forecast, band
    # (from the days before each test day) included.
    rows = served_rows(result, small_frame)
    again = loaded.predict(rows).loc[result.test_predictions.index]
    pd.testing.assert_frame_equal(again, result.test_predictions, check_exact=True)
    # A shrunk serving rule is applied on reload: P50 = w x model + (1 - w) x anchor.
    half = load_bundle(result.bundle_dir)
    half.metadata = {**half.metadata, "serving": {**metadata["serving"], "shrink_weight": 0.5, "shrink_anchor": "zero"}}
    scored = rows.loc[result.test_predictions.index]
    raw = loaded.model.predict(rows).loc[scored.index]
    np.testing.assert_allclose(half.predict(rows).loc[scored.index, "p50"], 0.5 * raw["p50"], equal_nan=True)
    assert mae(scored["dart"], loaded.predict(rows).loc[scored.index, "p50"]) == pytest.approx(
        result.metrics["test_mae"]
    )
