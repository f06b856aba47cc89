"""The LSTM's NumPy forward pass (what serving runs) against torch's, and the weights it loads from a bundle."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dart_assets.common.split import chronological_split
from dart_assets.ml import lstm_numpy
from dart_assets.ml.dataset import FeatureTransform, build_windows
from dart_assets.ml.lstm import DEFAULT_PARAMS, STATE_FILE, WEIGHTS_FILE, LstmModel
from dart_assets.ml.lstm_network import from_numpy, predict_scaled
from dart_assets_tests.ml.conftest import FEATURES, make_hourly_features

PARAMS = {**DEFAULT_PARAMS, "hidden_size": 16, "max_epochs": 2}


@pytest.fixture(scope="module")
def fitted():
    frame = make_hourly_features(days=30).dropna(subset=["dart"])
    split = chronological_split(frame, "timestamp_utc")
    transform = FeatureTransform.fit(split.train, FEATURES)
    model = LstmModel.fit(split, transform, PARAMS, 0, 1, lambda message: None).model
    return model, frame


def _windows(model, frame):
    return build_windows(frame, model.transform, model.lookback)


def _torch_forward(model, windows):
    """torch's output for all windows in one call: no batching involved."""
    with torch.no_grad():
        return from_numpy(model.network)(torch.from_numpy(windows.batch(np.arange(len(windows))))).numpy()


@pytest.mark.parametrize("batch", [1, 10, 2048], ids=["one-window-batches", "ragged-batches", "one-partial-batch"])
def test_the_numpy_forward_equals_torchs_in_any_batching(fitted, batch, monkeypatch):
    model, frame = fitted
    windows = _windows(model, frame.iloc[:300])  # 100 hours of 3 points: 3 x 77 windows
    assert len(windows) == 231 and len(windows) % 10 == 1
    monkeypatch.setattr(lstm_numpy, "PREDICT_BATCH", batch)
    served = model.network.predict_scaled(windows)
    expected = _torch_forward(model, windows)
    assert served.shape == (231, 3) and served.dtype == np.float64
    np.testing.assert_allclose(served, expected, rtol=0, atol=1e-5)
    # The torch path batched the same way agrees too, and the outputs are a real, non-crossing forecast.
    np.testing.assert_allclose(predict_scaled(from_numpy(model.network), windows), expected, rtol=0, atol=1e-5)
    assert served[:, 1].std() > 0.1
    assert (served[:, 0] < served[:, 1]).all() and (served[:, 1] < served[:, 2]).all()


def test_the_forward_pass_is_float32_and_stable_far_outside_the_training_range(fitted):
    model, frame = fitted
    windows = _windows(model, frame.iloc[:150])
    extreme = windows.batch(np.arange(len(windows))) * np.float32(1e4)  # saturates every gate and both gaps
    with np.errstate(over="raise", invalid="raise"):
        served = model.network.forward(extreme)
    assert served.dtype == np.float32 and np.isfinite(served).all()
    with torch.no_grad():
        expected = from_numpy(model.network)(torch.from_numpy(extreme)).numpy()
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-3)


def test_no_windows_give_no_predictions(fitted):
    model, frame = fitted
    assert model.network.predict_scaled(_windows(model, frame.iloc[:3])).shape == (0, 3)


def test_the_weights_round_trip_through_both_saved_files(fitted, tmp_path):
    model, frame = fitted
    model.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} >= {WEIGHTS_FILE, STATE_FILE}
    expected = model.predict(frame)
    assert expected["p50"].notna().sum() > 0.9 * len(frame)
    reloaded = LstmModel.load(tmp_path, model.transform, PARAMS)
    assert reloaded.predict(frame).equals(expected)
    # A bundle saved before the NumPy weights: torch reads the state dict into the same arrays.
    (tmp_path / WEIGHTS_FILE).unlink()
    old = LstmModel.load(tmp_path, model.transform, PARAMS)
    assert old.predict(frame).equals(expected)


def test_weights_that_do_not_fit_the_bundle_are_refused_naming_the_file(fitted, tmp_path):
    model, _ = fitted
    model.save(tmp_path)
    with pytest.raises(ValueError, match=rf"{tmp_path / WEIGHTS_FILE}: an LSTM of \d+ inputs and 16 units, but the"):
        LstmModel.load(tmp_path, model.transform, {**PARAMS, "hidden_size": 32})
    state = dict(model.network.state)
    del state["head.bias"]
    np.savez(tmp_path / WEIGHTS_FILE, **state)
    with pytest.raises(ValueError, match=rf"{tmp_path / WEIGHTS_FILE}: expected the arrays .* got"):
        LstmModel.load(tmp_path, model.transform, PARAMS)
    state["head.bias"] = np.zeros(4, dtype=np.float32)
    np.savez(tmp_path / WEIGHTS_FILE, **state)
    with pytest.raises(ValueError, match=r"array shapes \{'head.bias': \(4,\)\} do not fit a \d+-wide LSTM of 16"):
        LstmModel.load(tmp_path, model.transform, PARAMS)
