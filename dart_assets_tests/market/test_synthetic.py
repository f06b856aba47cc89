"""The built-in market generator: reproducible per (point, day), ERCOT-like, valid, and with a learnable DART."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from dart_assets import features
from dart_assets.market import schemas, synthetic
from dart_assets.market.schemas import MarketDataError

POINTS = ["HB_NORTH", "HB_WEST"]
TABLES = ["dam_prices", "rtm_prices", "system_conditions", "driver_forecasts"]


@pytest.fixture(scope="module")
def half_year() -> dict[str, pd.DataFrame]:
    return synthetic.generate("2024-01-01", "2024-06-30", POINTS)


def one_day(tables: dict[str, pd.DataFrame], day: str, point: str | None = None) -> dict[str, pd.DataFrame]:
    out = {}
    for name, frame in tables.items():
        rows = frame[frame.delivery_date == pd.Timestamp(day)]
        if point is not None and "settlement_point" in rows:
            rows = rows[rows.settlement_point == point]
        out[name] = rows.reset_index(drop=True)
    return out


def test_a_day_alone_equals_the_same_day_inside_a_range(half_year):
    for day in ("2024-01-01", "2024-06-01"):
        alone = synthetic.generate(day, day, POINTS)
        for name in TABLES:
            pd.testing.assert_frame_equal(alone[name], one_day(half_year, day)[name])


def test_a_point_does_not_depend_on_which_other_points_are_generated():
    west = synthetic.generate("2024-06-01", "2024-06-02", ["HB_WEST"])
    both = synthetic.generate("2024-06-01", "2024-06-02", ["HB_HOUSTON", "HB_WEST"])
    for name in TABLES:
        rows = both[name]
        if "settlement_point" in rows:
            rows = rows[rows.settlement_point == "HB_WEST"].reset_index(drop=True)
        pd.testing.assert_frame_equal(west[name], rows)


def test_reproducible_across_processes_whatever_the_hash_seed():
    """Dagster runs steps in separate processes: a seed derived from hash(str) would differ between them."""
    code = (
        "from dart_assets.market import synthetic;"
        "t = synthetic.generate('2024-06-01', '2024-06-01', ['HB_WEST']);"
        "print(repr(float(t['dam_prices'].dam_price.sum())), repr(float(t['rtm_prices'].rtm_price.sum())))"
    )
    seed = "1" if os.environ.get("PYTHONHASHSEED") != "1" else "2"  # differs from this process's seed
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={"PYTHONHASHSEED": seed, "PATH": ""},
    ).stdout
    here = synthetic.generate("2024-06-01", "2024-06-01", ["HB_WEST"])
    dam, rtm = float(here["dam_prices"].dam_price.sum()), float(here["rtm_prices"].rtm_price.sum())
    assert other == f"{dam!r} {rtm!r}\n"


def test_points_differ_but_share_the_system(half_year):
    day = one_day(half_year, "2024-06-01")
    north = day["rtm_prices"][day["rtm_prices"].settlement_point == "HB_NORTH"].rtm_price.to_numpy()
    west = day["rtm_prices"][day["rtm_prices"].settlement_point == "HB_WEST"].rtm_price.to_numpy()
    assert len(north) == len(west) == 24
    assert np.abs(north - west).mean() > 1.0
    assert len(day["system_conditions"]) == 24  # one system row per hour, not per point


def test_dst_days_have_their_hour_counts():
    tables = synthetic.generate("2024-03-10", "2024-03-10", POINTS)
    assert len(tables["dam_prices"]) == len(tables["rtm_prices"]) == 2 * 23
    tables = synthetic.generate("2024-11-03", "2024-11-03", POINTS)
    assert len(tables["system_conditions"]) == 25
    assert tables["rtm_prices"].repeated_hour.sum() == 2  # one repeated HE02 per point


def test_validates_against_the_tidy_schemas(half_year):
    for name in TABLES:
        validated = schemas.validate(name, half_year[name], "synthetic")
        assert len(validated) == len(half_year[name])
    assert list(half_year["dam_prices"].columns) == schemas.DAM_COLUMNS
    assert list(half_year["rtm_prices"].columns) == schemas.RTM_COLUMNS
    assert set(half_year["system_conditions"].columns) == {*schemas.KEY_COLUMNS, *schemas.DRIVER_ACTUALS}
    assert set(half_year["driver_forecasts"].columns) == {*schemas.FORECAST_KEY_COLUMNS, *schemas.DRIVER_FORECASTS}
    assert not half_year["system_conditions"].isna().any().any()
    assert not half_year["driver_forecasts"].isna().any().any()


def test_prices_have_the_shape_of_ercot(half_year):
    dam, rtm = half_year["dam_prices"], half_year["rtm_prices"]
    assert (
        dam[["timestamp_utc", "settlement_point"]].to_numpy() == rtm[["timestamp_utc", "settlement_point"]].to_numpy()
    ).all()
    # Negative RTM prices when wind floods the West; rarer at the North hub.
    negative = rtm.assign(neg=rtm.rtm_price < 0).groupby("settlement_point").neg.mean()
    assert negative["HB_WEST"] > 0.03 and 0 < negative["HB_NORTH"] < negative["HB_WEST"]
    # Fat-tailed scarcity spikes.
    assert rtm.rtm_price.max() > 500
    assert rtm.rtm_price.kurt() > 20
    assert (rtm.rtm_price > 10 * rtm.rtm_price.median()).sum() >= 10
    # DART is centred: the market is roughly efficient.
    dart = dam.dam_price - rtm.rtm_price
    assert abs(dart.mean()) < 3.0 and abs(dart.median()) < 3.0
    assert 0.3 < (dart < 0).mean() < 0.7
    # The evening peak clears higher than the night.
    local_hour = dam.timestamp_utc.dt.tz_convert("America/Chicago").dt.hour
    assert dam[local_hour.between(16, 20)].dam_price.mean() > 1.5 * dam[local_hour.between(1, 4)].dam_price.mean()
    assert (
        dam.dam_price.between(schemas.PRICE_FLOOR, 5000).all()
        and rtm.rtm_price.between(schemas.PRICE_FLOOR, 5000).all()
    )


def test_summer_load_is_above_spring(half_year):
    system = half_year["system_conditions"]
    month = system.delivery_date.dt.month
    june, april = system[month == 6].load_mw.mean(), system[month == 4].load_mw.mean()
    assert june > 1.15 * april
    assert system.solar_mw.min() >= 0 and system[system.hour_ending == 1].solar_mw.max() == 0  # no sun at midnight


def test_unknown_point_lists_the_valid_ones():
    with pytest.raises(
        MarketDataError, match=r"unknown settlement point\(s\) HB_NOWHERE; it generates: HB_HOUSTON, .*LZ_RAYBN"
    ):
        synthetic.generate("2024-06-01", "2024-06-01", ["HB_NORTH", "HB_NOWHERE"])


def test_empty_range_is_an_error():
    with pytest.raises(ValueError, match="empty date range"):
        synthetic.generate("2024-06-02", "2024-06-01", POINTS)


def test_forecasts_are_posted_three_times_and_sharpen_with_lead_time(half_year):
    forecasts, system = half_year["driver_forecasts"], half_year["system_conditions"]
    assert forecasts.groupby("timestamp_utc").size().eq(3).all()
    local = forecasts[schemas.POSTED_COLUMN].dt.tz_convert("America/Chicago")
    lead_days = (forecasts["delivery_date"] - local.dt.tz_localize(None).dt.normalize()).dt.days
    clocks = set(zip(lead_days, local.dt.strftime("%H:%M"), strict=True))
    assert clocks == {(2, "09:55"), (1, "05:55"), (1, "09:55")}  # also across DST: always the Central clock
    # Regions add up to their system total in every posting.
    wind_regions = forecasts[[f"wind_forecast_{r}_mw" for r in schemas.WIND_REGIONS]].sum(axis=1)
    np.testing.assert_allclose(wind_regions, forecasts["wind_forecast_mw"], rtol=1e-9)
    zones = forecasts[[f"load_forecast_zone_{z}_mw" for z in schemas.LOAD_FORECAST_ZONES]].sum(axis=1)
    np.testing.assert_allclose(zones, forecasts["load_forecast_mw"], rtol=1e-9)
    # The later the posting, the closer to what happened.
    joined = forecasts.assign(clock=list(zip(lead_days, local.dt.hour, strict=True))).merge(system, on="timestamp_utc")
    error = (joined["load_forecast_mw"] - joined["load_mw"]).abs().groupby(joined["clock"]).mean()
    assert error[(2, 9)] > 1.3 * error[(1, 5)] > 1.3 * error[(1, 9)], error
    wind_error = (joined["wind_forecast_mw"] - joined["wind_mw"]).abs().groupby(joined["clock"]).mean()
    assert wind_error[(2, 9)] > wind_error[(1, 5)] > wind_error[(1, 9)], wind_error


def test_decision_time_picks_the_posting(half_year):
    """At 09:00 the D-1 05:55 posting is the latest; at 09:55 the D-1 09:55 one (the one the DAM clears on)."""
    import datetime as dt

    forecasts = half_year["driver_forecasts"]
    at_0900 = features.known_forecasts(forecasts, dt.time(9, 0)).set_index("timestamp_utc")
    at_0955 = features.known_forecasts(forecasts, dt.time(9, 55)).set_index("timestamp_utc")
    at_0600 = features.known_forecasts(forecasts, dt.time(5, 54)).set_index("timestamp_utc")
    local = forecasts[schemas.POSTED_COLUMN].dt.tz_convert("America/Chicago")
    for frame, clock, lead in ((at_0900, "05:55", 1), (at_0955, "09:55", 1), (at_0600, "09:55", 2)):
        day_before = forecasts["delivery_date"] - pd.Timedelta(days=lead)
        chosen = forecasts[
            (local.dt.strftime("%H:%M") == clock) & (local.dt.tz_localize(None).dt.normalize() == day_before)
        ]
        expected = chosen.set_index("timestamp_utc")[schemas.DRIVER_FORECASTS]
        pd.testing.assert_frame_equal(frame[schemas.DRIVER_FORECASTS], expected, check_names=False)


def test_dart_is_learnable_from_decision_time_features(half_year):
    """A small model on the features beats the zero-spread baseline on a later holdout: the data has signal."""
    lgb = pytest.importorskip("lightgbm")
    table = features.build_features(
        half_year["dam_prices"],
        half_year["rtm_prices"],
        half_year["system_conditions"],
        POINTS,
        forecasts=half_year["driver_forecasts"],
    )
    table = table.dropna(subset=[features.TARGET])
    columns = features.feature_columns(table)
    assert {"load_forecast_mw", "wind_forecast_mw", "dart_lag_2d", "dart_last_1d"} <= set(columns)
    X = table[columns].assign(point=(table.settlement_point == "HB_WEST").astype(int))
    y = table[features.TARGET].to_numpy()
    train = (table.delivery_date < "2024-05-15").to_numpy()
    params = {"objective": "l1", "verbose": -1, "num_threads": 1, "deterministic": True, "seed": 0}
    model = lgb.train(params, lgb.Dataset(X[train], y[train]), num_boost_round=60)
    mae = np.abs(y[~train] - model.predict(X[~train])).mean()
    zero_mae = np.abs(y[~train]).mean()
    assert mae < 0.95 * zero_mae, (mae, zero_mae)
