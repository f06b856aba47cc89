"""The walk-forward backtest core on the built-in data: its protocol, no look-ahead, the production rule, the
naive fallback, and the report's numbers (two hubs, a short month, tiny trainer settings)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json

import numpy as np
import pandas as pd
import pytest

from dart_assets import backtest, features, trading
from dart_assets.market import synthetic
from dart_assets.market.timeutil import hours_in_day
from dart_assets.ml import ensemble
from dart_assets.ml.selection import SelectionRule, select_candidate
from dart_assets_tests.test_features import perturb

POINTS = ["HB_HOUSTON", "HB_NORTH"]
MARKET_START, MARKET_END = "2025-01-15", "2025-03-10"
MONTH, FIRST_DAY, LAST_DAY = "2025-03", pd.Timestamp("2025-03-01"), pd.Timestamp("2025-03-10")
NINE = dt.time(9, 0)
BOOSTER_TINY = {"num_boost_round": 20, "learning_rate": 0.15, "seeds": 1}
TINY = {
    "lgbm": BOOSTER_TINY,
    "xgb": BOOSTER_TINY,
    "lstm": {"max_epochs": 1, "hidden_size": 4},
    "ensemble": {member.name: {**member.default_params, **BOOSTER_TINY} for member in ensemble.MEMBERS},
    "naive": {},
}
CONFIG = backtest.BacktestConfig(rule=SelectionRule(60.0, 0.02), params=TINY)
FORECAST = ["p10", "p50", "p90", "model", *(f"candidate_{f}_p50" for f in TINY)]


def hourly_features(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """What the hourly_features asset computes from the market tables."""
    return features.hourly_features(tables, POINTS)[0]


@functools.cache
def market() -> dict[str, pd.DataFrame]:
    return synthetic.generate(MARKET_START, MARKET_END, POINTS)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return hourly_features(market())


@pytest.fixture(scope="module")
def candidates(table) -> dict[str, backtest.CandidateForecast]:
    return {
        family: backtest.train_candidate(family, table, MONTH, CONFIG.window, TINY[family], CONFIG.seed)
        for family in CONFIG.families
    }


@pytest.fixture(scope="module")
def month(table, candidates) -> backtest.MonthResult:
    return backtest.assemble_month(table, MONTH, candidates, CONFIG)


def days_of(frame: pd.DataFrame, *days: pd.Timestamp) -> pd.DataFrame:
    return frame[frame.delivery_date.isin(days)].reset_index(drop=True)


def test_training_rows_are_the_days_settled_at_the_first_decision_time(table):
    rows = backtest.training_rows(table, MONTH, CONFIG.window)
    # 01-15 and 01-16 lack D-2's RTM (no trainable rows); M1-1 = 02-28 is not settled at 02-28 09:00.
    assert (rows.delivery_date.min(), rows.delivery_date.max()) == (
        pd.Timestamp("2025-01-17"),
        pd.Timestamp("2025-02-27"),
    )
    rolling = backtest.training_rows(table, MONTH, backtest.TrainingWindow(rolling_months=1, min_training_days=27))
    assert rolling.delivery_date.min() == pd.Timestamp("2025-02-01") and rolling.delivery_date.max() == pd.Timestamp(
        "2025-02-27"
    )
    with pytest.raises(
        backtest.BacktestError,
        match=r"month 2025-03: the hourly_features rows before it span 27 day\(s\) \(2025-02-01\.\.2025-02-27, "
        r"rolling 1 month window, up to 2025-02-27\); at least 28 are needed",
    ):
        backtest.training_rows(table, MONTH, backtest.TrainingWindow(rolling_months=1, min_training_days=28))
    with pytest.raises(backtest.BacktestError, match="month 2025-05: no hourly_features rows"):
        backtest.month_rows(table, "2025-05")
    # Days left out of hourly_features (a missing input) inside the window still count toward its span.
    gappy = table[~table.delivery_date.between("2025-02-10", "2025-02-14")]
    assert (
        backtest.training_rows(gappy, MONTH, backtest.TrainingWindow(min_training_days=42)).delivery_date.nunique()
        == 37
    )


def test_the_month_is_every_hour_of_its_days_with_realised_dart_and_naive_forecasts(table, month):
    frame = month.frame
    assert list(frame.columns) == [*backtest.FRAME_COLUMNS, *(f"candidate_{f}_p50" for f in CONFIG.families)]
    days = pd.date_range(FIRST_DAY, LAST_DAY)
    assert len(frame) == sum(hours_in_day(d) for d in days) * len(POINTS)  # 03-09 springs forward: 23 hours
    assert month.hours_without_forecast == 0 and month.train_days == 42
    assert (frame[["p10", "p50", "p90"]].notna()).all().all()
    assert (frame.p10 <= frame.p50).all() and (frame.p50 <= frame.p90).all()
    np.testing.assert_allclose(frame.dart, frame.dam_price - frame.rtm_price)

    rows = backtest.month_rows(table, MONTH)
    history = backtest.training_rows(table, MONTH, CONFIG.window)
    assert (frame.baseline_zero == 0).all()
    np.testing.assert_array_equal(frame.baseline_hour_of_week, trading.hour_of_week_median(history, rows))
    # Last known same hour: D-1's when published by 09:00 (HE01-HE08), else D-2's (also for the HE03 that the
    # spring-forward day 03-09 lacks).
    early = frame.hour_ending <= 8
    assert rows.dart_lag_1d[early].notna().mean() > 0.9 and rows.dart_lag_1d[~early].isna().all()
    np.testing.assert_array_equal(frame.baseline_last_same_hour, rows.dart_lag_1d.fillna(rows.dart_lag_2d))


def test_the_served_model_is_the_production_rules_choice(month, candidates):
    expected = select_candidate({f: c.metrics for f, c in candidates.items()}, CONFIG.rule)
    assert month.selection == expected and month.served == expected.chosen and expected.passed
    assert (month.frame.model == expected.chosen).all() and (month.frame.selection == expected.reason).all()
    np.testing.assert_array_equal(month.frame.p50, month.frame[f"candidate_{expected.chosen}_p50"])
    # The served row of the metrics table is the chosen candidate's, on the month's hours.
    served, same = month.metrics.iloc[0], month.metrics.loc[f"candidate {expected.chosen}"]
    assert served.name == f"{expected.chosen} (served)" and served["mae"] == same["mae"]
    actual, p50 = month.frame.dart.to_numpy(), month.frame.p50.to_numpy()
    assert served["mae"] == pytest.approx(np.mean(np.abs(actual - p50)))
    best = min(np.mean(np.abs(actual - month.frame[f"baseline_{b}"])) for b in backtest.BASELINES)
    assert served["mae_skill"] == pytest.approx(1 - served["mae"] / best)


def test_without_a_model_passing_the_gate_the_naive_family_is_served_labelled(table, candidates, month):
    """As production serves its `fallback` alias: the naive family trained on the same rows."""
    strict = dataclasses.replace(CONFIG, rule=SelectionRule(max_test_rmse=0.001, min_mae_skill=0.02))
    fallback = backtest.assemble_month(table, MONTH, candidates, strict)
    assert not fallback.selection.passed and fallback.served == "fallback:naive"
    frame = fallback.frame
    np.testing.assert_array_equal(frame.p50, frame["candidate_naive_p50"])
    assert "the naive family is served" in frame.selection.iloc[0] and not frame.gate_passed.any()
    pd.testing.assert_frame_equal(frame[["timestamp_utc", "dart"]], month.frame[["timestamp_utc", "dart"]])


def test_without_the_naive_family_the_best_validation_baseline_is_served_labelled(table, candidates, month):
    models = {name: c for name, c in candidates.items() if name != "naive"}
    strict = dataclasses.replace(
        CONFIG, rule=SelectionRule(max_test_rmse=0.001, min_mae_skill=0.02), families=tuple(models)
    )
    fallback = backtest.assemble_month(table, MONTH, models, strict)
    chosen = backtest.choose_fallback(backtest.training_rows(table, MONTH, CONFIG.window))
    assert not fallback.selection.passed and fallback.served == f"fallback:{chosen.baseline}"
    assert chosen.val_mae[chosen.baseline] == min(chosen.val_mae.values()) and set(chosen.val_mae) == set(
        backtest.BASELINES
    )
    frame = fallback.frame
    np.testing.assert_array_equal(frame.p50, frame[f"baseline_{chosen.baseline}"])
    np.testing.assert_allclose(frame.p90 - frame.p10, chosen.band[1] - chosen.band[0])
    assert "Production would keep its previous champion" in frame.selection.iloc[0]
    assert "RMSE gate failed" in fallback.reason and not frame.gate_passed.any()
    # Same hours, same realised prices and baselines as with the passing gate.
    pd.testing.assert_frame_equal(frame[["timestamp_utc", "dart"]], month.frame[["timestamp_utc", "dart"]])


def same(a: object, b: object) -> bool:
    """Equal, NaN metrics (e.g. a sign accuracy on no traded hour) included."""
    canonical = lambda x: dataclasses.asdict(x) if dataclasses.is_dataclass(x) else x  # noqa: E731
    return json.dumps(canonical(a), sort_keys=True, default=str) == json.dumps(
        canonical(b), sort_keys=True, default=str
    )


def test_no_look_ahead(table, month):
    """Nothing published after M's first decision time reaches the models (so M1's forecasts stay); nothing
    published after the last day's decision time reaches any of M's forecasts; and what was known does matter."""
    after_first = backtest.run_month(
        hourly_features(perturb(market(), FIRST_DAY, NINE, published=False)), MONTH, CONFIG
    )
    assert same(after_first.selection, month.selection) and same(after_first.candidates, month.candidates)
    pd.testing.assert_frame_equal(
        days_of(after_first.frame, FIRST_DAY)[FORECAST], days_of(month.frame, FIRST_DAY)[FORECAST]
    )
    assert (days_of(after_first.frame, FIRST_DAY).dart != days_of(month.frame, FIRST_DAY).dart).all()  # it did change

    after_last = backtest.run_month(hourly_features(perturb(market(), LAST_DAY, NINE, published=False)), MONTH, CONFIG)
    pd.testing.assert_frame_equal(after_last.frame[FORECAST], month.frame[FORECAST])
    assert (days_of(after_last.frame, LAST_DAY).dart != days_of(month.frame, LAST_DAY).dart).all()

    known = backtest.run_month(hourly_features(perturb(market(), FIRST_DAY, NINE, published=True)), MONTH, CONFIG)
    assert not same(known.candidates, month.candidates)
    changed = days_of(known.frame, FIRST_DAY).p50 != days_of(month.frame, FIRST_DAY).p50
    assert changed.mean() > 0.9


def test_report_is_the_trading_modules_numbers_on_the_frame(month):
    report = backtest.report(month.frame, fee_per_mwh=1.0, threshold=2.0)
    expected = trading.evaluate_strategies(month.frame, 1.0, 2.0)
    pd.testing.assert_frame_equal(report.evaluation.summary, expected.summary)
    pd.testing.assert_frame_equal(report.quality.table, trading.quality_report(month.frame).table)
    assert report.months == [MONTH] and report.models.loc[MONTH, "model"] == month.served
    assert report.chart_png.startswith(b"\x89PNG")


def test_config_refuses_unknown_families_and_windows():
    with pytest.raises(ValueError, match="unknown model family 'arima'"):
        backtest.BacktestConfig(rule=CONFIG.rule, families=("lgbm", "arima"))
    with pytest.raises(ValueError, match="rolling window must be at least 1 month"):
        backtest.TrainingWindow(rolling_months=0)
