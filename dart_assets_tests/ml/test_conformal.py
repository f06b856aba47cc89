"""The P10-P90 calibration on validation: the shift is the finite-sample quantile, and it carries to new data."""

import numpy as np
import pandas as pd

from dart_assets.ml.conformal import band_shift, calibrate


def _band(p10, p50, p90) -> pd.DataFrame:
    return pd.DataFrame({"p10": p10, "p50": p50, "p90": p90}, dtype=float)


def test_shift_is_the_finite_sample_quantile_of_the_misses():
    # Ten hours with band [-1, 1]; actuals miss it by 0..9 beyond the edge (or sit inside: negative miss).
    actual = np.array([0.0, 1.5, -2.0, 3.0, -4.0, 5.0, -6.0, 7.0, -8.0, 10.0])
    band = _band([-1.0] * 10, [0.0] * 10, [1.0] * 10)
    # Misses: -1, .5, 1, 2, 3, 4, 5, 6, 7, 9; ceil(11 * 0.8) / 10 = 0.9 -> the 9th smallest = 7.
    assert band_shift(actual, band) == 7.0
    widened = calibrate(band, 7.0)
    inside = (actual >= widened["p10"]) & (actual <= widened["p90"])
    assert inside.mean() == 0.9  # >= 80% by construction on the calibration set


def test_an_overwide_band_is_narrowed_but_never_crosses_the_median():
    actual = np.zeros(20)
    band = _band(np.full(20, -10.0), np.zeros(20), np.full(20, 10.0))
    shift = band_shift(actual, band)
    assert shift == -10.0
    narrowed = calibrate(band, shift)
    assert (narrowed["p10"] <= narrowed["p50"]).all() and (narrowed["p90"] >= narrowed["p50"]).all()


def test_rows_without_a_prediction_are_ignored():
    actual = np.array([100.0, 0.5, -0.5, 0.2, 0.1])
    band = _band([np.nan, -1, -1, -1, -1], [np.nan, 0, 0, 0, 0], [np.nan, 1, 1, 1, 1])
    assert band_shift(actual, band) < 0  # the 100 with no forecast does not widen anything
    assert band_shift(np.array([]), _band([], [], [])) == 0.0
