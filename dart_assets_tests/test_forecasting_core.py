"""dart_assets.forecasting without Dagster: the decision-time rule, train/serve identity, missing inputs, DST days,
scoring and the rolling view."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from dart_assets import features, forecasting
from dart_assets.market import schemas, synthetic
from dart_assets.market.timeutil import day_hours, decision_time_utc

POINTS = ["HB_HOUSTON", "HB_WEST"]
NOT_INPUTS = {"timestamp_utc", "delivery_date", "repeated_hour", "settlement_point"}


class EveryColumnModel:
    """A stand-in champion whose P50 depends on EVERY numeric value of the table it is handed, D-1's history rows
    included (an LSTM reads them), NaN counted as a sentinel: any leaked value moves the forecast, where a real
    model might happen to ignore the column."""

    family = "stub"

    def __init__(self, feature_columns: list[str] | None = None, crossing: bool = False):
        self.metadata = {"feature_columns": feature_columns or []}
        self.crossing = crossing

    def predict(self, table: pd.DataFrame) -> pd.DataFrame:
        columns = sorted(c for c in table.columns if c not in NOT_INPUTS)
        values = table[columns].astype("float64").fillna(-1000.5).to_numpy()
        p50 = values @ (1.0 + np.arange(len(columns)) / 7.0) + values.sum() * 1e-3
        spread = -3.0 if self.crossing else 3.0  # crossing: P10 above P90, as separately fitted quantiles can be
        return pd.DataFrame({"p10": p50 - spread, "p50": p50, "p90": p50 + spread}, index=table.index)


@pytest.fixture(scope="module")
def market() -> dict[str, pd.DataFrame]:
    return synthetic.generate("2025-01-20", "2025-03-12", POINTS)


def forecast(market, day: str, model=None, decision_time: dt.time = dt.time(9, 0), **overrides) -> pd.DataFrame:
    frames = {**market, **overrides}
    return forecasting.forecast_days(
        model or EveryColumnModel(),
        frames["dam_prices"],
        frames["rtm_prices"],
        frames["system_conditions"],
        frames["driver_forecasts"],
        POINTS,
        [day],
        decision_time=decision_time,
    )


def bump(frame: pd.DataFrame, columns: list[str], rows: pd.Series, by: float = 437.0) -> pd.DataFrame:
    out = frame.copy()
    out.loc[rows, columns] += by
    return out


DAY = "2025-02-18"


@pytest.mark.parametrize("decision_time", [dt.time(9, 0), dt.time(9, 55)], ids=["0900", "0955"])
def test_data_after_the_decision_time_cannot_change_the_forecast(market, decision_time):
    cutoff = decision_time_utc(DAY, decision_time)
    dam, rtm, system, posted = (market[k] for k in schemas.MARKET_TABLES)
    baseline = forecast(market, DAY, decision_time=decision_time)
    leaked = forecast(
        market,
        DAY,
        decision_time=decision_time,
        dam_prices=bump(dam, ["dam_price"], dam.delivery_date >= pd.Timestamp(DAY)),  # D's DAM and later
        rtm_prices=bump(rtm, ["rtm_price"], ~features.rtm_published(rtm.timestamp_utc, cutoff)),  # D-1 from HE09/10
        system_conditions=bump(
            system, schemas.DRIVER_ACTUALS, ~features.actual_published(system.timestamp_utc, cutoff)
        ),
        driver_forecasts=bump(
            posted, schemas.DRIVER_FORECASTS, ~features.posting_known(posted[schemas.POSTED_COLUMN], cutoff)
        ),
    )
    pd.testing.assert_frame_equal(leaked, baseline)


@pytest.mark.parametrize(
    ("table", "column", "rows"),
    [
        ("dam_prices", "dam_price", lambda f: f.delivery_date == pd.Timestamp("2025-02-17")),  # cleared on D-2
        ("rtm_prices", "rtm_price", lambda f: f.delivery_date == pd.Timestamp("2025-02-16")),  # settled
        ("rtm_prices", "rtm_price", lambda f: (f.delivery_date == pd.Timestamp("2025-02-17")) & (f.hour_ending == 8)),
        ("system_conditions", "load_mw", lambda f: f.delivery_date == pd.Timestamp("2025-02-16")),
        ("driver_forecasts", "load_forecast_mw", lambda f: f.delivery_date == pd.Timestamp(DAY)),
    ],
    ids=["dam-d-1", "rtm-d-2", "rtm-d-1-he08", "actuals-d-2", "forecasts-d"],
)
def test_data_known_at_the_decision_time_does_change_it(market, table, column, rows):
    # The control for the test above: the stub model does see what is legitimately known.
    moved = forecast(market, DAY, **{table: bump(market[table], [column], rows(market[table]))})
    assert not np.allclose(moved["dart_forecast"], forecast(market, DAY)["dart_forecast"])


@pytest.mark.parametrize("decision_time", [dt.time(9, 0), dt.time(9, 55)], ids=["0900", "0955"])
@pytest.mark.parametrize("day", ["2025-02-18", "2025-03-09", "2025-03-10", "2025-03-11"])
def test_the_morning_run_builds_exactly_the_training_rows(market, training_features, day, decision_time):
    """Train/serve identity: D's rows from decision-time data equal D's rows of the training table."""
    served = forecasting.decision_table(
        market["dam_prices"],
        market["rtm_prices"],
        market["system_conditions"],
        market["driver_forecasts"],
        POINTS,
        [day],
        decision_time,
    )
    trained = training_features[decision_time]
    columns = features.feature_columns(trained)
    assert features.feature_columns(served) == columns
    rows = lambda t: t[t.delivery_date == pd.Timestamp(day)].reset_index(drop=True)  # noqa: E731
    assert len(rows(served)) == len(rows(trained)) == len(POINTS) * len(day_hours(day))
    pd.testing.assert_frame_equal(rows(served)[columns], rows(trained)[columns])
    assert rows(served)[columns].notna().any().all()


def drop(frame: pd.DataFrame, rows) -> pd.DataFrame:
    return frame[~rows(frame)]


@pytest.mark.parametrize(
    ("table", "rows", "message"),
    [
        (
            "rtm_prices",
            lambda f: f.delivery_date == pd.Timestamp("2025-02-17"),
            "rtm_prices for 2025-02-17 is missing (0 of 8 hours, HB_HOUSTON, HB_WEST): D-1's RTM hours published "
            "before 09:00 Central is needed to forecast 2025-02-18",
        ),
        (
            "rtm_prices",
            lambda f: (
                (f.delivery_date == pd.Timestamp("2025-02-17"))
                & (f.hour_ending == 8)
                & (f.settlement_point == "HB_WEST")
            ),
            "rtm_prices for 2025-02-17 is missing (7 of 8 hours, HB_WEST)",
        ),
        (
            "rtm_prices",
            lambda f: f.delivery_date == pd.Timestamp("2025-02-16"),
            "rtm_prices for 2025-02-16 is missing (0 of 24 hours, HB_HOUSTON, HB_WEST): D-2's settled RTM is needed",
        ),
        (
            "dam_prices",
            lambda f: f.delivery_date == pd.Timestamp("2025-02-17"),
            "dam_prices for 2025-02-17 is missing (0 of 24 hours, HB_HOUSTON, HB_WEST): D-1's DAM (cleared on D-2)",
        ),
        (
            "driver_forecasts",
            lambda f: f.delivery_date == pd.Timestamp(DAY),
            "driver_forecasts for 2025-02-18 is missing (0 of 24 hours, HB_HOUSTON, HB_WEST): D's driver forecasts "
            "posted by 09:00 Central is needed to forecast 2025-02-18",
        ),
        (
            "driver_forecasts",  # only the posting after the decision time is left
            lambda f: (f.delivery_date == pd.Timestamp(DAY)) & (f[schemas.POSTED_COLUMN] < decision_time_utc(DAY)),
            "driver_forecasts for 2025-02-18 is missing (0 of 24 hours",
        ),
    ],
    ids=["rtm-d-1", "rtm-d-1-one-hour", "rtm-d-2", "dam-d-1", "forecasts-d", "forecasts-d-too-late"],
)
def test_a_missing_input_fails_naming_the_day_and_table(market, table, rows, message):
    with pytest.raises(forecasting.MissingInputError) as caught:
        forecast(market, DAY, **{table: drop(market[table], rows)})
    assert str(caught.value).startswith(message)


def test_a_source_without_forecasts_still_forecasts_on_lagged_actuals(market):
    out = forecast(market, DAY, driver_forecasts=schemas.empty("driver_forecasts"))
    assert len(out) == 24 * len(POINTS) and out["dart_forecast"].notna().all()


@pytest.mark.parametrize(
    ("day", "hours", "decision_utc"),
    [
        ("2025-02-18", 24, "2025-02-17 15:00"),  # CST: 09:00 = 15:00 UTC
        ("2025-03-09", 23, "2025-03-08 15:00"),  # spring forward; D-1 is still CST
        ("2025-03-10", 24, "2025-03-09 14:00"),  # D-1 is the first CDT day: 09:00 = 14:00 UTC
    ],
)
def test_one_row_per_hour_and_point_with_the_decision_time(market, day, hours, decision_utc):
    out = forecast(market, day)
    assert out.columns.tolist() == [*forecasting.FORECAST_COLUMNS, "decision_time_utc"]
    assert out.groupby("settlement_point").size().to_dict() == dict.fromkeys(POINTS, hours)
    assert (out["delivery_date"] == pd.Timestamp(day)).all()
    expected_hours = day_hours(day)["timestamp_utc"]
    for _, rows in out.groupby("settlement_point"):
        assert rows["timestamp_utc"].sort_values().tolist() == expected_hours.tolist()
    assert (out["decision_time_utc"] == pd.Timestamp(decision_utc, tz="UTC")).all()
    later = forecast(market, day, decision_time=dt.time(9, 55))
    assert (later["decision_time_utc"] == pd.Timestamp(decision_utc, tz="UTC") + pd.Timedelta(minutes=55)).all()


def test_crossing_quantiles_are_put_back_in_order(market):
    out = forecast(market, DAY, model=EveryColumnModel(crossing=True))
    assert (out["dart_p10"] <= out["dart_forecast"]).all() and (out["dart_forecast"] <= out["dart_p90"]).all()
    assert (out["dart_p10"] == out["dart_forecast"]).all() and (out["dart_p90"] == out["dart_forecast"]).all()


def test_a_feature_the_data_cannot_provide_is_a_named_mismatch(market):
    model = EveryColumnModel(feature_columns=["dart_lag_2d", "ghost_feature", "another_ghost"])
    with pytest.raises(
        forecasting.FeatureMismatchError,
        match=r"needs features \['another_ghost', 'ghost_feature'\].*materialize hourly_features",
    ):
        forecast(market, DAY, model=model)


def _hours(n: int) -> pd.DataFrame:
    keys = day_hours("2025-02-18").head(n)[["timestamp_utc"]].assign(settlement_point="HB_NORTH")
    return keys


def test_score_day_on_a_hand_made_day():
    keys = _hours(4)
    dam = keys.assign(dam_price=[40.0, 30.0, 25.0, 50.0])
    rtm = keys.assign(rtm_price=[30.0, 35.0, 25.0, 30.0])  # realised DART: 10, -5, 0, 20
    fc = keys.assign(
        dart_forecast=[12.0, 2.0, 3.0, 10.0],  # errors 2, 7, 3, -10; hour 2 has the wrong sign
        dart_p10=[8.0, 0.0, -1.0, 5.0],
        dart_p90=[14.0, 4.0, 5.0, 15.0],
    )  # covers hours 0 and 2
    score = forecasting.score_day(fc, dam, rtm)
    assert score == pytest.approx(
        {
            "hours": 4.0,
            "mae": 22 / 4,
            "rmse": math.sqrt((4 + 49 + 9 + 100) / 4),
            "sign_accuracy": 2 / 3,  # the zero-DART hour has no sign and is not counted
            "band_coverage": 0.5,
            "zero_mae": 35 / 4,
            "zero_rmse": math.sqrt((100 + 25 + 0 + 400) / 4),
        }
    )


def test_score_day_is_none_until_every_hour_has_settled():
    keys = _hours(4)
    fc = keys.assign(dart_forecast=1.0, dart_p10=0.0, dart_p90=2.0)
    dam = keys.assign(dam_price=40.0)
    assert forecasting.score_day(fc, dam, keys.head(3).assign(rtm_price=30.0)) is None
    assert forecasting.score_day(fc, dam, keys.assign(rtm_price=30.0))["mae"] == pytest.approx(9.0)


def test_rolling_view_weights_by_hours_and_keeps_the_latest_days():
    daily = pd.DataFrame(
        {
            "delivery_date": pd.to_datetime(["2025-03-10", "2025-03-08", "2025-03-09"]),
            "hours": [24.0, 24.0, 23.0],
            "mae": [2.0, 100.0, 4.0],
            "zero_mae": [3.0, 1.0, 5.0],
            "band_coverage": [1.0, 0.0, 0.0],
            "sign_accuracy": [0.5, 0.0, 1.0],
        }
    )
    view = forecasting.rolling_view(daily, window_days=2)  # drops 03-08, the oldest
    assert view == pytest.approx(
        {
            "days": 2.0,
            "mae": (48 + 92) / 47,
            "zero_mae": (72 + 115) / 47,
            "band_coverage": 24 / 47,
            "sign_accuracy": (12 + 23) / 47,
        }
    )


def test_forecast_chart_is_a_png(market):
    png = forecasting.forecast_chart(forecast(market, "2025-03-09"), "test")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000


@pytest.fixture(scope="module")
def training_features(market) -> dict[dt.time, pd.DataFrame]:
    return {
        decision_time: features.build_features(
            market["dam_prices"],
            market["rtm_prices"],
            market["system_conditions"],
            POINTS,
            forecasts=market["driver_forecasts"],
            decision_time=decision_time,
        )
        for decision_time in (dt.time(9, 0), dt.time(9, 55))
    }


@pytest.fixture(scope="module")
def training_table(training_features) -> pd.DataFrame:
    table = training_features[dt.time(9, 0)]
    return table[table["delivery_date"] < "2025-02-15"].dropna(subset=["dart"]).reset_index(drop=True)


@pytest.mark.parametrize("lookback", [24, 48])
def test_an_lstm_champion_gets_the_history_its_look_back_needs(market, training_table, tmp_path, lookback):
    # LstmConfig exposes `lookback`; a champion trained with 48 h must still forecast all 24 hours of D.
    from dart_assets.ml.artifacts import load_bundle
    from dart_assets.ml.training import train_model

    result = train_model(
        "lstm",
        training_table,
        features.feature_columns(training_table),
        tmp_path,
        params={"lookback": lookback, "max_epochs": 1, "hidden_size": 4},
    )
    out = forecast(market, DAY, model=load_bundle(result.bundle_dir))
    assert len(out) == 24 * len(POINTS) and out["dart_forecast"].notna().all()


@pytest.mark.parametrize("family", ["lgbm", "lstm", "naive"])
def test_a_range_of_days_in_one_pass_is_exactly_each_day_forecast_alone(market, family, tmp_path):
    """The backfill path (`forecast_days`) serves each day exactly what its own morning run would have."""
    from dart_assets.ml.artifacts import load_bundle
    from dart_assets.ml.training import train_model
    from dart_assets_tests.ml.conftest import QUICK_PARAMS

    rows, _, _ = features.hourly_features(market, POINTS)
    rows = rows[rows["delivery_date"] < pd.Timestamp("2025-03-01")]
    result = train_model(family, rows, features.feature_columns(rows), tmp_path, params=QUICK_PARAMS[family])
    model = load_bundle(result.bundle_dir)
    inputs = [market[k] for k in schemas.MARKET_TABLES]
    days = list(pd.date_range("2025-03-01", "2025-03-11"))  # the spring-forward day 03-09 included

    together = forecasting.forecast_days(model, *inputs, POINTS, days)

    alone = pd.concat([forecasting.forecast_days(model, *inputs, POINTS, [day]) for day in days], ignore_index=True)
    pd.testing.assert_frame_equal(together, alone)
    assert together.groupby("delivery_date").size().tolist() == [len(day_hours(d)) * len(POINTS) for d in days]


def test_a_range_with_a_missing_input_names_every_day_it_cannot_forecast(market):
    rtm = market["rtm_prices"]
    gap = drop(rtm, lambda f: f.delivery_date == pd.Timestamp("2025-03-03"))
    with pytest.raises(forecasting.MissingInputError) as failure:
        forecasting.forecast_days(
            EveryColumnModel(),
            market["dam_prices"],
            gap,
            market["system_conditions"],
            market["driver_forecasts"],
            POINTS,
            list(pd.date_range("2025-03-01", "2025-03-08")),
        )
    message = str(failure.value)
    assert message.startswith("rtm_prices for 2025-03-03 is missing (0 of ")
    assert message.endswith("days that cannot be forecast: 2025-03-04, 2025-03-05")
