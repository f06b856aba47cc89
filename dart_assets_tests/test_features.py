"""hourly_features: the DART target and only what is public at D's decision time (D-1 09:00 or 09:55 Central)."""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np
import pandas as pd
import pytest

from dart_assets import features
from dart_assets.market import schemas, synthetic
from dart_assets.market.timeutil import decision_time_utc

POINTS = ["HB_NORTH", "HB_WEST"]
DECISION_TIMES = [dt.time(9, 0), dt.time(9, 55)]
CALENDAR = ["hour_ending", "day_of_week", "is_holiday"]
# Delivery days around DST: D-1 or D itself a 23- or 25-hour day.
DAYS = {
    "summer": "2024-05-25",
    "fall-back-day": "2024-11-03",
    "after-fall-back": "2024-11-04",
    "spring-forward-day": "2024-03-10",
    "after-spring-forward": "2024-03-11",
}


@functools.cache
def window(first: str, last: str) -> dict[str, pd.DataFrame]:
    return synthetic.generate(first, last, POINTS)


def tables_around(day: pd.Timestamp, with_forecasts: bool = True) -> dict[str, pd.DataFrame]:
    """~40 days: 30 before D (more than LOOKBACK_DAYS), 9 after; copies, so a test may change them."""
    tables = window(str((day - pd.Timedelta(days=30)).date()), str((day + pd.Timedelta(days=9)).date()))
    tables = {k: v.copy() for k, v in tables.items()}
    if not with_forecasts:
        tables["driver_forecasts"] = schemas.empty("driver_forecasts")
    return tables


def build(tables: dict[str, pd.DataFrame], days=None, decision_time: dt.time = features.DEFAULT_DECISION_TIME):
    return features.build_features(
        tables["dam_prices"],
        tables["rtm_prices"],
        tables["system_conditions"],
        POINTS,
        days,
        forecasts=tables["driver_forecasts"],
        decision_time=decision_time,
    )


def rows_of(frame: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    return frame[frame.delivery_date == day].reset_index(drop=True)


def hour(frame: pd.DataFrame, day: pd.Timestamp, hour_ending: int) -> pd.Series:
    return (frame.delivery_date == day) & (frame.hour_ending == hour_ending)


def perturb(tables: dict[str, pd.DataFrame], day: pd.Timestamp, decision_time: dt.time, published: bool):
    """Change every value published after D's decision time (published=False), or every one published by then."""
    rng = np.random.default_rng(0)
    cutoff = decision_time_utc(day, decision_time)
    out = {k: v.copy() for k, v in tables.items()}
    dam, rtm, system, forecasts = (out[k] for k in schemas.MARKET_TABLES)
    masks = {
        "dam_prices": dam.delivery_date < day,  # D's DAM clears on D-1 afternoon, after the decision
        "rtm_prices": features.rtm_published(rtm.timestamp_utc, cutoff),
        "system_conditions": features.actual_published(system.timestamp_utc, cutoff),
        "driver_forecasts": features.posting_known(forecasts[schemas.POSTED_COLUMN], cutoff),
    }
    for name, frame in out.items():
        rows = masks[name] if published else ~masks[name]
        values = [c for c in frame.columns if c in {"dam_price", "rtm_price", *schemas.DRIVER_COLUMNS}]
        values += [c for c in schemas.DRIVER_FORECASTS if c in frame]
        shape = (rows.sum(), len(values))
        frame.loc[rows, values] = frame.loc[rows, values] * rng.uniform(1.2, 1.8, shape) + rng.uniform(0, 120, shape)
    return out


@pytest.mark.parametrize("decision_time", DECISION_TIMES, ids=["0900", "0955"])
@pytest.mark.parametrize("with_forecasts", [True, False], ids=["forecasts", "lagged-actuals"])
@pytest.mark.parametrize("day", list(DAYS.values()), ids=list(DAYS))
def test_no_feature_of_day_d_sees_past_the_decision_time(day, with_forecasts, decision_time):
    day = pd.Timestamp(day)
    tables = tables_around(day, with_forecasts)
    before = build(tables, decision_time=decision_time)
    columns = features.feature_columns(before)
    expected = {"dart_lag_2d", "dam_lag_1d", "dart_last_1d", "rtm_morning_change_1d", "rt_spike_hours_14d"}
    expected |= {"dart_median_28d", "dart_q90_28d", "dart_iqr_28d", "dart_weekly_median_8w", "dart_median_56d"}
    expected |= {"dam_1d_minus_rtm_2d", "dam_1d_minus_rtm_last_1d", "rtm_morning_max_1d", "dam_daily_std_1d"}
    expected |= {"dart_all_hours_std_7d", "rtm_max_7d", "dart_median_7d"}
    expected |= {"load_forecast_mw", "net_load_forecast_dod_mw", "load_forecast_error_1d"} if with_forecasts else set()
    expected |= {"wind_forecast_region_mw", "net_load_forecast_region_mw"} if with_forecasts else {"load_mw_lag_1d"}
    assert expected <= set(columns)
    # Every feature of D is computed (no column all NaN): a NaN feature would hide a leak.
    assert rows_of(before, day)[columns].notna().any().all()

    # Nothing published after the cutoff reaches D's features, in any column.
    after = build(perturb(tables, day, decision_time, published=False), decision_time=decision_time)
    assert features.feature_columns(after) == columns
    pd.testing.assert_frame_equal(rows_of(before, day)[columns], rows_of(after, day)[columns])
    # The perturbation was real: D's target moved, and the next day (which may see D) moved too.
    assert (rows_of(before, day)[features.TARGET] != rows_of(after, day)[features.TARGET]).all()
    next_day = day + pd.Timedelta(days=1)
    assert (rows_of(before, next_day)["dam_lag_1d"] != rows_of(after, next_day)["dam_lag_1d"]).all()

    # And every feature but the calendar does depend on what was published by then: the test has teeth.
    known = build(perturb(tables, day, decision_time, published=True), decision_time=decision_time)
    moved = [c for c in columns if not rows_of(before, day)[c].equals(rows_of(known, day)[c])]
    assert sorted(set(columns) - set(moved)) == sorted(CALENDAR)


@pytest.mark.parametrize("day", ["2024-05-25", "2024-11-04", "2024-03-11"], ids=["summer", "after-25h", "after-23h"])
def test_the_same_hour_profile_reads_settled_days_only(day):
    """dart_median_28d and the quantiles: the same hour's DART over D-2..D-29; the weekly median: D-7, ..., D-56;
    D-1 (partly published at the decision time) never counts."""
    day = pd.Timestamp(day)
    tables = tables_around(day)
    row = rows_of(build(tables), day).query("hour_ending == 20 and settlement_point == 'HB_WEST'").iloc[0]
    dart = tables["dam_prices"].merge(tables["rtm_prices"], on=["timestamp_utc", "settlement_point"])
    dart = dart[(dart.settlement_point == "HB_WEST") & (dart.hour_ending_x == 20)]
    same_hour = dart.groupby("delivery_date_x").apply(
        lambda r: (r.dam_price - r.rtm_price).mean(), include_groups=False
    )
    days_back = (day - same_hour.index).days
    settled = same_hour[(days_back >= 2) & (days_back <= 29)]
    assert len(settled) == 28
    assert row.dart_median_28d == pytest.approx(settled.median())
    assert row.dart_q10_28d == pytest.approx(np.percentile(settled, 10))
    assert row.dart_iqr_28d == pytest.approx(np.percentile(settled, 75) - np.percentile(settled, 25))
    weekly = same_hour[np.isin(days_back, [7, 14, 21, 28])]  # 30 days of data: four of the eight weeks
    assert row.dart_weekly_median_8w == pytest.approx(weekly.median())
    # What makes the anchor the models boost from (ml.dataset.ANCHOR_COLUMN).
    from dart_assets.ml.dataset import ANCHOR_COLUMN

    assert ANCHOR_COLUMN == "dart_median_28d"


def last_published_hour(decision_time: dt.time) -> int:
    """The last hour ending of D-1 whose RTM is public at the decision time (an hour ends, then 15 minutes)."""
    return {dt.time(9, 0): 8, dt.time(9, 55): 9}[decision_time]


@pytest.mark.parametrize("decision_time", DECISION_TIMES, ids=["0900", "0955"])
@pytest.mark.parametrize("day", ["2024-05-25", "2024-11-04", "2024-03-11"], ids=["summer", "d-1-25h", "d-1-23h"])
def test_d_minus_1_morning_rtm_counts_until_it_is_published(day, decision_time):
    day = pd.Timestamp(day)
    tables = tables_around(day)
    before = rows_of(build(tables, decision_time=decision_time), day)
    columns = features.feature_columns(before)
    d1 = day - pd.Timedelta(days=1)
    last = last_published_hour(decision_time)

    def moved_by(hour_ending: int) -> list[str]:
        changed = {k: v.copy() for k, v in tables.items()}
        rtm = changed["rtm_prices"]
        rtm.loc[hour(rtm, d1, hour_ending), "rtm_price"] += 300.0
        after = rows_of(build(changed, decision_time=decision_time), day)
        return [c for c in columns if not before[c].equals(after[c])]

    assert moved_by(last + 1) == []  # ends at the decision time (09:00 or 10:00): not public yet
    moved = moved_by(last)
    assert {"rtm_last_1d", "dart_last_1d", "rtm_morning_mean_1d", "rtm_lag_1d", "dart_lag_1d"} <= set(moved)
    assert not {"dart_lag_2d", "rtm_lag_2d", "dart_mean_7d"} & set(moved)  # D-1 is not a settled day yet
    row = before[before.hour_ending == 12].iloc[0]
    rtm = tables["rtm_prices"].set_index(["settlement_point", "delivery_date", "hour_ending"]).rtm_price.sort_index()
    assert row.rtm_last_1d == pytest.approx(rtm[(row.settlement_point, d1, last)])


@pytest.mark.parametrize("decision_time", DECISION_TIMES, ids=["0900", "0955"])
@pytest.mark.parametrize("day", ["2024-05-25", "2024-11-03", "2024-03-10"], ids=["summer", "fall-back", "spring"])
def test_a_posting_counts_from_its_minute_at_or_before_the_decision_time(day, decision_time):
    day = pd.Timestamp(day)
    tables = tables_around(day)
    before = rows_of(build(tables, decision_time=decision_time), day)
    columns = features.feature_columns(before)
    cutoff = decision_time_utc(day, decision_time)

    def with_posting(posted: pd.Timestamp) -> pd.DataFrame:
        """A posting for D with every value of the one D's features use moved: 30% up plus 100."""
        forecasts = tables["driver_forecasts"]
        current = features.known_forecasts(forecasts, decision_time)
        extra = current[current.delivery_date == day].assign(**{schemas.POSTED_COLUMN: posted})
        for column in schemas.DRIVER_FORECASTS:
            extra[column] = extra[column] * 1.3 + 100.0
        changed = {**tables, "driver_forecasts": pd.concat([forecasts, extra], ignore_index=True)}
        return rows_of(build(changed, decision_time=decision_time), day)

    for late in (cutoff + pd.Timedelta(minutes=1), cutoff + pd.Timedelta(hours=5)):
        pd.testing.assert_frame_equal(with_posting(late)[columns], before[columns])
    taken = set(tables["driver_forecasts"][schemas.POSTED_COLUMN])  # at 09:55 the synthetic posts at the cutoff
    known = [cutoff + pd.Timedelta(seconds=s) for s in (0, 1, 59) if cutoff + pd.Timedelta(seconds=s) not in taken]
    assert len(known) >= 2
    for posted in known:
        after = with_posting(posted)
        assert np.allclose(after["load_forecast_mw"], before["load_forecast_mw"] * 1.3 + 100.0)
        assert np.allclose(after["wind_forecast_region_mw"], before["wind_forecast_region_mw"] * 1.3 + 100.0)
        # Only D's forecast features move: history, D-1's forecasts and their errors do not.
        assert after["dart_lag_2d"].equals(before["dart_lag_2d"])
        assert after["load_forecast_error_1d"].equals(before["load_forecast_error_1d"])


def test_decision_times_see_different_postings():
    day = pd.Timestamp("2024-05-25")
    tables = tables_around(day)
    at = {t: rows_of(build(tables, decision_time=t), day) for t in DECISION_TIMES}
    forecasts = tables["driver_forecasts"]
    local = forecasts[schemas.POSTED_COLUMN].dt.tz_convert("America/Chicago").dt.strftime("%m-%d %H:%M")
    for decision_time, posted in ((dt.time(9, 0), "05-24 05:55"), (dt.time(9, 55), "05-24 09:55")):
        posting = forecasts[(local == posted) & (forecasts.delivery_date == day)].set_index("timestamp_utc")
        got = at[decision_time].drop_duplicates("timestamp_utc").set_index("timestamp_utc")
        pd.testing.assert_series_equal(got["load_forecast_mw"], posting["load_forecast_mw"], check_names=False)
    assert not at[dt.time(9, 0)]["load_forecast_mw"].equals(at[dt.time(9, 55)]["load_forecast_mw"])
    # 09:55 also sees D-1's HE09 RTM.
    assert at[dt.time(9, 0)]["rtm_lag_1d"].notna().sum() == 8 * len(POINTS)
    assert at[dt.time(9, 55)]["rtm_lag_1d"].notna().sum() == 9 * len(POINTS)


def test_a_decision_time_at_or_after_the_dam_close_is_refused():
    tables = tables_around(pd.Timestamp("2024-05-25"))
    with pytest.raises(ValueError, match="decision time 10:00 is not before the day-ahead market closes at 10:00"):
        build(tables, decision_time=dt.time(10, 0))


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


def test_features_by_hand():
    day = pd.Timestamp("2024-05-25")
    tables = tables_around(day)
    table = build(tables).set_index(["settlement_point", "delivery_date", "hour_ending"])
    slot = ["settlement_point", "delivery_date", "hour_ending"]
    dam = tables["dam_prices"].set_index(slot).dam_price.sort_index()
    rtm = tables["rtm_prices"].set_index(slot).rtm_price.sort_index()
    dart = dam - rtm
    d1, d2 = day - pd.Timedelta(days=1), day - pd.Timedelta(days=2)

    def at(days_back: int, hour_ending, series: pd.Series, point="HB_WEST"):
        return series[(point, day - pd.Timedelta(days=days_back), hour_ending)]

    for he in (1, 8, 10, 17, 24):
        row = table.loc[("HB_WEST", day, he)]
        assert row.dart == pytest.approx(at(0, he, dam) - at(0, he, rtm))
        assert row.dart_lag_2d == pytest.approx(at(2, he, dart))
        assert row.dart_lag_3d == pytest.approx(at(3, he, dart))
        assert row.dart_lag_7d == pytest.approx(at(7, he, dart))
        assert row.rtm_lag_2d == pytest.approx(at(2, he, rtm))
        assert row.dam_lag_1d == pytest.approx(at(1, he, dam))
        assert row.dam_lag_7d == pytest.approx(at(7, he, dam))
        week = [at(k, he, dart) for k in range(2, 9)]  # the 7 settled days D-8..D-2
        assert row.dart_mean_7d == pytest.approx(np.mean(week))
        assert row.dart_std_7d == pytest.approx(np.std(week, ddof=1))
        # D-1's same hour only where it was published by 09:00 (HE01-HE08).
        if he <= 8:
            assert row.rtm_lag_1d == pytest.approx(at(1, he, rtm)) and row.dart_lag_1d == pytest.approx(at(1, he, dart))
        else:
            assert np.isnan(row.rtm_lag_1d) and np.isnan(row.dart_lag_1d)

    row = table.loc[("HB_WEST", day, 1)]
    morning = list(range(1, 9))
    assert row.dam_daily_mean_1d == pytest.approx(dam[("HB_WEST", d1)].mean())
    assert row.rtm_daily_max_2d == pytest.approx(rtm[("HB_WEST", d2)].max())
    assert row.dart_daily_mean_2d == pytest.approx(dart[("HB_WEST", d2)].mean())
    assert row.rtm_last_1d == pytest.approx(at(1, 8, rtm)) and row.dart_last_1d == pytest.approx(at(1, 8, dart))
    assert row.rtm_morning_mean_1d == pytest.approx(np.mean([at(1, h, rtm) for h in morning]))
    assert row.dart_morning_change_1d == pytest.approx(
        np.mean([at(1, h, dart) for h in morning]) - np.mean([at(2, h, dart) for h in morning])
    )
    settled = lambda series, days: pd.concat([series[("HB_WEST", day - pd.Timedelta(days=k))] for k in days])  # noqa: E731
    assert row.rtm_std_7d == pytest.approx(settled(rtm, range(2, 9)).std(ddof=1))
    assert row.dart_abs_mean_7d == pytest.approx(settled(dart, range(2, 9)).abs().mean())
    assert row.rt_spike_hours_7d == (settled(dart, range(2, 9)) < -50).sum()
    assert row.rt_spike_hours_14d == (settled(dart, range(2, 16)) < -50).sum()

    # Forecasts for D as posted D-1 05:55 (the latest by 09:00), net load, its ramp and day-over-day change.
    forecasts = tables["driver_forecasts"]
    posted = forecasts[schemas.POSTED_COLUMN].dt.tz_convert("America/Chicago").dt.strftime("%H:%M")
    asof = forecasts[posted == "05:55"].set_index("timestamp_utc")
    system = tables["system_conditions"].set_index("timestamp_utc")
    net = asof.load_forecast_mw - asof.wind_forecast_mw - asof.solar_forecast_mw
    row, before = table.loc[("HB_WEST", day, 17)], table.loc[("HB_WEST", day, 16)]
    ts = row.timestamp_utc
    assert row.load_forecast_mw == asof.load_forecast_mw[ts]
    assert row.net_load_forecast_mw == pytest.approx(net[ts])
    assert row.net_load_ramp_mw == pytest.approx(net[ts] - net[before.timestamp_utc])
    assert row.net_load_forecast_dod_mw == pytest.approx(net[ts] - net[ts - pd.Timedelta(days=1)])
    # The point's own region: West wind, Far West solar, Far West + West load, the West load forecast zone.
    assert row.wind_forecast_region_mw == asof.wind_forecast_west_mw[ts]
    assert row.solar_forecast_region_mw == asof.solar_forecast_farwest_mw[ts]
    assert row.load_forecast_region_mw == pytest.approx(
        asof.load_forecast_farwest_mw[ts] + asof.load_forecast_west_mw[ts]
    )
    assert row.load_forecast_zone_region_mw == asof.load_forecast_zone_west_mw[ts]
    assert table.loc[("HB_NORTH", day, 17)].wind_forecast_region_mw == asof.wind_forecast_north_mw[ts]
    # How wrong yesterday's forecast (as known at D-1's decision time) has been over D-1's published hours.
    d1_hours = system[(system.delivery_date == d1) & (system.hour_ending <= 8)].index
    assert row.load_forecast_error_1d == pytest.approx(
        (system.load_mw[d1_hours] - asof.load_forecast_mw[d1_hours]).mean()
    )
    d2_hours = system[system.delivery_date == d2].index
    assert row.wind_forecast_error_2d == pytest.approx(
        (system.wind_mw[d2_hours] - asof.wind_forecast_mw[d2_hours]).mean()
    )
    assert row.load_mw_lag_2d == system.load_mw[ts - pd.Timedelta(days=2)]
    assert (
        np.isnan(row.load_mw_lag_1d)
        and table.loc[("HB_WEST", day, 8)].load_mw_lag_1d
        == system.load_mw[table.loc[("HB_WEST", day, 8)].timestamp_utc - pd.Timedelta(days=1)]
    )
    # Points keep their own history.
    assert table.loc[("HB_NORTH", day, 17)].dart_lag_2d == pytest.approx(at(2, 17, dart, "HB_NORTH"))
    assert table.loc[("HB_NORTH", day, 17)].dart_lag_2d != table.loc[("HB_WEST", day, 17)].dart_lag_2d


def test_lagged_actuals_replace_forecasts_for_sources_without_them():
    day = pd.Timestamp("2024-05-25")
    tables = tables_around(day, with_forecasts=False)
    table = build(tables)
    columns = features.feature_columns(table)
    assert {f"{c}_lag_2d" for c in schemas.DRIVER_ACTUALS} <= set(columns)
    assert not [c for c in columns if "forecast" in c]
    assert not set(schemas.DRIVER_ACTUALS) & set(columns)
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
    # Both HE02 rows are real hours with their own target; later days lag their mean.
    he02 = fall_day[(fall_day.settlement_point == "HB_WEST") & (fall_day.hour_ending == 2)]
    assert len(he02) == 2 and he02.dart.nunique() == 2
    later = fall[(fall.delivery_date == "2024-11-05") & (fall.settlement_point == "HB_WEST") & (fall.hour_ending == 2)]
    assert later.dart_lag_2d.iloc[0] == pytest.approx(he02.dart.mean())
    next_day = fall[
        (fall.delivery_date == "2024-11-04") & (fall.settlement_point == "HB_WEST") & (fall.hour_ending == 2)
    ]
    assert next_day.dart_lag_1d.iloc[0] == pytest.approx(he02.dart.mean())


def test_holidays_are_flagged():
    tables = synthetic.generate("2024-07-03", "2024-07-05", POINTS)
    table = build(tables)
    flags = table.groupby("delivery_date").is_holiday.agg(["min", "max"])
    assert flags.loc["2024-07-04"].tolist() == [1, 1]
    assert flags.loc["2024-07-03"].tolist() == [0, 0] and flags.loc["2024-07-05"].tolist() == [0, 0]
    thanksgiving = build(synthetic.generate("2024-11-28", "2024-11-29", POINTS))
    assert thanksgiving.groupby("delivery_date").is_holiday.max().tolist() == [1, 0]
    row = table.iloc[0]
    assert row.day_of_week == pd.Timestamp("2024-07-03").dayofweek and "month" not in table


def test_a_day_without_prices_yet_has_features_and_no_target():
    """The forecast case: D's prices are unknown, yet its features exist from what was known."""
    day = pd.Timestamp("2024-05-25")
    tables = tables_around(day)
    cutoff = decision_time_utc(day)
    known = {
        "dam_prices": tables["dam_prices"][tables["dam_prices"].delivery_date < day],
        "rtm_prices": tables["rtm_prices"][features.rtm_published(tables["rtm_prices"].timestamp_utc, cutoff)],
        "system_conditions": tables["system_conditions"][tables["system_conditions"].timestamp_utc < cutoff],
        "driver_forecasts": tables["driver_forecasts"][tables["driver_forecasts"].posted_utc <= cutoff],
    }
    table = build(known, days=[day - pd.Timedelta(days=1), day])
    rows = rows_of(table, day)
    assert len(rows) == 48 and rows[features.TARGET].isna().all()
    full = rows_of(build(tables), day)
    columns = features.feature_columns(full)
    pd.testing.assert_frame_equal(rows[columns], full[columns])


def test_gaps_are_reported_and_those_days_left_out_of_training():
    day = pd.Timestamp("2024-05-25")
    tables = tables_around(day)
    gap = day - pd.Timedelta(days=1)  # no RTM at all for D-1
    rtm = tables["rtm_prices"]
    tables["rtm_prices"] = rtm[rtm.delivery_date != gap]
    forecasts = tables["driver_forecasts"]  # no forecast for D+2 posted by its decision time
    tables["driver_forecasts"] = forecasts[forecasts.delivery_date != day + pd.Timedelta(days=2)]
    table = build(tables)
    days = sorted(table.delivery_date.unique())
    gaps = features.gap_report(
        tables["dam_prices"], tables["rtm_prices"], tables["driver_forecasts"], POINTS, days, dt.time(9, 0)
    )
    first = pd.Timestamp(days[0])
    wanted = {
        (gap + pd.Timedelta(days=1), "rtm_prices", gap, 0, 8),  # D-1's morning
        (gap + pd.Timedelta(days=2), "rtm_prices", gap, 0, 24),  # D-2 settled
        (day + pd.Timedelta(days=2), "driver_forecasts", day + pd.Timedelta(days=2), 0, 24),
        # The first days have no history before them.
        (first, "dam_prices", first - pd.Timedelta(days=1), 0, 24),
        (first, "rtm_prices", first - pd.Timedelta(days=1), 0, 8),
        (first, "rtm_prices", first - pd.Timedelta(days=2), 0, 24),
        (first + pd.Timedelta(days=1), "rtm_prices", first - pd.Timedelta(days=1), 0, 24),
    }
    found = {(g.delivery_date, g.table, g.day, g.present, g.expected) for g in gaps.itertuples()}
    assert found == wanted
    assert set(gaps.groupby(["delivery_date", "table", "day"]).settlement_point.apply(sorted).map(tuple)) == {
        tuple(POINTS)
    }
    assert features.describe_gap(gaps[gaps.delivery_date == day].iloc[0], POINTS) == (
        "rtm_prices for 2024-05-24 is missing (0 of 8 hours, HB_NORTH, HB_WEST): D-1's RTM hours published before "
        "09:00 Central is needed to forecast 2024-05-25"
    )

    rows, summary = features.training_rows(table, gaps)
    left_out = {str(d.date()) for d in (first, first + pd.Timedelta(days=1), day, day + pd.Timedelta(days=1))}
    left_out |= {str((day + pd.Timedelta(days=2)).date())}
    assert summary["days_without_target"] == [str(gap.date())]
    assert set(summary["days_missing_inputs"]) == left_out
    assert summary["rows_without_target"] == 48
    assert summary["rows_missing_inputs"] == 48 * len(left_out)
    assert summary["rows_kept"] == len(rows) == len(table) - 48 * (1 + len(left_out))
    assert rows[features.TARGET].notna().all() and not set(rows.delivery_date.dt.strftime("%Y-%m-%d")) & left_out
    # The kept rows have every key input.
    assert rows[["dam_lag_1d", "rtm_lag_2d", "rtm_last_1d", "load_forecast_mw"]].notna().all().all()


def test_left_out_days_say_why_per_run_of_days():
    day = pd.Timestamp("2024-05-25")
    tables = tables_around(day)
    first = day - pd.Timedelta(days=30)
    dam, rtm = tables["dam_prices"], tables["rtm_prices"]
    tables["dam_prices"] = dam[~dam.delivery_date.between(day, day + pd.Timedelta(days=1))]  # two days, no DAM
    tables["rtm_prices"] = rtm[
        ~((rtm.delivery_date == day + pd.Timedelta(days=4)) & (rtm.settlement_point == "HB_WEST"))
    ]
    days = list(pd.date_range(first, day + pd.Timedelta(days=9)))
    table = build(tables, days=days)
    gaps = features.gap_report(tables["dam_prices"], tables["rtm_prices"], tables["driver_forecasts"], POINTS, days)
    why = features.left_out_days(table, gaps)
    assert why.to_dict("records") == [
        {
            "days": "2024-04-25",
            "rows": 48,
            "why": "D-1's DAM (cleared on D-2): dam_prices 2024-04-24 has 0 of 24 h; D-2's settled RTM: rtm_prices "
            "2024-04-23 has 0 of 24 h; D-1's RTM hours published before 09:00 Central: rtm_prices 2024-04-24 has 0 "
            "of 8 h",
        },
        {"days": "2024-04-26", "rows": 48, "why": "D-2's settled RTM: rtm_prices 2024-04-24 has 0 of 24 h"},
        {"days": "2024-05-25..2024-05-26", "rows": 96, "why": "no target: no DAM prices"},
        {"days": "2024-05-27", "rows": 48, "why": "D-1's DAM (cleared on D-2): dam_prices 2024-05-26 has 0 of 24 h"},
        {
            "days": "2024-05-29",
            "rows": 24,
            "why": "24 of 48 rows without a target (DAM or RTM price absent)",
        },
        {
            "days": "2024-05-30",
            "rows": 24,
            "why": "D-1's RTM hours published before 09:00 Central: rtm_prices 2024-05-29 has 0 of 8 h (HB_WEST only)",
        },
        {
            "days": "2024-05-31",
            "rows": 24,
            "why": "D-2's settled RTM: rtm_prices 2024-05-29 has 0 of 24 h (HB_WEST only)",
        },
    ]
    rows, summary = features.training_rows(table, gaps)
    assert summary["rows"] - summary["rows_kept"] == why["rows"].sum()
    kept = sorted(rows.delivery_date.unique())
    assert (summary["days_kept"], summary["first_day"], summary["last_day"]) == (
        len(kept),
        str(kept[0].date()),
        str(kept[-1].date()),
    )


def test_nothing_to_train_on_is_a_clear_error():
    tables = tables_around(pd.Timestamp("2024-05-25"))
    table = build(tables, days=[pd.Timestamp("2024-05-25")])
    gaps = features.gap_report(
        tables["dam_prices"].iloc[:0], tables["rtm_prices"], None, POINTS, [pd.Timestamp("2024-05-25")]
    )
    with pytest.raises(ValueError, match=r"no trainable rows among 48: 0 have no target .* dam_prices for 2024-05-24"):
        features.training_rows(table, gaps)


def test_no_data_is_a_clear_error():
    empty = synthetic.generate("2024-05-25", "2024-05-25", POINTS)["dam_prices"].iloc[:0]
    with pytest.raises(ValueError, match="no market data"):
        features.build_features(empty, empty.rename(columns={"dam_price": "rtm_price"}), None, POINTS)
