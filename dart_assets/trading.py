"""Virtual-bid P&L of DART forecasts, next to naive strategies, and the forecast quality behind it.

A virtual supply position (a DAM energy-only offer) sells 1 MW day-ahead and buys it back in real time: it earns
DAM - RT per MWh. A virtual demand position (a DAM energy bid) earns RT - DAM. So for a position of +1 (supply),
-1 (demand) or 0 (flat) the gross P&L of an hour is position x (DAM - RT), and the net P&L subtracts the fee for
every MWh traded. All P&L figures are $ per MW traded; pooled figures add the points up (1 MW at each point).

The input is one row per (timestamp_utc, settlement_point) with the forecast (p10, p50, p90), the realised
dam_price and rtm_price, and naive forecasts as `baseline_<name>` columns (the hour-of-week strategy reads
`baseline_hour_of_week`, filled by `hour_of_week_median` from the training window known at decision time).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dart_assets.market.timeutil import from_utc
from dart_assets.ml import metrics

# Default fee, charged once per traded MWh (covering the DAM award and its real-time settlement), an assumption: no
# per-MWh ERCOT charge on DAM energy-only offers or energy bids could be verified here; ERCOT's system
# administration fee (about $0.55/MWh since 2016) is charged on metered load, which a purely financial position
# does not have. What a virtual trader does pay is
# harder to pin down: allocated uplift, the QSE's scheduling, credit and collateral costs, and the price impact or
# non-clearing risk of an offer/bid that must clear in the DAM. $0.50/MWh stands for that, of the order of the
# administration fee. It is configurable, and every result also reports `break_even_fee` (gross P&L per traded MWh),
# the fee at which a strategy would earn nothing, so the conclusion does not hinge on this number.
DEFAULT_FEE_PER_MWH = 0.50
# Trade only when the median forecast spread covers the fee: below it, even a correct sign earns nothing.
DEFAULT_THRESHOLD = DEFAULT_FEE_PER_MWH

MODEL_STRATEGIES = ("threshold", "band")
NAIVE_STRATEGIES = ("naive_long_dart", "naive_hour_of_week")
STRATEGIES = MODEL_STRATEGIES + NAIVE_STRATEGIES
HOUR_OF_WEEK_BASELINE = "baseline_hour_of_week"
POOLED = "pooled"
ALL = "all"
DAYS_PER_YEAR = 365  # power trades every day, weekends and holidays included

KEYS = ["timestamp_utc", "settlement_point"]
REQUIRED_COLUMNS = ["timestamp_utc", "delivery_date", "settlement_point", "p10", "p50", "p90", "dam_price", "rtm_price"]
SUMMARY_COLUMNS = [
    "hours",
    "traded_hours",
    "share_traded",
    "total_pnl",
    "pnl_per_mwh",
    "break_even_fee",
    "hit_rate",
    "sharpe",
    "max_drawdown",
    "trading_days",
    "days",
]


@dataclass(frozen=True)
class TradingEvaluation:
    """Every strategy evaluated on the same hours with the same fee.

    - hourly: strategy, timestamp_utc, delivery_date, settlement_point, position (+1 supply, -1 demand, 0 flat),
      gross_pnl (before fee), pnl (after fee).
    - daily: strategy, settlement_point (a point or "pooled"), delivery_date, pnl, cumulative_pnl; one row for
      every delivery day the point (pooled: any point) has hours for, days without trades at 0.
    - monthly: strategy, settlement_point, month ("YYYY-MM" of the delivery date), pnl.
    - summary: indexed by (strategy, settlement_point), columns SUMMARY_COLUMNS (see `evaluate_strategies`).
    """

    fee_per_mwh: float
    threshold: float
    hourly: pd.DataFrame
    daily: pd.DataFrame
    monthly: pd.DataFrame
    summary: pd.DataFrame

    def metrics(self) -> dict[str, float]:
        """Flat `trade_<strategy>_<point>_<metric>` numbers for MLflow (point is a settlement point or "pooled")."""
        values = self.summary.to_numpy(dtype="float64")
        return {
            f"trade_{strategy}_{point}_{name}": float(values[i, j])
            for i, (strategy, point) in enumerate(self.summary.index.to_list())
            for j, name in enumerate(self.summary.columns)
        }

    def markdown(self) -> str:
        """The summary table, then pooled monthly P&L (months x strategies), for UI metadata."""
        monthly = self.monthly[self.monthly["settlement_point"] == POOLED].pivot(
            index="month", columns="strategy", values="pnl"
        )[list(STRATEGIES)]
        return (
            f"Fee ${self.fee_per_mwh:.2f}/MWh, threshold ${self.threshold:.2f}/MWh; P&L in $ per MW.\n\n"
            + self.summary.reset_index().to_markdown(index=False, floatfmt=".2f")
            + "\n\nPooled monthly P&L ($ per MW at each point):\n\n"
            + monthly.to_markdown(floatfmt=".0f")
        )


@dataclass(frozen=True)
class QualityReport:
    """Forecast quality indexed by (month, settlement_point); month or point "all" aggregates over the other.

    Columns: hours, mae, rmse, best_baseline (the naive forecast with the lowest MAE on the same hours),
    best_baseline_mae, mae_skill (1 - mae / best_baseline_mae), sign_accuracy (hours with realised DART 0
    ignored), p10_p90_coverage.
    """

    table: pd.DataFrame

    def markdown(self) -> str:
        return self.table.reset_index().to_markdown(index=False, floatfmt=".3f")


def hour_of_week_median(history: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray:
    """Naive DART forecast for `rows`: the median realised DART of `history` per settlement point x hour ending
    x weekday (Central delivery date), falling back to the point's hour-ending median, then its overall median,
    for combinations `history` never saw.

    `history` (timestamp_utc, settlement_point, dam_price, rtm_price) must be the training window known at the
    decision time of every row; `rows` needs timestamp_utc and settlement_point. A point absent from `history`
    has no naive forecast: ValueError.
    """
    missing = sorted(set(rows["settlement_point"]) - set(history["settlement_point"]))
    if missing:
        raise ValueError(f"hour-of-week median: no training history for settlement point(s) {missing}")
    dart = (history["dam_price"] - history["rtm_price"]).to_numpy()
    known, wanted = _hour_of_week(history), _hour_of_week(rows)
    known["dart"] = dart
    forecast = np.full(len(rows), np.nan)
    for keys in (["settlement_point", "hour_ending", "weekday"], ["settlement_point", "hour_ending"]):
        medians = known.groupby(keys)["dart"].median()
        looked_up = medians.reindex(pd.MultiIndex.from_frame(wanted[keys])).to_numpy()
        forecast = np.where(np.isnan(forecast), looked_up, forecast)
    by_point = known.groupby("settlement_point")["dart"].median()
    return np.where(np.isnan(forecast), by_point.reindex(wanted["settlement_point"]).to_numpy(), forecast)


def _positions(frame: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Position per hour for every strategy: columns STRATEGIES, values +1 supply, -1 demand, 0 flat."""
    p10, p50, p90 = (frame[c].to_numpy(dtype="float64") for c in ("p10", "p50", "p90"))
    positions = {
        "threshold": np.where(p50 > threshold, 1, np.where(p50 < -threshold, -1, 0)),
        "band": np.where((p10 > 0) & (p50 > 0), 1, np.where((p90 < 0) & (p50 < 0), -1, 0)),
        "naive_long_dart": np.ones(len(frame), dtype="int64"),
        "naive_hour_of_week": np.sign(frame[HOUR_OF_WEEK_BASELINE].to_numpy(dtype="float64")),
    }
    return pd.DataFrame({name: positions[name].astype("int64") for name in STRATEGIES}, index=frame.index)


def evaluate_strategies(
    frame: pd.DataFrame,
    fee_per_mwh: float = DEFAULT_FEE_PER_MWH,
    threshold: float = DEFAULT_THRESHOLD,
    label: str = "forecast frame",
) -> TradingEvaluation:
    """P&L of every strategy on the hours of `frame`, per settlement point and pooled, 1 MW per traded hour.

    Strategies, per hour:
    - threshold: supply when P50 > +threshold, demand when P50 < -threshold, flat otherwise.
    - band: the sign of P50, only when the P10-P90 band excludes zero (P10 > 0 for supply, P90 < 0 for demand).
    - naive_long_dart: supply every hour (bets on the average DAM premium).
    - naive_hour_of_week: the sign of the `baseline_hour_of_week` forecast, every hour (no threshold).

    Summary metrics, per strategy and point (pooled: all point-hours, daily P&L summed over points):
    - total_pnl: net P&L, $ per MW; pnl_per_mwh: total_pnl / traded MWh (NaN without trades).
    - break_even_fee: gross P&L per traded MWh, the fee at which total_pnl would be 0.
    - hit_rate: share of traded hours whose gross P&L (before fee) is > 0, so it measures the direction call
      alone and does not move with the fee assumption; an hour earning exactly 0 is a miss. NaN without trades.
    - share_traded: traded hours / hours.
    - sharpe: mean / standard deviation (ddof 1) of daily net P&L x sqrt(365), over every delivery day of the
      input (a day without trades counts as 0; a day absent from the input is not a day). NaN with fewer than two
      days or constant daily P&L.
    - max_drawdown: largest fall of cumulative daily net P&L from its running peak, the peak starting at 0 before
      the first day (so early losses count), $ per MW, >= 0.
    - trading_days: days with at least one traded hour; days: delivery days evaluated.
    """
    if fee_per_mwh < 0 or threshold < 0:
        raise ValueError(f"fee and threshold must be >= 0 $/MWh, got {fee_per_mwh} and {threshold}")
    frame = _validated(frame, [*REQUIRED_COLUMNS, HOUR_OF_WEEK_BASELINE], label)
    positions = _positions(frame, threshold)
    dart = (frame["dam_price"] - frame["rtm_price"]).to_numpy()
    hourly = pd.concat(
        [
            frame[["timestamp_utc", "delivery_date", "settlement_point"]].assign(
                strategy=name, position=positions[name].to_numpy()
            )
            for name in STRATEGIES
        ],
        ignore_index=True,
    )
    hourly["gross_pnl"] = hourly["position"] * np.tile(dart, len(STRATEGIES))
    hourly["pnl"] = hourly["gross_pnl"] - fee_per_mwh * hourly["position"].abs()
    hourly = hourly[["strategy", "timestamp_utc", "delivery_date", "settlement_point", "position", "gross_pnl", "pnl"]]

    per_point = hourly.groupby(["strategy", "settlement_point", "delivery_date"], as_index=False)["pnl"].sum()
    pooled = hourly.groupby(["strategy", "delivery_date"], as_index=False)["pnl"].sum().assign(settlement_point=POOLED)
    daily = pd.concat([per_point, pooled[per_point.columns]], ignore_index=True)
    daily = daily.sort_values(["strategy", "settlement_point", "delivery_date"], ignore_index=True)
    daily["cumulative_pnl"] = daily.groupby(["strategy", "settlement_point"])["pnl"].cumsum()

    monthly = (
        daily.assign(month=daily["delivery_date"].dt.strftime("%Y-%m"))
        .groupby(["strategy", "settlement_point", "month"], as_index=False)["pnl"]
        .sum()
    )

    points = sorted(frame["settlement_point"].unique())
    rows = {}
    for strategy in STRATEGIES:
        of_strategy = hourly[hourly["strategy"] == strategy]
        days = daily[daily["strategy"] == strategy]
        for point in [*points, POOLED]:
            hours = of_strategy if point == POOLED else of_strategy[of_strategy["settlement_point"] == point]
            rows[(strategy, point)] = _summary(hours, days.loc[days["settlement_point"] == point, "pnl"].to_numpy())
    summary = pd.DataFrame.from_dict(rows, orient="index")[SUMMARY_COLUMNS]
    summary.index = summary.index.set_names(["strategy", "settlement_point"])
    return TradingEvaluation(float(fee_per_mwh), float(threshold), hourly, daily, monthly, summary)


def quality_report(frame: pd.DataFrame, label: str = "forecast frame") -> QualityReport:
    """MAE, RMSE, MAE skill vs the best naive baseline, sign accuracy and P10-P90 coverage of the P50 forecast,
    by delivery month x settlement point, per month and per point over the other, and overall.

    The baselines are the frame's `baseline_<name>` columns; the best one is picked per group, on its hours.
    """
    baselines = [c for c in frame.columns if c.startswith("baseline_")]
    if not baselines:
        raise ValueError(f"{label}: no baseline_<name> columns to measure skill against")
    frame = _validated(frame, [*REQUIRED_COLUMNS, *baselines], label)
    frame = frame.assign(
        month=frame["delivery_date"].dt.strftime("%Y-%m"), dart=frame["dam_price"] - frame["rtm_price"]
    )
    groups = [
        *frame.groupby(["month", "settlement_point"]),
        *(((month, ALL), rows) for (month,), rows in frame.groupby(["month"])),
        *(((ALL, point), rows) for (point,), rows in frame.groupby(["settlement_point"])),
        ((ALL, ALL), frame),
    ]
    table = pd.DataFrame.from_dict(
        {key: _quality(rows, baselines) for key, rows in groups}, orient="index"
    ).sort_index()
    table.index = table.index.set_names(["month", "settlement_point"])
    return QualityReport(table)


def pnl_chart(evaluation: TradingEvaluation, title: str, per_point: bool = False) -> bytes:
    """PNG: cumulative daily net P&L of every strategy, pooled over points; with per_point, one panel per point
    below the pooled one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    daily = evaluation.daily
    points = sorted(set(daily["settlement_point"]) - {POOLED})
    panels = [POOLED, *points] if per_point else [POOLED]
    figure, axes = plt.subplots(len(panels), 1, figsize=(9, 3.2 * len(panels)), squeeze=False, sharex=True)
    for ax, panel in zip(axes[:, 0], panels, strict=True):
        for strategy in STRATEGIES:
            rows = daily[(daily["strategy"] == strategy) & (daily["settlement_point"] == panel)]
            style = "-" if strategy in MODEL_STRATEGIES else "--"
            ax.plot(rows["delivery_date"], rows["cumulative_pnl"], style, linewidth=1.2, label=strategy)
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.set(ylabel="$ per MW", title=f"pooled over {len(points)} point(s)" if panel == POOLED else panel)
    axes[0, 0].legend(loc="upper left", fontsize=8)
    figure.suptitle(f"{title}: cumulative P&L after ${evaluation.fee_per_mwh:.2f}/MWh fee")
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return buffer.getvalue()


def _summary(hours: pd.DataFrame, daily_pnl: np.ndarray) -> dict[str, float | int]:
    traded = hours["position"].to_numpy() != 0
    n_traded = int(traded.sum())
    total = float(hours["pnl"].sum())
    return {
        "hours": len(hours),
        "traded_hours": n_traded,
        "share_traded": n_traded / len(hours),
        "total_pnl": total,
        "pnl_per_mwh": total / n_traded if n_traded else float("nan"),
        "break_even_fee": float(hours["gross_pnl"].sum()) / n_traded if n_traded else float("nan"),
        "hit_rate": float((hours.loc[traded, "gross_pnl"] > 0).mean()) if n_traded else float("nan"),
        "sharpe": sharpe_ratio(daily_pnl),
        "max_drawdown": max_drawdown(daily_pnl),
        "trading_days": int(hours.loc[traded, "delivery_date"].nunique()),
        "days": len(daily_pnl),
    }


def sharpe_ratio(daily_pnl: np.ndarray) -> float:
    """Annualised Sharpe ratio of daily P&L: mean / std (ddof 1) x sqrt(365); NaN if undefined (< 2 days or no
    variation, e.g. a strategy that never trades)."""
    daily_pnl = np.asarray(daily_pnl, dtype="float64")
    if len(daily_pnl) < 2:
        return float("nan")
    std = daily_pnl.std(ddof=1)
    return float(daily_pnl.mean() / std * np.sqrt(DAYS_PER_YEAR)) if std > 0 else float("nan")


def max_drawdown(daily_pnl: np.ndarray) -> float:
    """Largest peak-to-trough fall of cumulative P&L (>= 0), the running peak starting at 0 before day one."""
    cumulative = np.concatenate([[0.0], np.cumsum(np.asarray(daily_pnl, dtype="float64"))])
    return float(np.max(np.maximum.accumulate(cumulative) - cumulative))


def _quality(rows: pd.DataFrame, baselines: list[str]) -> dict[str, object]:
    actual, p50 = rows["dart"].to_numpy(), rows["p50"].to_numpy()
    baseline_mae = {name.removeprefix("baseline_"): metrics.mae(actual, rows[name].to_numpy()) for name in baselines}
    best = min(baseline_mae, key=baseline_mae.__getitem__)
    model_mae = metrics.mae(actual, p50)
    return {
        "hours": len(rows),
        "mae": model_mae,
        "rmse": metrics.rmse(actual, p50),
        "best_baseline": best,
        "best_baseline_mae": baseline_mae[best],
        "mae_skill": metrics.skill(model_mae, baseline_mae[best]),
        "sign_accuracy": metrics.sign_accuracy(actual, p50),
        "p10_p90_coverage": metrics.interval_coverage(actual, rows["p10"].to_numpy(), rows["p90"].to_numpy()),
    }


def _hour_of_week(frame: pd.DataFrame) -> pd.DataFrame:
    """settlement_point, hour_ending and weekday (0 = Monday) of the Central delivery date, from timestamp_utc."""
    local = from_utc(frame["timestamp_utc"])
    return pd.DataFrame(
        {
            "settlement_point": frame["settlement_point"].to_numpy(),
            "hour_ending": local["hour_ending"].to_numpy(),
            "weekday": local["delivery_date"].dt.dayofweek.to_numpy(),
        }
    )


def _validated(frame: pd.DataFrame, columns: list[str], label: str) -> pd.DataFrame:
    """The needed columns, sorted by time and point; ValueError naming the problem and the first day it hits."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{label}: missing column(s) {missing}")
    if frame.empty:
        raise ValueError(f"{label}: no hours to evaluate")
    frame = frame[columns].sort_values(KEYS, ignore_index=True)
    frame["delivery_date"] = pd.to_datetime(frame["delivery_date"])
    duplicated = frame.duplicated(KEYS, keep=False)
    if duplicated.any():
        first = frame[duplicated].iloc[0]
        raise ValueError(
            f"{label}: {int(duplicated.sum())} rows share a (timestamp_utc, settlement_point), first "
            f"{first['timestamp_utc']} at {first['settlement_point']}"
        )
    values = [c for c in columns if c not in ("timestamp_utc", "delivery_date", "settlement_point")]
    empty = frame[values].isna()
    if empty.any().any():
        bad = frame[empty.any(axis=1)].iloc[0]
        raise ValueError(
            f"{label}: {int(empty.any(axis=1).sum())} hour(s) without {sorted(empty.columns[empty.any()])}, first on "
            f"{bad['delivery_date'].date()} at {bad['settlement_point']}"
        )
    return frame
