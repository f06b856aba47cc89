"""dart_assets.forecasting without Dagster: the decision-time rule, DST days, scoring and the rolling view."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dart_assets import forecasting
from dart_assets.market import schemas, synthetic
from dart_assets.market.timeutil import day_hours

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


def drivers(day: str) -> pd.DataFrame:
    system = synthetic.generate(day, day, POINTS[:1])["system_conditions"]
    return system[[*schemas.KEY_COLUMNS, *schemas.SYSTEM_FORECASTS]]


def forecast(market, day: str, model=None, **overrides) -> pd.DataFrame:
    frames = {**market, **overrides}
    return forecasting.forecast_day(
        model or EveryColumnModel(),
        frames["dam_prices"],
        frames["rtm_prices"],
        frames["system_conditions"],
        drivers(day),
        POINTS,
        day,
    )


def bump(frame: pd.DataFrame, columns: list[str], since: str, by: float = 437.0) -> pd.DataFrame:
    out = frame.copy()
    out.loc[out["delivery_date"] >= pd.Timestamp(since), columns] += by
    return out


DAY = "2025-02-18"


def test_data_after_the_decision_time_cannot_change_the_forecast(market):
    baseline = forecast(market, DAY)
    leaked = forecast(
        market,
        DAY,
        rtm_prices=bump(market["rtm_prices"], ["rtm_price"], "2025-02-17"),  # RTM of D-1 and later
        dam_prices=bump(market["dam_prices"], ["dam_price"], "2025-02-18"),  # DAM of D and later
        # Driver actuals of D-1 and later, and everything in the system table from D on.
        system_conditions=bump(
            bump(market["system_conditions"], schemas.DRIVER_ACTUALS, "2025-02-17"),
            schemas.SYSTEM_FORECASTS,
            "2025-02-18",
        ),
    )
    pd.testing.assert_frame_equal(leaked, baseline)


@pytest.mark.parametrize(
    ("table", "column", "since"),
    [
        ("dam_prices", "dam_price", "2025-02-17"),  # D-1's DAM cleared on D-2: known
        ("rtm_prices", "rtm_price", "2025-02-16"),  # D-2's RTM is settled: known
    ],
)
def test_data_known_at_the_decision_time_does_change_it(market, table, column, since):
    # The control for the test above: the stub model does see what is legitimately known.
    moved = forecast(market, DAY, **{table: bump(market[table], [column], since)})
    assert not np.allclose(moved["dart_forecast"], forecast(market, DAY)["dart_forecast"])


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
def training_table(market) -> pd.DataFrame:
    from dart_assets import features

    table = features.build_features(market["dam_prices"], market["rtm_prices"], market["system_conditions"], POINTS)
    return table[table["delivery_date"] < "2025-02-15"].dropna(subset=["dart"]).reset_index(drop=True)


@pytest.mark.parametrize("lookback", [24, 48])
def test_an_lstm_champion_gets_the_history_its_look_back_needs(market, training_table, tmp_path, lookback):
    # LstmConfig exposes `lookback`; a champion trained with 48 h must still forecast all 24 hours of D.
    from dart_assets import features
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
