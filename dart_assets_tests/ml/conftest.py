"""A small synthetic `hourly_features` frame with a learnable DART signal, shared by the ML tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dart_assets.ml import families
from dart_assets.ml.metrics import PER_POINT

POINTS = ("HB_NORTH", "HB_WEST", "LZ_HOUSTON")
FEATURES = [
    "settlement_point",
    "hour_ending",
    "day_of_week",
    "is_holiday",
    "dart_lag_1d",
    "dart_lag_2d",
    "dart_lag_7d",
    "dart_median_28d",
    "dart_mean_7d",
    "rtm_lag_2d",
    "dam_lag_1d",
    "load_forecast_mw",
    "wind_forecast_mw",
]


def make_hourly_features(
    days: int = 60, points: tuple[str, ...] = POINTS, seed: int = 0, unknown_days: int = 1
) -> pd.DataFrame:
    """Hourly rows per point: DART = driver effect + hourly shape + point offset + fat-tailed noise.

    The driver (load minus wind forecast) is known at decision time, so a model can beat the naive baselines;
    the last `unknown_days` days have NaN DART like days whose prices are not published yet.
    """
    rng = np.random.default_rng(seed)
    timestamps = pd.date_range("2025-03-01 06:00", periods=days * 24, freq="h", tz="UTC")
    local = timestamps.tz_convert("America/Chicago")
    frames = []
    for offset, point in enumerate(points):
        n = len(timestamps)
        hour = local.hour.to_numpy()
        load = 40_000 + 8_000 * np.sin((hour - 6) / 24 * 2 * np.pi) + rng.normal(0, 3_000, n)
        wind = np.clip(12_000 + rng.normal(0, 5_000, n), 0, None)
        noise = rng.standard_t(3, n) * 2.0
        dart = 0.002 * (load - wind - 28_000) + 3 * np.sin(hour / 24 * 2 * np.pi) + 2.0 * offset + noise
        rtm = 35 + rng.normal(0, 5, n)
        frame = pd.DataFrame(
            {
                "timestamp_utc": timestamps,
                "delivery_date": local.tz_localize(None).normalize(),
                "hour_ending": (hour + 1).astype("int64"),
                "repeated_hour": False,
                "settlement_point": point,
                "dart": dart,
                "dam_price": rtm + dart,
                "rtm_price": rtm,
                "day_of_week": local.dayofweek.to_numpy().astype("int64"),
                "is_holiday": np.zeros(n, dtype="int64"),
                "load_forecast_mw": load,
                "wind_forecast_mw": wind,
            }
        )
        series = frame["dart"]
        frame["dart_lag_1d"] = series.shift(24).where(frame["hour_ending"] <= 8)  # published by D-1 09:00
        frame["dart_lag_2d"] = series.shift(48)
        frame["dart_median_28d"] = (
            series.shift(48)
            .groupby(frame["hour_ending"])
            .transform(lambda same_hour: same_hour.rolling(28, min_periods=1).median())
        )
        frame["dart_lag_7d"] = series.shift(168)
        frame["dart_mean_7d"] = sum(series.shift(24 * k) for k in range(2, 9)) / 7
        frame["rtm_lag_2d"] = frame["rtm_price"].shift(48)
        frame["dam_lag_1d"] = frame["dam_price"].shift(24)
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True).sort_values(["timestamp_utc", "settlement_point"], ignore_index=True)
    unknown = out["timestamp_utc"] >= timestamps[-unknown_days * 24]
    out.loc[unknown, ["dart", "dam_price", "rtm_price"]] = np.nan
    return out


@pytest.fixture(scope="session")
def hourly_frame() -> pd.DataFrame:
    return make_hourly_features()


@pytest.fixture(scope="session")
def feature_columns() -> list[str]:
    return list(FEATURES)


# The MLflow metric names the issue fixes: every run logs exactly these from TrainingResult.metrics.
EXPECTED_NAMES = {
    "val_rmse",
    "val_mae",
    "test_rmse",
    "test_mae",
    "test_r2",
    "test_sign_accuracy",
    "test_p10_p90_coverage",
    "test_pinball_p10",
    "test_pinball_p90",
    "baseline_zero_test_mae",
    "baseline_same_hour_test_mae",
    "baseline_hour_dow_test_mae",
    "baseline_zero_test_rmse",
    "baseline_same_hour_test_rmse",
    "baseline_hour_dow_test_rmse",
    "best_baseline_test_mae",
    "test_mae_skill",
    "val_mae_skill",
}


TRADE_NAMES = {"trade_threshold", "test_traded_share", "test_sign_accuracy_traded"}


def per_point_names(points, traded: bool = False) -> set[str]:
    """The per-point test metrics of `metrics.evaluate` (traded ones only with a trade threshold)."""
    return {f"{name}_{point}" for name in PER_POINT for point in points if traded or "traded" not in name}


# What a training run logs: the above, the trade metrics (its serving rules carry a threshold), and per point.
TRAINING_NAMES = EXPECTED_NAMES | TRADE_NAMES | per_point_names(POINTS, traded=True)


# Few iterations/epochs: the tests check wiring and sanity, the defaults are for real data.
QUICK_BOOSTER = {"num_boost_round": 150, "early_stopping_rounds": 20, "log_every": 10, "seeds": 2}
QUICK_PARAMS = {
    "lgbm": QUICK_BOOSTER,
    "xgb": QUICK_BOOSTER,
    "lstm": {"max_epochs": 6, "patience": 3, "hidden_size": 16},
    "ensemble": {
        name: {**defaults, **QUICK_BOOSTER} for name, defaults in families.get("ensemble").default_params.items()
    },
    "naive": {},
}


def served_rows(result, frame: pd.DataFrame) -> pd.DataFrame:
    """The validation and test rows of a training result: what `fit_candidate` served, so a reloaded bundle given
    them reproduces the scored test predictions (each test day's band reads the misses of the days before it)."""
    start = pd.Timestamp(result.split_boundaries["val_start"])
    return frame[(frame["timestamp_utc"] >= start) & frame["dart"].notna()]


@pytest.fixture(scope="session")
def small_frame() -> pd.DataFrame:
    return make_hourly_features(days=40)


@pytest.fixture(scope="session", params=list(QUICK_PARAMS))
def trained(request, small_frame, feature_columns, tmp_path_factory):
    """One training run per family, shared by the training, artifact and tracking tests."""
    from dart_assets.ml.training import train_model

    messages: list[str] = []
    result = train_model(
        request.param,
        small_frame,
        feature_columns,
        tmp_path_factory.mktemp(request.param),
        params=QUICK_PARAMS[request.param],
        progress=messages.append,
    )
    return result, messages
