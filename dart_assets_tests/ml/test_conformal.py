"""The P10-P90 calibration on validation: the shift is the finite-sample quantile, and it carries to new data."""

import numpy as np
import pandas as pd

from dart_assets.ml.conformal import band_shift, calibrate, recent_shifts


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


def _history(days: int = 14, points=("HB_NORTH", "HB_WEST"), seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`days` delivery days x 24 hours per point with a known target, and a [-1, 1] band around 0."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2025-06-01", periods=days, freq="D")
    rows = pd.DataFrame(
        [(d, p, h) for d in dates for p in points for h in range(1, 25)],
        columns=["delivery_date", "settlement_point", "hour_ending"],
    )
    rows["dart"] = rng.standard_t(3, len(rows)) * 4
    return rows, _band(np.full(len(rows), -1.0), np.zeros(len(rows)), np.full(len(rows), 1.0))


def test_recent_shift_of_day_d_reads_only_days_d_minus_8_to_d_minus_2_of_its_point():
    rows, band = _history()
    day = pd.Timestamp("2025-06-12")
    shifts = recent_shifts(rows, band, fallback=99.0)
    of_day = (rows["delivery_date"] == day) & (rows["settlement_point"] == "HB_WEST")
    window = (
        (rows["settlement_point"] == "HB_WEST")
        & (rows["delivery_date"] >= day - pd.Timedelta(days=8))
        & (rows["delivery_date"] <= day - pd.Timedelta(days=2))
    )
    assert set(shifts[of_day]) == {band_shift(rows.loc[window, "dart"].to_numpy(), band[window])}

    # Nothing settled after D-2 (D-1's published morning, D itself, later days) nor older than D-8 moves D's band,
    # nor the other point's hours; a change on D-2 does.
    later = rows.copy()
    later.loc[
        (rows["delivery_date"] >= day - pd.Timedelta(days=1)) | (rows["delivery_date"] < day - pd.Timedelta(days=8)),
        "dart",
    ] += 500
    later.loc[rows["settlement_point"] == "HB_NORTH", "dart"] *= 10
    np.testing.assert_array_equal(recent_shifts(later, band, 99.0)[of_day], shifts[of_day])
    moved = rows.copy()
    moved.loc[window & (rows["delivery_date"] == day - pd.Timedelta(days=2)), "dart"] += 500
    assert (recent_shifts(moved, band, 99.0)[of_day] > shifts[of_day]).all()


def test_recent_shift_falls_back_to_the_validation_shift_without_enough_settled_hours():
    rows, band = _history(days=10)
    shifts = recent_shifts(rows, band, fallback=99.0)
    days = rows["delivery_date"]
    # Until 06-04 fewer than three settled days (72 h, MIN_RECENT_HOURS) lie in D-8..D-2; from 06-05 on, enough.
    assert (shifts[days <= pd.Timestamp("2025-06-04")] == 99.0).all()
    assert (shifts[days == pd.Timestamp("2025-06-05")] != 99.0).all()
    # A day whose targets are unknown (the day being forecast) still gets its band from the days before.
    rows.loc[days == days.max(), "dart"] = np.nan
    np.testing.assert_array_equal(recent_shifts(rows, band, 99.0), shifts)
    assert (recent_shifts(rows.drop(columns="dart"), band, 7.0) == 7.0).all()
