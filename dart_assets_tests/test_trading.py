"""dart_assets.trading: virtual-bid P&L arithmetic by hand, the naive strategies, the quality report, the chart."""

from __future__ import annotations

import io
import math
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from dart_assets import trading
from dart_assets.market import synthetic

A, B = "HB_HOUSTON", "HB_WEST"
FEE, THRESHOLD = 1.0, 2.0
ROOT = math.sqrt(365)

# Two points x three days (2024-07-01..03, CDT) x two hours (HE1 = 05:00Z, HE2 = 06:00Z).
# Columns: point, day, hour ending, p10, p50, p90, dam, rtm, baseline_hour_of_week.
HAND_ROWS = [
    (A, 1, 1, 1.0, 5.0, 9.0, 30.0, 20.0, -1.0),  # DART +10
    (A, 1, 2, -3.0, 1.0, 4.0, 25.0, 28.0, 2.0),  # DART -3
    (A, 2, 1, -8.0, -4.0, -1.0, 20.0, 26.0, 0.0),  # DART -6
    (A, 2, 2, -1.0, 3.0, 6.0, 40.0, 45.0, -3.0),  # DART -5
    (A, 3, 1, -5.0, -2.0, -0.5, 30.0, 30.0, 1.0),  # DART 0; P50 exactly -threshold: flat
    (A, 3, 2, 0.5, 2.5, 7.0, 50.0, 42.0, -0.5),  # DART +8
    (B, 1, 1, -12.0, -6.0, 2.0, 10.0, 30.0, -2.0),  # DART -20
    (B, 1, 2, -1.0, 0.0, 1.0, 15.0, 14.0, 1.0),  # DART +1
    (B, 2, 1, 0.0, 2.0, 5.0, 22.0, 20.0, 4.0),  # DART +2; P50 exactly +threshold, P10 exactly 0: flat
    (B, 2, 2, 4.0, 10.0, 15.0, 60.0, 75.0, 1.0),  # DART -15
    (B, 3, 1, -2.0, 1.0, 3.0, 35.0, 31.0, 1.0),  # DART +4
    (B, 3, 2, -4.0, -1.0, 2.0, 33.0, 36.0, -1.0),  # DART -3
]


def hand_frame() -> pd.DataFrame:
    frame = pd.DataFrame(
        HAND_ROWS,
        columns=[
            "settlement_point",
            "day",
            "he",
            "p10",
            "p50",
            "p90",
            "dam_price",
            "rtm_price",
            "baseline_hour_of_week",
        ],
    )
    frame["delivery_date"] = pd.Timestamp("2024-06-30") + pd.to_timedelta(frame.pop("day"), unit="D")
    frame["timestamp_utc"] = (
        frame["delivery_date"].dt.tz_localize("UTC") + pd.Timedelta(hours=4) + pd.to_timedelta(frame.pop("he"), "h")
    )
    return frame.sample(frac=1.0, random_state=0)  # row order must not matter


@pytest.fixture(scope="module")
def hand() -> trading.TradingEvaluation:
    return trading.evaluate_strategies(hand_frame(), fee_per_mwh=FEE, threshold=THRESHOLD)


def daily(evaluation, strategy, point) -> list[float]:
    rows = evaluation.daily[
        (evaluation.daily["strategy"] == strategy) & (evaluation.daily["settlement_point"] == point)
    ]
    return rows["pnl"].tolist()


def test_positions_of_every_strategy(hand):
    positions = hand.hourly.sort_values(["settlement_point", "timestamp_utc"]).pivot(
        index=["settlement_point", "timestamp_utc"], columns="strategy", values="position"
    )
    # threshold: P50 > 2 supply, P50 < -2 demand; exactly +-2 is flat
    assert positions["threshold"].tolist() == [1, 0, -1, 1, 0, 1, -1, 0, 0, 1, 0, 0]
    # band: P10 > 0 supply, P90 < 0 demand (B day 1 HE1: P90 = 2 straddles zero; B day 2 HE1: P10 = 0 is not > 0)
    assert positions["band"].tolist() == [1, 0, -1, 0, -1, 1, 0, 0, 0, 1, 0, 0]
    assert positions["naive_long_dart"].tolist() == [1] * 12
    # the sign of the hour-of-week median, a median of exactly 0 is flat
    assert positions["naive_hour_of_week"].tolist() == [-1, 1, 0, -1, 1, -1, -1, 1, 1, 1, 1, -1]


def test_threshold_pnl_by_hand(hand):
    s = hand.summary.loc["threshold"]
    # A: +1 x 10 - 1 = 9 | flat | -1 x -6 - 1 = 5, +1 x -5 - 1 = -6 | flat (DART 0), +1 x 8 - 1 = 7
    assert daily(hand, "threshold", A) == [9.0, -1.0, 7.0]
    a = s.loc[A]
    assert a["total_pnl"] == 15.0
    assert (a["hours"], a["traded_hours"], a["share_traded"]) == (6, 4, 4 / 6)
    assert a["pnl_per_mwh"] == 15 / 4
    assert a["break_even_fee"] == (10 + 6 - 5 + 8) / 4
    assert a["hit_rate"] == 3 / 4  # gross +10, +6, +8 win; -5 loses
    # daily 9, -1, 7: mean 5, deviations 4, -6, 2, sample variance (16 + 36 + 4) / 2 = 28
    assert a["sharpe"] == pytest.approx(5 / math.sqrt(28) * ROOT)
    assert a["max_drawdown"] == 1.0  # cumulative 0, 9, 8, 15: peak 9 to 8
    assert (a["trading_days"], a["days"]) == (3, 3)

    # B: -1 x -20 - 1 = 19 | +1 x -15 - 1 = -16 | no trade on day 3: it still counts as a 0 day
    assert daily(hand, "threshold", B) == [19.0, -16.0, 0.0]
    b = s.loc[B]
    assert (b["total_pnl"], b["traded_hours"], b["pnl_per_mwh"], b["break_even_fee"]) == (3.0, 2, 1.5, 2.5)
    assert b["hit_rate"] == 1 / 2
    # mean 1, deviations 18, -17, -1: variance (324 + 289 + 1) / 2 = 307
    assert b["sharpe"] == pytest.approx(1 / math.sqrt(307) * ROOT)
    assert b["max_drawdown"] == 16.0  # cumulative 0, 19, 3, 3
    assert (b["trading_days"], b["days"]) == (2, 3)

    # pooled: daily 9 + 19 = 28, -1 - 16 = -17, 7 + 0 = 7
    assert daily(hand, "threshold", trading.POOLED) == [28.0, -17.0, 7.0]
    p = s.loc[trading.POOLED]
    assert (p["total_pnl"], p["traded_hours"], p["share_traded"], p["pnl_per_mwh"]) == (18.0, 6, 0.5, 3.0)
    assert p["break_even_fee"] == (19 + 5) / 6
    assert p["hit_rate"] == 4 / 6
    # mean 6, deviations 22, -23, 1: variance (484 + 529 + 1) / 2 = 507
    assert p["sharpe"] == pytest.approx(6 / math.sqrt(507) * ROOT)
    assert p["max_drawdown"] == 17.0  # cumulative 0, 28, 11, 18
    assert (p["trading_days"], p["days"]) == (3, 3)


def test_band_pnl_by_hand(hand):
    s = hand.summary.loc["band"]
    # A: 9 | -1 x -6 - 1 = 5 | -1 x 0 - 1 = -1 (a trade that earns 0 gross is a miss), 7
    assert daily(hand, "band", A) == [9.0, 5.0, 6.0]
    assert (s.loc[A, "total_pnl"], s.loc[A, "traded_hours"], s.loc[A, "hit_rate"]) == (20.0, 4, 3 / 4)
    # B trades only day 2 HE2: +1 x -15 - 1 = -16
    assert daily(hand, "band", B) == [0.0, -16.0, 0.0]
    assert (s.loc[B, "total_pnl"], s.loc[B, "pnl_per_mwh"], s.loc[B, "break_even_fee"]) == (-16.0, -16.0, -15.0)
    assert (s.loc[B, "hit_rate"], s.loc[B, "trading_days"]) == (0.0, 1)
    # pooled 9, -11, 6: cumulative 0, 9, -2, 4
    assert daily(hand, "band", trading.POOLED) == [9.0, -11.0, 6.0]
    assert s.loc[trading.POOLED, "max_drawdown"] == 11.0
    # mean 4/3; deviations 23/3, -37/3, 14/3: variance (529 + 1369 + 196) / 9 / 2 = 349 / 3
    assert s.loc[trading.POOLED, "sharpe"] == pytest.approx((4 / 3) / math.sqrt(349 / 3) * ROOT)


def test_naive_strategies_by_hand(hand):
    s = hand.summary
    # long DART every hour: A DART 10 - 3 | -6 - 5 | 0 + 8, minus 2 MWh of fee a day
    assert daily(hand, "naive_long_dart", A) == [5.0, -13.0, 6.0]
    # B: -20 + 1 | 2 - 15 | 4 - 3, minus 2
    assert daily(hand, "naive_long_dart", B) == [-21.0, -15.0, -1.0]
    long = s.loc["naive_long_dart"]
    assert (long.loc[A, "share_traded"], long.loc[A, "hit_rate"], long.loc[B, "hit_rate"]) == (1.0, 2 / 6, 3 / 6)
    assert long.loc[trading.POOLED, "total_pnl"] == -39.0
    assert long.loc[trading.POOLED, "max_drawdown"] == 44.0  # cumulative 0, -16, -44, -39
    # hour of week: A positions -1, +1 | 0, -1 | +1, -1: gross -10, -3 | 0, +5 | 0, -8, 5 trades
    assert daily(hand, "naive_hour_of_week", A) == [-15.0, 4.0, -10.0]
    # B positions -1, +1 | +1, +1 | +1, -1: gross 20, 1 | 2, -15 | 4, 3
    assert daily(hand, "naive_hour_of_week", B) == [19.0, -15.0, 5.0]
    how = s.loc["naive_hour_of_week"]
    assert (how.loc[A, "traded_hours"], how.loc[A, "hit_rate"], how.loc[B, "hit_rate"]) == (5, 1 / 5, 5 / 6)
    assert how.loc[trading.POOLED, "total_pnl"] == -12.0


def test_fee_moves_net_not_gross_nor_hit_rate():
    free = trading.evaluate_strategies(hand_frame(), fee_per_mwh=0.0, threshold=THRESHOLD).summary
    costly = trading.evaluate_strategies(hand_frame(), fee_per_mwh=3.0, threshold=THRESHOLD).summary
    # threshold pooled: gross 24 on 6 MWh
    assert free.loc[("threshold", trading.POOLED), "total_pnl"] == 24.0
    assert costly.loc[("threshold", trading.POOLED), "total_pnl"] == 24.0 - 3 * 6
    pd.testing.assert_series_equal(free["hit_rate"], costly["hit_rate"])
    pd.testing.assert_series_equal(free["break_even_fee"], costly["break_even_fee"])


def test_monthly_and_cumulative_add_up_to_totals():
    market = synthetic.generate("2024-01-01", "2024-03-31", [A, B])
    keys = ["timestamp_utc", "delivery_date", "settlement_point"]
    frame = market["dam_prices"][[*keys, "dam_price"]].merge(market["rtm_prices"][[*keys, "rtm_price"]], on=keys)
    noise = np.random.default_rng(7).normal(0, 8, len(frame))
    frame["p50"] = frame["dam_price"] - frame["rtm_price"] + noise
    frame["p10"], frame["p90"] = frame["p50"] - 10, frame["p50"] + 10
    train = frame[frame["delivery_date"] < "2024-02-01"]
    test = frame[frame["delivery_date"] >= "2024-02-01"].copy()
    test["baseline_hour_of_week"] = trading.hour_of_week_median(train, test)
    evaluation = trading.evaluate_strategies(test)
    totals = evaluation.summary["total_pnl"]
    monthly = evaluation.monthly.groupby(["strategy", "settlement_point"])["pnl"].sum()
    pd.testing.assert_series_equal(monthly.sort_index(), totals.sort_index(), check_names=False)
    assert sorted(evaluation.monthly["month"].unique()) == ["2024-02", "2024-03"]
    last = evaluation.daily.groupby(["strategy", "settlement_point"])["cumulative_pnl"].last()
    np.testing.assert_allclose(last.sort_index(), totals.sort_index())
    for strategy in trading.STRATEGIES:
        assert totals[(strategy, trading.POOLED)] == pytest.approx(totals[(strategy, A)] + totals[(strategy, B)])
    # 60 delivery days, DST day 2024-03-10 has 23 hours
    assert evaluation.summary.loc[("threshold", A), "days"] == 60
    assert evaluation.summary.loc[("threshold", A), "hours"] == 60 * 24 - 1
    # a forecast within +-8 $/MWh of the truth trades profitably where |DART| is large: a real edge shows up
    assert totals[("threshold", trading.POOLED)] > totals[("naive_long_dart", trading.POOLED)]
    metrics = evaluation.metrics()
    assert metrics[f"trade_band_{B}_hit_rate"] == evaluation.summary.loc[("band", B), "hit_rate"]
    assert len(metrics) == len(trading.STRATEGIES) * 3 * len(trading.SUMMARY_COLUMNS)


def test_no_trades_leaves_undefined_ratios_nan():
    frame = hand_frame()
    frame["p10"], frame["p50"], frame["p90"] = -1.0, 0.5, 1.0  # inside +-threshold, band straddles zero
    s = trading.evaluate_strategies(frame, fee_per_mwh=FEE, threshold=THRESHOLD).summary
    for strategy in trading.MODEL_STRATEGIES:
        row = s.loc[(strategy, trading.POOLED)]
        assert (row["total_pnl"], row["traded_hours"], row["share_traded"], row["trading_days"]) == (0, 0, 0, 0)
        assert (row["max_drawdown"], row["days"]) == (0.0, 3)
        # no trades: nothing to divide by, and zero daily P&L has no variation
        assert np.isnan(row["pnl_per_mwh"]) and np.isnan(row["hit_rate"]) and np.isnan(row["break_even_fee"])
        assert np.isnan(row["sharpe"])


def test_a_single_day_has_no_sharpe():
    frame = hand_frame()
    one_day = frame[frame["delivery_date"] == "2024-07-01"]
    s = trading.evaluate_strategies(one_day, fee_per_mwh=FEE, threshold=THRESHOLD).summary
    assert s["sharpe"].isna().all()  # a standard deviation needs two days
    assert s.loc[("threshold", trading.POOLED), "total_pnl"] == 28.0
    assert s.loc[("naive_long_dart", trading.POOLED), "max_drawdown"] == 16.0  # one losing day from 0


def test_sharpe_and_drawdown_helpers():
    assert trading.sharpe_ratio(np.array([1.0, 3.0])) == pytest.approx(2 / math.sqrt(2) * ROOT)
    assert np.isnan(trading.sharpe_ratio(np.array([2.0, 2.0, 2.0])))
    assert trading.max_drawdown(np.array([-5.0, 10.0, -3.0, -4.0, 1.0])) == 7.0  # 0, -5, 5, 2, -2, -1
    assert trading.max_drawdown(np.array([1.0, 2.0])) == 0.0


def test_bad_input_is_named():
    frame = hand_frame()
    with pytest.raises(ValueError, match=r"backtest 2024-07: missing column\(s\) \['rtm_price'\]"):
        trading.evaluate_strategies(frame.drop(columns="rtm_price"), label="backtest 2024-07")
    gap = frame.copy()
    gap.loc[(gap["settlement_point"] == B) & (gap["p50"] == 10.0), "rtm_price"] = np.nan
    with pytest.raises(ValueError, match=r"1 hour\(s\) without \['rtm_price'\], first on 2024-07-02 at HB_WEST"):
        trading.evaluate_strategies(gap)
    with pytest.raises(ValueError, match="2 rows share a"):
        trading.evaluate_strategies(pd.concat([frame, frame.iloc[:1]]))
    with pytest.raises(ValueError, match="no hours"):
        trading.evaluate_strategies(frame.iloc[:0])
    with pytest.raises(ValueError, match="fee and threshold must be >= 0"):
        trading.evaluate_strategies(frame, threshold=-1)


def _history(rows):
    """(point, date, hour ending, DART) -> a history frame; July 2024 is CDT, HE h starts at (h + 4):00 UTC."""
    frame = pd.DataFrame(rows, columns=["settlement_point", "date", "he", "dart"])
    frame["timestamp_utc"] = pd.to_datetime(frame["date"]).dt.tz_localize("UTC") + pd.to_timedelta(frame["he"] + 4, "h")
    return frame.assign(dam_price=50.0 + frame["dart"], rtm_price=50.0)


def test_hour_of_week_median_and_fallbacks():
    history = _history(
        [
            (A, "2024-07-01", 1, 4.0),  # Monday
            (A, "2024-07-08", 1, 10.0),  # Monday
            (A, "2024-07-02", 1, -10.0),  # Tuesday
            (A, "2024-07-01", 2, 1.0),
            (B, "2024-07-01", 1, -3.0),
        ]
    )
    rows = _history(
        [
            (A, "2024-07-15", 1, 0.0),  # Monday HE1: median(4, 10) = 7
            (A, "2024-07-17", 1, 0.0),  # Wednesday HE1 unseen: A's HE1 median(4, 10, -10) = 4
            (A, "2024-07-17", 3, 0.0),  # HE3 unseen: A's overall median(-10, 1, 4, 10) = 2.5
            (B, "2024-07-16", 1, 0.0),  # Tuesday unseen: B's HE1 median -3
        ]
    )
    np.testing.assert_allclose(trading.hour_of_week_median(history, rows), [7.0, 4.0, 2.5, -3.0])
    with pytest.raises(ValueError, match=r"no training history for settlement point\(s\) \['HB_NORTH'\]"):
        trading.hour_of_week_median(history, _history([("HB_NORTH", "2024-07-15", 1, 0.0)]))


def test_quality_report_by_hand():
    frame = hand_frame()
    frame["baseline_zero"] = 0.0
    table = trading.quality_report(frame).table
    # A, 2024-07: DART 10, -3, -6, -5, 0, 8 vs P50 5, 1, -4, 3, -2, 2.5: errors 5, 4, 2, 8, 2, 5.5
    a = table.loc[("2024-07", A)]
    assert a["hours"] == 6
    assert a["mae"] == pytest.approx(26.5 / 6)
    assert a["rmse"] == pytest.approx(math.sqrt((25 + 16 + 4 + 64 + 4 + 30.25) / 6))
    # zero: |DART| sums to 32; hour of week -1, 2, 0, -3, 1, -0.5: errors 11, 5, 6, 2, 1, 8.5 = 33.5
    assert (a["best_baseline"], a["best_baseline_mae"]) == ("zero", pytest.approx(32 / 6))
    assert a["mae_skill"] == pytest.approx(1 - 26.5 / 32)
    assert a["sign_accuracy"] == pytest.approx(3 / 5)  # DART 0 ignored; -5 vs 3 and -3 vs 1 miss
    # inside [P10, P90]: -3 in [-3, 4], -6 in [-8, -1], 0 in [-5, -0.5]? no; 10, -5, 8 outside
    assert a["p10_p90_coverage"] == pytest.approx(2 / 6)
    # B: DART -20, 1, 2, -15, 4, -3 vs P50 -6, 0, 2, 10, 1, -1: errors 14, 1, 0, 25, 3, 2 = 45
    b = table.loc[("2024-07", B)]
    # zero 45 as well, hour of week -2, 1, 4, 1, 1, -1: errors 18, 0, 2, 16, 3, 2 = 41 wins
    assert (b["best_baseline"], b["best_baseline_mae"]) == ("hour_of_week", pytest.approx(41 / 6))
    assert b["mae_skill"] == pytest.approx(1 - 45 / 41)
    # pooled rows are computed on the pooled hours, not averaged from the cells
    overall = table.loc[(trading.ALL, trading.ALL)]
    assert overall["hours"] == 12 and overall["mae"] == pytest.approx((26.5 + 45) / 12)
    assert (overall["best_baseline"], overall["best_baseline_mae"]) == ("hour_of_week", pytest.approx(74.5 / 12))
    assert table.loc[(trading.ALL, A), "mae"] == a["mae"] and table.loc[("2024-07", trading.ALL), "hours"] == 12
    assert list(table.index) == [
        ("2024-07", A),
        ("2024-07", B),
        ("2024-07", "all"),
        ("all", A),
        ("all", B),
        ("all", "all"),
    ]
    markdown = trading.QualityReport(table).markdown()
    assert re.search(r"\| 2024-07 +\| HB_HOUSTON +\| +6 \| +4\.417 \|", markdown)  # MAE 26.5 / 6
    with pytest.raises(ValueError, match="no baseline_<name> columns"):
        trading.quality_report(frame.drop(columns=["baseline_zero", "baseline_hour_of_week"]))


def test_markdown_lists_every_strategy(hand):
    text = hand.markdown()
    assert "Fee $1.00/MWh, threshold $2.00/MWh" in text
    for strategy in trading.STRATEGIES:
        assert strategy in text
    assert re.search(r"\| threshold +\| pooled +\| +12 \| +6 \| +0\.50 \| +18\.00 \|", text)
    # pooled monthly P&L: 18, 4, -39, -12 in STRATEGIES order
    assert re.search(r"\| 2024-07 +\| +18 \| +4 \| +-39 \| +-12 \|", text)


def test_chart_is_a_png_with_a_panel_per_point(hand):
    pooled = trading.pnl_chart(hand, "hand example")
    per_point = trading.pnl_chart(hand, "hand example", per_point=True)
    assert pooled.startswith(b"\x89PNG") and per_point.startswith(b"\x89PNG")
    height = plt.imread(io.BytesIO(pooled)).shape[0]
    assert plt.imread(io.BytesIO(per_point)).shape[0] == pytest.approx(3 * height, rel=0.05)
