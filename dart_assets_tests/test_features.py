"""hourly_features: the DART target and only what is known at D-1 09:00 Central."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from dart_assets import features
from dart_assets.market import schemas, synthetic
from dart_assets.market.timeutil import decision_time_utc

POINTS = ["HB_NORTH", "HB_WEST"]


@functools.cache
def window(first: str, last: str) -> dict[str, pd.DataFrame]:
    return synthetic.generate(first, last, POINTS)


def tables_around(day: pd.Timestamp, with_forecasts: bool = True) -> dict[str, pd.DataFrame]:
    """~40 days: 30 before D, 9 after; copies, so a test may change them."""
    tables = window(str((day - pd.Timedelta(days=30)).date()), str((day + pd.Timedelta(days=9)).date()))
    tables = {k: v.copy() for k, v in tables.items()}
    if not with_forecasts:
        tables["system_conditions"] = tables["system_conditions"].drop(columns=schemas.SYSTEM_FORECASTS)
    return tables


def build(tables: dict[str, pd.DataFrame], days=None) -> pd.DataFrame:
    return features.build_features(
        tables["dam_prices"], tables["rtm_prices"], tables["system_conditions"], POINTS, days
    )


def perturb_after_cutoff(tables: dict[str, pd.DataFrame], day: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """Change every value a trader could not have seen at D-1 09:00 Central."""
    rng = np.random.default_rng(0)
    cutoff = decision_time_utc(day)
    dam, rtm, system = (tables[k].copy() for k in ("dam_prices", "rtm_prices", "system_conditions"))

    # An hour beginning at or after 09:00 ends after the cutoff: D-1 HE10 onwards, and every later day.
    late_rtm = rtm.timestamp_utc >= cutoff
    d_minus_1 = rtm.delivery_date == day - pd.Timedelta(days=1)
    assert (
        late_rtm[d_minus_1 & (rtm.hour_ending == 10)].all() and not late_rtm[d_minus_1 & (rtm.hour_ending == 9)].any()
    )
    rtm.loc[late_rtm, "rtm_price"] += rng.uniform(50, 500, late_rtm.sum())

    late_dam = dam.delivery_date >= day  # D's DAM clears on D-1 afternoon, after the decision
    dam.loc[late_dam, "dam_price"] -= rng.uniform(50, 500, late_dam.sum())

    actuals = [c for c in schemas.DRIVER_ACTUALS if c in system]
    late_actuals = system.timestamp_utc >= cutoff
    system.loc[late_actuals, actuals] *= rng.uniform(1.2, 1.8, (late_actuals.sum(), len(actuals)))
    forecasts = [c for c in schemas.SYSTEM_FORECASTS if c in system]
    later_forecasts = system.delivery_date > day
    system.loc[later_forecasts, forecasts] *= rng.uniform(1.2, 1.8, (later_forecasts.sum(), len(forecasts)))
    return {"dam_prices": dam, "rtm_prices": rtm, "system_conditions": system}


def rows_of(frame: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    return frame[frame.delivery_date == day].reset_index(drop=True)


@pytest.mark.parametrize("with_forecasts", [True, False], ids=["forecasts", "lagged-actuals"])
@pytest.mark.parametrize(
    "day", ["2024-05-25", "2024-11-04", "2024-03-11"], ids=["summer", "after-fall-back", "after-spring-forward"]
)
def test_no_feature_of_day_d_sees_past_the_decision_time(day, with_forecasts):
    day = pd.Timestamp(day)
    tables = tables_around(day, with_forecasts)
    before = build(tables)
    after = build(perturb_after_cutoff(tables, day))
    columns = features.feature_columns(before)
    assert columns == features.feature_columns(after)
    expected_driver = "load_forecast_mw" if with_forecasts else "load_mw_lag_2d"
    assert expected_driver in columns and "dart_lag_2d" in columns and "dam_lag_1d" in columns

    pd.testing.assert_frame_equal(rows_of(before, day)[columns], rows_of(after, day)[columns])
    # A NaN feature would hide a leak; only HE03 after the spring-forward day has no same-hour lag.
    assert rows_of(before, day)[columns].notna().mean().min() > 0.95
    # The perturbation was real: D's target moved, and the next day's features (which may see D) moved too.
    assert (rows_of(before, day)[features.TARGET] != rows_of(after, day)[features.TARGET]).all()
    next_day = day + pd.Timedelta(days=1)
    assert not rows_of(before, next_day)[columns].equals(rows_of(after, next_day)[columns])
    assert (rows_of(before, next_day)["dam_lag_1d"] != rows_of(after, next_day)["dam_lag_1d"]).all()


def test_feature_columns_exclude_the_target_its_parts_and_identifiers():
    day = pd.Timestamp("2024-05-25")
    table = build(tables_around(day))
    columns = features.feature_columns(table)
    assert not {
        "dart",
        "dam_price",
        "rtm_price",
        "timestamp_utc",
        "delivery_date",
        "settlement_point",
        "repeated_hour",
    } & set(columns)
    assert {"dart", "dam_price", "rtm_price"} <= set(table.columns)
    # Whatever a future change adds, the same-hour prices never become inputs.
    extended = table.assign(rtm_price_copy=1.0)
    assert "rtm_price_copy" in features.feature_columns(extended)
    assert "rtm_price" not in features.feature_columns(extended)


def test_lags_and_rolling_statistics_by_hand():
    day = pd.Timestamp("2024-05-25")
    tables = tables_around(day)
    table = build(tables).set_index(["settlement_point", "delivery_date", "hour_ending"])
    dam = tables["dam_prices"].set_index(["settlement_point", "delivery_date", "hour_ending"]).dam_price.sort_index()
    rtm = tables["rtm_prices"].set_index(["settlement_point", "delivery_date", "hour_ending"]).rtm_price.sort_index()
    dart = dam - rtm

    def at(days_back: int, hour: int, series: pd.Series, point="HB_WEST") -> float:
        return series[(point, day - pd.Timedelta(days=days_back), hour)]

    for hour in (1, 10, 17, 24):
        row = table.loc[("HB_WEST", day, hour)]
        assert row.dart == pytest.approx(at(0, hour, dam) - at(0, hour, rtm))
        assert row.dart_lag_2d == pytest.approx(at(2, hour, dart))
        assert row.dart_lag_3d == pytest.approx(at(3, hour, dart))
        assert row.dart_lag_7d == pytest.approx(at(7, hour, dart))
        assert row.rtm_lag_2d == pytest.approx(at(2, hour, rtm))
        assert row.dam_lag_1d == pytest.approx(at(1, hour, dam))
        assert row.dam_lag_7d == pytest.approx(at(7, hour, dam))
        week = [at(k, hour, dart) for k in range(2, 9)]  # the 7 settled days D-8..D-2
        assert row.dart_mean_7d == pytest.approx(np.mean(week))
        assert row.dart_std_7d == pytest.approx(np.std(week, ddof=1))

    row = table.loc[("HB_WEST", day, 1)]
    d1, d2 = day - pd.Timedelta(days=1), day - pd.Timedelta(days=2)
    assert row.dam_daily_mean_1d == pytest.approx(dam[("HB_WEST", d1)].mean())
    assert row.rtm_daily_max_2d == pytest.approx(rtm[("HB_WEST", d2)].max())
    assert row.dart_daily_mean_2d == pytest.approx(dart[("HB_WEST", d2)].mean())
    system = tables["system_conditions"].set_index("timestamp_utc")
    ts = table.loc[("HB_WEST", day, 17)].timestamp_utc
    assert table.loc[("HB_WEST", day, 17)].load_forecast_mw == system.load_forecast_mw[ts]
    assert table.loc[("HB_WEST", day, 17)].net_load_forecast_mw == pytest.approx(
        system.load_forecast_mw[ts] - system.wind_forecast_mw[ts] - system.solar_forecast_mw[ts]
    )
    # Points keep their own history.
    assert table.loc[("HB_NORTH", day, 17)].dart_lag_2d == pytest.approx(at(2, 17, dart, "HB_NORTH"))
    assert table.loc[("HB_NORTH", day, 17)].dart_lag_2d != table.loc[("HB_WEST", day, 17)].dart_lag_2d


def test_lagged_actuals_replace_forecasts_for_sources_without_them():
    day = pd.Timestamp("2024-05-25")
    tables = tables_around(day, with_forecasts=False)
    table = build(tables)
    columns = features.feature_columns(table)
    lagged = [f"{c}_lag_2d" for c in schemas.DRIVER_ACTUALS]
    assert set(lagged) <= set(columns)
    assert not set(schemas.DRIVER_ACTUALS + schemas.SYSTEM_FORECASTS) & set(columns)
    system = tables["system_conditions"].set_index(["delivery_date", "hour_ending"])
    row = table[(table.delivery_date == day) & (table.hour_ending == 15)].iloc[0]
    assert row.load_mw_lag_2d == system.load_mw[(day - pd.Timedelta(days=2), 15)]
    assert row.wind_mw_lag_2d == system.wind_mw[(day - pd.Timedelta(days=2), 15)]


def test_dst_days_have_23_and_25_rows_per_point_and_the_repeated_hour_is_averaged():
    spring = build(tables_around(pd.Timestamp("2024-03-11")))
    assert spring[spring.delivery_date == "2024-03-10"].groupby("settlement_point").size().to_dict() == dict.fromkeys(
        POINTS, 23
    )
    assert spring[spring.delivery_date == "2024-03-09"].groupby("settlement_point").size().to_dict() == dict.fromkeys(
        POINTS, 24
    )
    assert spring.duplicated(["timestamp_utc", "settlement_point"]).sum() == 0
    # Two days after the missing HE03 there is nothing to lag.
    assert spring[(spring.delivery_date == "2024-03-12") & (spring.hour_ending == 3)].dart_lag_2d.isna().all()

    tables = tables_around(pd.Timestamp("2024-11-04"))
    fall = build(tables)
    fall_day = fall[fall.delivery_date == "2024-11-03"]
    assert fall_day.groupby("settlement_point").size().to_dict() == dict.fromkeys(POINTS, 25)
    assert fall_day.timestamp_utc.nunique() == 25
    # Both HE02 rows are real hours with their own target; two days later HE02 lags their mean.
    he02 = fall_day[(fall_day.settlement_point == "HB_WEST") & (fall_day.hour_ending == 2)]
    assert len(he02) == 2 and he02.dart.nunique() == 2
    later = fall[(fall.delivery_date == "2024-11-05") & (fall.settlement_point == "HB_WEST") & (fall.hour_ending == 2)]
    assert later.dart_lag_2d.iloc[0] == pytest.approx(he02.dart.mean())


def test_holidays_are_flagged():
    tables = synthetic.generate("2024-07-03", "2024-07-05", POINTS)
    table = build(tables)
    flags = table.groupby("delivery_date").is_holiday.agg(["min", "max"])
    assert flags.loc["2024-07-04"].tolist() == [1, 1]
    assert flags.loc["2024-07-03"].tolist() == [0, 0] and flags.loc["2024-07-05"].tolist() == [0, 0]
    thanksgiving = build(synthetic.generate("2024-11-28", "2024-11-29", POINTS))
    assert thanksgiving.groupby("delivery_date").is_holiday.max().tolist() == [1, 0]
    row = table.iloc[0]
    assert (row.day_of_week, row.month) == (pd.Timestamp("2024-07-03").dayofweek, 7)


def test_a_day_without_prices_yet_has_features_and_no_target():
    """The forecast case: D's prices are unknown, yet its features exist from what was known."""
    day = pd.Timestamp("2024-05-25")
    tables = tables_around(day)
    known = {
        "dam_prices": tables["dam_prices"][tables["dam_prices"].delivery_date < day],
        "rtm_prices": tables["rtm_prices"][tables["rtm_prices"].timestamp_utc < decision_time_utc(day)],
        "system_conditions": tables["system_conditions"],
    }
    table = build(known, days=[day - pd.Timedelta(days=1), day])
    rows = rows_of(table, day)
    assert len(rows) == 48 and rows[features.TARGET].isna().all()
    full = rows_of(build(tables), day)
    columns = features.feature_columns(full)
    pd.testing.assert_frame_equal(rows[columns], full[columns])


def test_no_data_is_a_clear_error():
    empty = synthetic.generate("2024-05-25", "2024-05-25", POINTS)["dam_prices"].iloc[:0]
    with pytest.raises(ValueError, match="no market data"):
        features.build_features(empty, empty.rename(columns={"dam_price": "rtm_price"}), None, POINTS)
