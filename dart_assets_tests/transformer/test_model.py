import json

import numpy as np
import pandas as pd

from dart_assets.common.split import chronological_split
from dart_assets.common.versions import code_version
from dart_assets.transformer.model import BAND_QUANTILES, SPLIT_FRACTIONS, fit, predict


def test_split_is_chronological_80_10_10(history):
    split = chronological_split(history, "timestamp", SPLIT_FRACTIONS)
    assert [len(split.train), len(split.val), len(split.test)] == [21043, 2630, 2631]
    assert split.train["timestamp"].max() < split.val["timestamp"].min()
    assert split.val["timestamp"].max() < split.test["timestamp"].min()


def test_fit_recovers_generator_trend_and_noise_level(fitted, generator):
    assert fitted["feature_spec"]["trend_degree"] == 1  # the generator's trend is linear
    _, slope = fitted["coefficients"][:2]
    assert abs(slope - generator.growth_kw_per_year) < 0.05
    for name in ("val_rmse", "test_rmse"):
        assert abs(fitted["metrics"][name] - generator.noise_sd_kw) < 0.1
    low, high = fitted["band"]["residual_offsets_kw"]
    assert fitted["band"]["quantiles"] == list(BAND_QUANTILES)
    # P05/P95 of N(0, sd) residuals are about -/+1.645 sd
    assert abs(low + 1.645 * generator.noise_sd_kw) < 0.15 and abs(high - 1.645 * generator.noise_sd_kw) < 0.15


def test_parameters_record_window_seed_and_code_version(fitted, generator):
    assert fitted["seed"] == generator.seed
    assert fitted["data_window"]["all"] == ["2023-01-01 00:00", "2025-12-31 23:00"]
    assert fitted["code_version"] == code_version() and fitted["code_version"]


def test_json_reload_reproduces_predictions_exactly(fitted, tmp_path):
    path = tmp_path / "model.json"
    path.write_text(json.dumps(fitted))
    reloaded = json.loads(path.read_text())
    hours = pd.date_range("2026-01-01", "2030-12-31 23:00", freq="h")
    pd.testing.assert_frame_equal(predict(fitted, hours), predict(reloaded, hours), check_exact=True)


def test_quadratic_trend_chosen_when_growth_accelerates(history):
    years = np.arange(len(history)) / 8766
    accelerating = history.assign(kw=history["kw"] + 3.0 * years**2)
    assert fit(accelerating)["feature_spec"]["trend_degree"] == 2
