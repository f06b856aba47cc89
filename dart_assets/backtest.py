"""Walk-forward backtest: how the forecaster would have done month after month, trained only on what was known then.

The protocol for delivery month M (first day M1):
- Training rows: the hourly_features rows of whole delivery days up to M1-2, the last day settled in real time at
  M1's decision time (D-1 = M1-1 at the decision time, before the DAM closes); with a rolling window, only those of
  the last N months before M1. M1-1's early RTM hours are public then too but are left out: the model is fitted on
  whole settled days, as a retrain run the morning of M1-1 would see them.
- Every family is trained on them exactly as production trains it (`ml.training.train_model`: the same 80/10/10
  chronological split of those rows, early stopping on its validation part, conformal band calibration, metrics vs
  the naive baselines on its test part), with fixed seeds.
- The model to serve is chosen by production's rule (`ml.selection.select_candidate`: best validation metric,
  then the gate on test). When the winner fails the gate, production keeps its previous champion, or serves its
  `fallback` alias (the naive family) if there never was one; months here are independent, so there is no
  previous champion, and the month is served by the naive family trained on the same rows, labelled
  `fallback:naive`; without the naive family among the families, by the best naive baseline on the validation part,
  labelled `fallback:<baseline>`, its P10-P90 band from its validation errors.
- Every delivery day of M is forecast in one vectorised pass from M's hourly_features rows: each was built with
  its own day's decision-time cutoff (`features.py`), so it holds what that morning's run saw. An LSTM gets the
  look-back rows before M it needs (their features are as of their own, earlier, cutoffs).
- Beside the forecast: the realised DAM, RTM and DART, and three naive forecasts of the same hours: zero spread,
  the last known same hour (D-1's if published by the decision time, else D-2's, else 0), and the hour-of-week
  median per point of the training rows (`trading.hour_of_week_median`).

Days of M absent from hourly_features (a key input missing, see `features.training_rows`) are not forecast, as the
morning run refuses them; hours the served model cannot forecast (an LSTM without a full look-back) are dropped and
counted. Nothing here knows Dagster.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dart_assets import trading
from dart_assets.common.tracking import RunRecord
from dart_assets.features import SETTLED_LAG_DAYS, TARGET, feature_columns
from dart_assets.ml import families, metrics
from dart_assets.ml.artifacts import load_bundle
from dart_assets.ml.dataset import chronological_split
from dart_assets.ml.naive import NaiveModel
from dart_assets.ml.selection import Selection, SelectionRule, select_candidate

Progress = Callable[[str], None]
KEYS = ["timestamp_utc", "settlement_point"]
QUANTILES = ["p10", "p50", "p90"]
BASELINES = ("zero", "last_same_hour", "hour_of_week")
FALLBACK_PREFIX = "fallback:"
FRAME_COLUMNS = [
    "timestamp_utc",
    "delivery_date",
    "hour_ending",
    "settlement_point",
    *QUANTILES,
    "dam_price",
    "rtm_price",
    TARGET,
    *(f"baseline_{name}" for name in BASELINES),
    "model",
    "gate_passed",
    "selection",
    "train_first_day",
    "train_last_day",
]
METRIC_COLUMNS = ["hours", "mae", "rmse", "sign_accuracy", "p10_p90_coverage", "mae_skill", "val_mae"]
BACKTEST_EXPERIMENT = "dart-backtest"


class BacktestError(ValueError):
    """A month that cannot be backtested: no rows to forecast, or too little history before it."""


@dataclass(frozen=True)
class TrainingWindow:
    """Which rows before a month its models learn from."""

    rolling_months: int | None = None
    """None: expanding window (every settled row before the month); N: only those of the last N months."""
    min_training_days: int = 28
    """Fewest calendar days the training rows must span; a shorter history fails the month with a clear error."""

    def __post_init__(self) -> None:
        if self.rolling_months is not None and self.rolling_months < 1:
            raise ValueError(f"rolling window must be at least 1 month, got {self.rolling_months}")
        if self.min_training_days < 1:
            raise ValueError(f"min_training_days must be at least 1, got {self.min_training_days}")

    def __str__(self) -> str:
        if self.rolling_months is None:
            return "expanding"
        return f"rolling {self.rolling_months} month{'s' if self.rolling_months > 1 else ''}"


@dataclass(frozen=True)
class BacktestConfig:
    rule: SelectionRule
    """Production's gate thresholds and selection metric (the `gate` resource's, in Dagster)."""
    families: tuple[str, ...] = tuple(families.FAMILIES)
    window: TrainingWindow = TrainingWindow()
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Hyperparameter overrides per family; the rest are the family's defaults."""
    seed: int = 42
    n_threads: int = 1

    def __post_init__(self) -> None:
        if not self.families:
            raise ValueError("the backtest needs at least one model family")
        for name in (*self.families, *self.params):
            families.get(name)  # unknown names fail here, naming the known ones


@dataclass
class CandidateForecast:
    """One family trained for one month: its metrics on the training rows' own split and its forecasts of M."""

    family: str
    metrics: dict[str, float]
    predictions: pd.DataFrame
    """timestamp_utc, settlement_point, p10, p50, p90 for M's rows (NaN where the model lacked history)."""
    train_seconds: float
    best_iteration: int

    def summary(self) -> dict[str, Any]:
        """Everything but the predictions, JSON-able (what an Azure ML job reports back)."""
        return {
            "family": self.family,
            "metrics": self.metrics,
            "train_seconds": self.train_seconds,
            "best_iteration": self.best_iteration,
        }

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any], predictions: pd.DataFrame) -> CandidateForecast:
        return cls(
            family=summary["family"],
            metrics={k: float(v) for k, v in summary["metrics"].items()},
            predictions=predictions,
            train_seconds=float(summary["train_seconds"]),
            best_iteration=int(summary["best_iteration"]),
        )


@dataclass
class MonthResult:
    month: str
    frame: pd.DataFrame
    """The out-of-sample hourly frame, FRAME_COLUMNS plus `candidate_<family>_p50` per family."""
    selection: Selection
    served: str
    """The chosen family, or `fallback:<baseline>` when the winner failed the gate."""
    reason: str
    metrics: pd.DataFrame
    """Index: the served model, every candidate, every baseline; columns METRIC_COLUMNS, on the month's hours."""
    train_first_day: pd.Timestamp
    train_last_day: pd.Timestamp
    train_days: int
    hours_without_forecast: int
    candidates: dict[str, dict[str, float]]
    """Each family's metrics on its training rows' split (what the selection read)."""
    train_seconds: dict[str, float]
    seconds: float = 0.0


# --- the protocol ------------------------------------------------------------------------------------------------


def month_label(month: str | pd.Timestamp) -> str:
    """ "YYYY-MM" of a month given as "YYYY-MM", a date in it, or a Timestamp."""
    return pd.Timestamp(month).strftime("%Y-%m")


def month_start(month: str | pd.Timestamp) -> pd.Timestamp:
    return pd.Timestamp(month_label(month) + "-01")


def training_rows(features: pd.DataFrame, month: str, window: TrainingWindow) -> pd.DataFrame:
    """The rows month M's models may learn from: whole delivery days settled at M1's decision time (up to M1-2),
    within the window. BacktestError if they span fewer than `window.min_training_days` calendar days (days left
    out of hourly_features for missing inputs inside the span still count: gaps are data)."""
    first = month_start(month)
    last_day = first - pd.Timedelta(days=SETTLED_LAG_DAYS)
    keep = (features["delivery_date"] <= last_day) & features[TARGET].notna()
    if window.rolling_months is not None:
        keep &= features["delivery_date"] >= first - pd.DateOffset(months=window.rolling_months)
    rows = features[keep].reset_index(drop=True)
    span = (rows["delivery_date"].max() - rows["delivery_date"].min()).days + 1 if len(rows) else 0
    if span < window.min_training_days:
        days = f"{rows['delivery_date'].min().date()}..{rows['delivery_date'].max().date()}" if len(rows) else "none"
        raise BacktestError(
            f"month {month_label(month)}: the hourly_features rows before it span {span} day(s) ({days}, "
            f"{window} window, up to {last_day.date()}); at least {window.min_training_days} are needed: "
            "materialize the market data and hourly_features from earlier days"
        )
    return rows


def month_rows(features: pd.DataFrame, month: str) -> pd.DataFrame:
    """M's hourly_features rows, oldest first; BacktestError if there are none."""
    first = month_start(month)
    rows = features[
        (features["delivery_date"] >= first) & (features["delivery_date"] < first + pd.DateOffset(months=1))
    ]
    if rows.empty:
        raise BacktestError(
            f"month {month_label(month)}: no hourly_features rows; materialize the market data and hourly_features "
            "through that month"
        )
    return rows.sort_values(KEYS).reset_index(drop=True)


def lookback_rows(features: pd.DataFrame, month: str, history_hours: int) -> pd.DataFrame:
    """The feature rows just before M that a model needing `history_hours` consecutive hours reads (none for 1)."""
    if history_hours <= 1:
        return features.iloc[:0]
    first = month_start(month)
    days = math.ceil((history_hours - 1) / 23)  # a spring-forward day has 23 hours
    before = features[
        (features["delivery_date"] < first) & (features["delivery_date"] >= first - pd.Timedelta(days=days))
    ]
    return before.sort_values(KEYS)


def forecast_rows(model: Any, features: pd.DataFrame, month: str, rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """One vectorised pass: a loaded bundle's calibrated p10/p50/p90 for M's rows (`rows`, default all of M),
    aligned to them, NaN where the model lacks history."""
    rows = month_rows(features, month) if rows is None else rows
    history = lookback_rows(features, month, int(model.metadata.get("history_hours") or 1))
    history = history[history["settlement_point"].isin(rows["settlement_point"].unique())]
    frame = pd.concat([history, rows], ignore_index=True)
    predicted = model.predict(frame).iloc[len(history) :]
    return predicted[QUANTILES].reset_index(drop=True).set_axis(rows.index)


def train_candidate(
    family: str,
    features: pd.DataFrame,
    month: str,
    window: TrainingWindow,
    params: Mapping[str, Any] | None = None,
    seed: int = 42,
    n_threads: int = 1,
    progress: Progress | None = None,
) -> CandidateForecast:
    """Train `family` for month M as production trains it, reload its bundle as the morning run does, and forecast
    M's rows."""
    from dart_assets.ml.training import train_model

    train = training_rows(features, month, window)
    rows = month_rows(features, month)
    with tempfile.TemporaryDirectory(prefix=f"dart_backtest_{family}_") as work:
        result = train_model(
            family,
            train,
            feature_columns(features),
            Path(work),
            params=dict(params or {}),
            seed=seed,
            n_threads=n_threads,
            progress=progress,
        )
        model = load_bundle(result.bundle_dir)
        predicted = forecast_rows(model, features, month, rows)
    run_metrics = {k: float(v) for k, v in result.metrics.items()}
    run_metrics["test_prediction_std"] = float(result.test_predictions["p50"].std())
    return CandidateForecast(
        family=family,
        metrics=run_metrics,
        predictions=pd.concat([rows[KEYS], predicted], axis=1),
        train_seconds=round(result.train_seconds, 2),
        best_iteration=int(result.best_iteration),
    )


def naive_forecasts(history: pd.DataFrame, rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """The three naive forecasts of `rows`, knowing `history` (training rows) and the rows' own lags."""
    last = pd.Series(np.nan, index=rows.index)
    for lag in ("dart_lag_1d", "dart_lag_2d"):  # D-1's hour if published by the decision time, else D-2's
        if lag in rows:
            last = last.fillna(rows[lag])
    return {
        "zero": np.zeros(len(rows)),
        "last_same_hour": last.fillna(0.0).to_numpy(dtype="float64"),
        "hour_of_week": trading.hour_of_week_median(history, rows),
    }


@dataclass(frozen=True)
class Fallback:
    """The naive baseline served when no model passes the gate, chosen on the training rows' validation part."""

    baseline: str
    val_mae: dict[str, float]
    band: tuple[float, float]
    """10% and 90% quantiles of its validation errors (actual - forecast), $/MWh: its P10-P90 band offsets."""


def choose_fallback(train: pd.DataFrame) -> Fallback:
    """The best naive baseline on the validation part of the same chronological split the models used."""
    parts = chronological_split(train)
    actual = parts.val[TARGET].to_numpy()
    forecasts = naive_forecasts(parts.train, parts.val)
    val_mae = {name: metrics.mae(actual, values) for name, values in forecasts.items()}
    best = min(val_mae, key=val_mae.__getitem__)
    errors = actual - forecasts[best]
    return Fallback(best, val_mae, (float(np.quantile(errors, 0.1)), float(np.quantile(errors, 0.9))))


def assemble_month(
    features: pd.DataFrame,
    month: str,
    candidates: Mapping[str, CandidateForecast],
    config: BacktestConfig,
) -> MonthResult:
    """Choose with the production rule, serve the winner (or the labelled fallback), and lay out M's frame and
    metrics."""
    month = month_label(month)
    train = training_rows(features, month, config.window)
    rows = month_rows(features, month)
    selection = select_candidate({name: c.metrics for name, c in candidates.items()}, config.rule)
    naive = naive_forecasts(train, rows)
    aligned = {name: _aligned(c.predictions, rows, name) for name, c in candidates.items()}
    if selection.passed:
        served, reason, quantiles = selection.chosen, selection.reason, aligned[selection.chosen]
    elif NaiveModel.name in aligned:  # production's fallback alias: the naive family trained on the same rows
        served, quantiles = FALLBACK_PREFIX + NaiveModel.name, aligned[NaiveModel.name]
        reason = (
            f"{selection.reason} Production would keep its previous champion, or serve its fallback (the naive "
            "family) without one; months here are independent, so the naive family is served."
        )
    else:
        fallback = choose_fallback(train)
        served = FALLBACK_PREFIX + fallback.baseline
        p50 = naive[fallback.baseline]
        quantiles = pd.DataFrame(
            {
                "p10": np.minimum(p50 + fallback.band[0], p50),
                "p50": p50,
                "p90": np.maximum(p50 + fallback.band[1], p50),
            },
            index=rows.index,
        )
        tried = ", ".join(f"{name} {mae:.3f}" for name, mae in fallback.val_mae.items())
        reason = (
            f"{selection.reason} Production would keep its previous champion, or serve nothing without one; months "
            f"here are independent, so the best naive baseline on validation is served: {fallback.baseline} "
            f"(validation MAE {tried})."
        )
    frame = rows[["timestamp_utc", "delivery_date", "hour_ending", "settlement_point"]].copy()
    frame[QUANTILES] = quantiles[QUANTILES].to_numpy()
    frame[["dam_price", "rtm_price", TARGET]] = rows[["dam_price", "rtm_price", TARGET]].to_numpy()
    for name in BASELINES:
        frame[f"baseline_{name}"] = naive[name]
    frame["model"] = served
    frame["gate_passed"] = selection.passed
    frame["selection"] = reason
    frame["train_first_day"] = train["delivery_date"].min()
    frame["train_last_day"] = train["delivery_date"].max()
    for name, predicted in aligned.items():
        frame[f"candidate_{name}_p50"] = predicted["p50"].to_numpy()
    forecast = frame["p50"].notna()
    frame = frame[forecast].reset_index(drop=True)
    return MonthResult(
        month=month,
        frame=frame,
        selection=selection,
        served=served,
        reason=reason,
        metrics=month_metrics(frame, served, {n: c.metrics for n, c in candidates.items()}),
        train_first_day=train["delivery_date"].min(),
        train_last_day=train["delivery_date"].max(),
        train_days=int(train["delivery_date"].nunique()),
        hours_without_forecast=int((~forecast).sum()),
        candidates={name: dict(c.metrics) for name, c in candidates.items()},
        train_seconds={name: c.train_seconds for name, c in candidates.items()},
    )


def month_metrics(frame: pd.DataFrame, served: str, candidates: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """The served forecast, each candidate's P50 and each baseline on the month's hours: MAE, RMSE, sign accuracy,
    band coverage (served only) and MAE skill vs the best baseline on the same hours; val_mae for candidates."""
    actual = frame[TARGET].to_numpy()

    def scores(predicted: np.ndarray, band: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, float]:
        rows = ~np.isnan(predicted)
        best = min(metrics.mae(actual[rows], frame[f"baseline_{b}"].to_numpy()[rows]) for b in BASELINES)
        mae = metrics.mae(actual[rows], predicted[rows])
        return {
            "hours": float(rows.sum()),
            "mae": mae,
            "rmse": metrics.rmse(actual[rows], predicted[rows]),
            "sign_accuracy": metrics.sign_accuracy(actual[rows], predicted[rows]),
            "p10_p90_coverage": metrics.interval_coverage(actual, *band) if band else math.nan,
            "mae_skill": metrics.skill(mae, best),
            "val_mae": math.nan,
        }

    band = (frame["p10"].to_numpy(), frame["p90"].to_numpy())
    table = {f"{served} (served)": scores(frame["p50"].to_numpy(), band)}
    for name, candidate_metrics in candidates.items():
        table[f"candidate {name}"] = {
            **scores(frame[f"candidate_{name}_p50"].to_numpy(dtype="float64")),
            "val_mae": candidate_metrics.get("val_mae", math.nan),
        }
    for name in BASELINES:
        table[f"baseline {name}"] = scores(frame[f"baseline_{name}"].to_numpy(dtype="float64"))
    return pd.DataFrame.from_dict(table, orient="index")[METRIC_COLUMNS]


def run_month(
    features: pd.DataFrame, month: str, config: BacktestConfig, progress: Progress | None = None
) -> MonthResult:
    """Month M end to end in this process: every family trained in turn, then chosen and laid out."""
    started = time.perf_counter()
    month = month_label(month)
    report = progress or (lambda message: None)
    training_rows(features, month, config.window)  # fail before training when the history is too short
    candidates = {
        name: train_candidate(
            name, features, month, config.window, config.params.get(name), config.seed, config.n_threads, report
        )
        for name in config.families
    }
    result = assemble_month(features, month, candidates, config)
    result.seconds = round(time.perf_counter() - started, 2)
    report(f"{month}: served {result.served} ({len(result.frame)} hours) in {result.seconds:.1f}s")
    return result


def run_months(
    features: pd.DataFrame,
    months: Iterable[str],
    config: BacktestConfig,
    max_workers: int | None = None,
    progress: Progress | None = None,
) -> dict[str, MonthResult]:
    """Independent months side by side, one process per month at a time (at most `max_workers`, default the cores).

    Worker processes are spawned (no fork of a threaded parent); their progress lines come back through a queue.
    The latest months, with the most training rows, start first, so the short ones fill in at the end.
    """
    months = [month_label(m) for m in months]
    report = progress or (lambda message: None)
    workers = max(1, min(len(months), max_workers or os.cpu_count() or 1))
    if workers == 1:
        return {m: run_month(features, m, config, _prefixed(report, m)) for m in months}
    context = multiprocessing.get_context("spawn")
    lines = context.Queue()
    relay = threading.Thread(target=_relay, args=(lines, report), daemon=True)
    relay.start()
    try:
        with ProcessPoolExecutor(
            workers, context, initializer=_init_worker, initargs=(features, config, lines)
        ) as pool:
            futures = {m: pool.submit(_run_in_worker, m) for m in sorted(months, reverse=True)}
            return {m: futures[m].result() for m in months}
    finally:
        lines.put(None)
        relay.join(timeout=10)


_WORKER: dict[str, Any] = {}


def _init_worker(features: pd.DataFrame, config: BacktestConfig, lines: Any) -> None:
    _WORKER.update(features=features, config=config, lines=lines)


def _run_in_worker(month: str) -> MonthResult:
    try:
        return run_month(
            _WORKER["features"], month, _WORKER["config"], lambda line: _WORKER["lines"].put((month, line))
        )
    except BacktestError:
        raise
    except Exception as exc:  # the parent sees which month failed, with a picklable error
        raise BacktestError(f"month {month}: {type(exc).__name__}: {exc}") from None


def _relay(lines: Any, report: Progress) -> None:
    while True:
        try:
            item = lines.get(timeout=1)
        except queue.Empty:
            continue
        if item is None:
            return
        month, line = item
        report(f"[{month}] {line}")


def _prefixed(report: Progress, month: str) -> Progress:
    return lambda line: report(f"[{month}] {line}")


def _aligned(predictions: pd.DataFrame, rows: pd.DataFrame, name: str) -> pd.DataFrame:
    """A candidate's predictions in the order of `rows`; ValueError if it forecast other hours."""
    joined = rows[KEYS].merge(predictions[[*KEYS, *QUANTILES]], on=KEYS, how="left", validate="one_to_one")
    if len(joined) != len(rows) or len(predictions) != len(rows):
        raise ValueError(f"{name}: {len(predictions)} predictions for {len(rows)} rows of the month")
    return joined.set_axis(rows.index)


# --- the report over all months ----------------------------------------------------------------------------------


@dataclass
class BacktestReport:
    evaluation: trading.TradingEvaluation
    quality: trading.QualityReport
    models: pd.DataFrame
    """One row per month: the served model, whether the gate passed, the training window, hours, the reason."""
    chart_png: bytes

    @property
    def months(self) -> list[str]:
        return list(self.models.index)

    def run_record(self, directory: Path) -> RunRecord:
        """What one MLflow run per report holds: the config, every number, the tables and the chart (written into
        `directory` to be logged)."""
        chart = Path(directory) / "cumulative_pnl.png"
        chart.write_bytes(self.chart_png)
        quality = self.quality.table
        flat = quality.select_dtypes("number").reset_index().melt(id_vars=["month", "settlement_point"])
        quality_metrics = {f"quality_{m}_{p}_{name}": float(v) for m, p, name, v in flat.itertuples(index=False)}
        return RunRecord(
            params={
                "fee_per_mwh": self.evaluation.fee_per_mwh,
                "threshold": self.evaluation.threshold,
                "months": ",".join(self.months),
                "settlement_points": ",".join(sorted(self.evaluation.hourly["settlement_point"].unique())),
                "hours": len(self.evaluation.hourly) // len(trading.STRATEGIES),
            },
            metrics={**self.evaluation.metrics(), **quality_metrics},
            texts={
                "trading.md": self.evaluation.markdown(),
                "quality.md": self.quality.markdown(),
                "models.md": self.models.to_markdown(),
                "trading_summary.csv": self.evaluation.summary.to_csv(),
                "quality.csv": quality.to_csv(),
                "monthly_pnl.csv": self.evaluation.monthly.to_csv(index=False),
            },
            files=(chart,),
        )


def report(
    frame: pd.DataFrame,
    fee_per_mwh: float = trading.DEFAULT_FEE_PER_MWH,
    threshold: float = trading.DEFAULT_THRESHOLD,
) -> BacktestReport:
    """Forecast quality by month and point, and the trading evaluation next to the naive strategies, on the
    concatenated months (the `trading` module's own functions, on exactly this frame)."""
    evaluation = trading.evaluate_strategies(frame, fee_per_mwh, threshold, label="dart_backtest")
    quality = trading.quality_report(frame, label="dart_backtest")
    month = pd.to_datetime(frame["delivery_date"]).dt.strftime("%Y-%m")
    models = (
        frame.assign(month=month)
        .groupby("month")
        .agg(
            model=("model", "first"),
            gate_passed=("gate_passed", "first"),
            train_first_day=("train_first_day", "first"),
            train_last_day=("train_last_day", "first"),
            hours=("p50", "size"),
            selection=("selection", "first"),
        )
    )
    for column in ("train_first_day", "train_last_day"):
        models[column] = pd.to_datetime(models[column]).dt.strftime("%Y-%m-%d")
    chart = trading.pnl_chart(
        evaluation, f"Walk-forward backtest {models.index[0]}..{models.index[-1]}", per_point=True
    )
    return BacktestReport(evaluation, quality, models, chart)
