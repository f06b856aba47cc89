import json

import numpy as np
import pandas as pd
import pytest

from dart_assets.common.split import SplitBoundaries
from dart_assets.ml.dataset import (
    FeatureTransform,
    build_windows,
    chronological_split,
    model_columns,
    quantile_frame,
)


def test_split_is_chronological_disjoint_and_follows_fractions(hourly_frame):
    split = chronological_split(hourly_frame, (0.8, 0.1, 0.1))
    stamps = [set(part["timestamp_utc"]) for part in (split.train, split.val, split.test)]
    assert not (stamps[0] & stamps[1]) and not (stamps[1] & stamps[2]) and not (stamps[0] & stamps[2])
    assert split.train["timestamp_utc"].max() < split.val["timestamp_utc"].min()
    assert split.val["timestamp_utc"].max() < split.test["timestamp_utc"].min()
    total = sum(len(s) for s in stamps)
    assert [round(len(s) / total, 2) for s in stamps] == [0.8, 0.1, 0.1]
    # all points share the boundaries and unknown-target rows are gone
    for part in (split.train, split.val, split.test):
        assert part["dart"].notna().all()
        assert part.groupby("timestamp_utc")["settlement_point"].nunique().eq(3).all()
    b = split.boundaries
    assert b.train_end == split.train["timestamp_utc"].max() and b.test_start == split.test["timestamp_utc"].min()
    assert SplitBoundaries.from_dict(json.loads(json.dumps(b.to_dict()))) == b


def test_split_fractions_are_configurable_and_validated(hourly_frame):
    split = chronological_split(hourly_frame, (0.6, 0.2, 0.2))
    assert split.train["timestamp_utc"].nunique() == pytest.approx(
        0.6 * hourly_frame.dropna(subset=["dart"])["timestamp_utc"].nunique(), abs=1
    )
    with pytest.raises(ValueError, match=r"split fractions must be three positive numbers summing to 1"):
        chronological_split(hourly_frame, (0.8, 0.3, 0.1))


@pytest.mark.parametrize("leak", ["dart", "dam_price", "rtm_price"])
def test_leaky_feature_columns_are_refused(hourly_frame, feature_columns, leak):
    with pytest.raises(ValueError, match="same-hour"):
        model_columns([*feature_columns, leak])
    with pytest.raises(ValueError, match="same-hour"):
        FeatureTransform.fit(hourly_frame, [*feature_columns, leak])


def test_transform_is_fitted_on_train_only_and_round_trips_json(hourly_frame, feature_columns):
    split = chronological_split(hourly_frame)
    fitted = FeatureTransform.fit(split.train, feature_columns)
    assert fitted.means["load_forecast_mw"] == pytest.approx(split.train["load_forecast_mw"].mean())
    assert fitted.target_mean == pytest.approx(split.train["dart"].mean())
    # Rewriting everything outside training must not move a fitted parameter.
    tampered = pd.concat([split.train, split.test.assign(load_forecast_mw=1e9, dart=1e6, settlement_point="NEW_HUB")])
    refit = FeatureTransform.fit(tampered[tampered["timestamp_utc"] <= split.boundaries.train_end], feature_columns)
    assert refit.to_dict() == fitted.to_dict()
    assert "NEW_HUB" not in fitted.categories["settlement_point"]
    # sort_keys reorders the category dict: the matrix layout must follow the column order regardless
    restored = FeatureTransform.from_dict(json.loads(json.dumps(fitted.to_dict(), sort_keys=True)))
    np.testing.assert_array_equal(restored.lstm_matrix(split.test), fitted.lstm_matrix(split.test))
    pd.testing.assert_frame_equal(restored.booster_frame(split.test), fitted.booster_frame(split.test))


def test_encodings_keep_nan_for_boosters_and_fill_mean_for_lstm(hourly_frame, feature_columns):
    split = chronological_split(hourly_frame)
    transform = FeatureTransform.fit(split.train, feature_columns)
    rows = split.test.head(3).copy()
    rows.loc[rows.index[0], "dart_lag_2d"] = np.nan
    rows.loc[rows.index[1], "settlement_point"] = "UNSEEN"
    booster = transform.booster_frame(rows)
    assert np.isnan(booster.iloc[0]["dart_lag_2d"]) and np.isnan(booster.iloc[1]["settlement_point"])
    matrix = transform.lstm_matrix(rows)
    assert not np.isnan(matrix).any()
    assert matrix[0, transform.numeric.index("dart_lag_2d")] == 0.0
    assert matrix.shape[1] == transform.lstm_width()


def test_windows_stay_inside_their_split_and_never_look_forward(hourly_frame, feature_columns):
    split = chronological_split(hourly_frame)
    transform = FeatureTransform.fit(split.train, feature_columns)
    lookback = 24
    windows = build_windows(split.val, transform, lookback)
    n_points = split.val["settlement_point"].nunique()
    assert len(windows) == len(split.val) - n_points * (lookback - 1)
    ordered = split.val.sort_values(["settlement_point", "timestamp_utc"])
    positions = np.arange(len(windows))
    batch = windows.batch(positions)
    assert batch.shape == (len(windows), lookback, transform.lstm_width())
    for i in (0, len(windows) // 2, len(windows) - 1):
        end = ordered.index.get_loc(windows.labels[i])
        rows = ordered.iloc[end - lookback + 1 : end + 1]
        assert rows["settlement_point"].nunique() == 1
        assert rows["timestamp_utc"].iloc[-1] == split.val.loc[windows.labels[i], "timestamp_utc"]
        assert rows["timestamp_utc"].min() >= split.boundaries.val_start
        np.testing.assert_array_equal(batch[i], transform.lstm_matrix(rows))
    # the first window of each point ends exactly lookback-1 hours after the split starts
    ends = split.val.loc[windows.labels, "timestamp_utc"]
    assert ends.min() == split.boundaries.val_start + pd.Timedelta(hours=lookback - 1)


def test_windows_skip_rows_after_a_gap(hourly_frame, feature_columns):
    split = chronological_split(hourly_frame)
    transform = FeatureTransform.fit(split.train, feature_columns)
    one_point = split.test[split.test["settlement_point"] == "HB_NORTH"]
    gap = one_point.drop(one_point.index[30])
    windows = build_windows(gap, transform, 24)
    # rows 23..29 have windows; rows 31..53 would span the missing hour
    assert len(windows) == len(one_point) - 23 - 24


def test_quantile_frame_clips_crossing_quantiles_to_the_median():
    out = quantile_frame(pd.Index([5, 6]), np.array([3.0, 0.0]), np.array([2.0, 1.0]), np.array([1.0, 2.0]))
    assert out.to_dict("list") == {"p10": [2.0, 0.0], "p50": [2.0, 1.0], "p90": [2.0, 2.0]}
    assert list(out.index) == [5, 6]
