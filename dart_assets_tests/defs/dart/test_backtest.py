"""dart_backtest and backtest_report as a user runs them: two months backfilled from the CLI in one run, then the
report over them, on the built-in data (two hubs, tiny trainer settings)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import mlflow
import numpy as np
import pandas as pd
import pytest

from dart_assets import backtest, trading
from dart_assets.defs import build_defs
from dart_assets.defs.dart.backtest import BacktestRunConfig, build_months, first_month
from dart_assets.defs.dart.promotion import PromotionGate
from dart_assets.market.timeutil import hours_in_day
from dart_assets.settings import Settings
from dart_assets_tests.defs.dart.conftest import materialize, metadata_of

DAGSTER = str(Path(sys.executable).with_name("dagster"))
POINTS = "HB_HOUSTON,HB_NORTH"
MONTHS = ["2025-02", "2025-03"]
MARKET_END = "2025-03-10"  # March: ten days, the ninth springing forward
TINY = {
    "lgbm": {"num_boost_round": 20, "learning_rate": 0.15},
    "xgb": {"num_boost_round": 20, "learning_rate": 0.15},
    "lstm": {"max_epochs": 1, "hidden_size": 4},
}


def test_months_start_after_the_minimum_training_window():
    assert first_month("2025-01-01", 3) == "2025-04"
    assert first_month("2025-01-15", 3) == "2025-05"  # a whole month of history at least
    months = build_months("2024-01-01", 3)
    assert months.get_partition_keys()[:2] == ["2024-04", "2024-05"]
    window = months.time_window_for_partition_key("2024-11")  # the fall-back month, in Central time
    assert (str(window.start), str(window.end)) == ("2024-11-01 00:00:00-05:00", "2024-12-01 00:00:00-06:00")
    defs = build_defs(Settings(backtest_min_training_months=2))
    assert defs.get_assets_def("dart_backtest").partitions_def.get_first_partition_key() == "2025-03"


@dataclass
class Backfill:
    env: dict[str, str]
    home: Path
    storage: Path
    tracking_uri: str
    output: str

    def settings(self) -> Settings:
        return Settings(
            settlement_points=tuple(POINTS.split(",")),
            storage=str(self.storage),
            mlflow_tracking_uri=self.tracking_uri,
            backtest_min_training_months=1,
        )


def _cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [DAGSTER, "asset", "materialize", "-m", "dart_assets.definitions", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    return output


@pytest.fixture(scope="module")
def backfill(tmp_path_factory) -> Backfill:
    root = tmp_path_factory.mktemp("backtest_cli")
    home, storage = root / "home", root / "storage"
    home.mkdir()
    (home / "dagster.yaml").write_text("")
    tracking = f"sqlite:///{root / 'mlflow.db'}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DART_", "MLFLOW_"))},
        "DAGSTER_HOME": str(home),
        "DART_STORAGE": str(storage),
        "MLFLOW_TRACKING_URI": tracking,
        "DART_SETTLEMENT_POINTS": POINTS,
        "DART_BACKTEST_MIN_TRAINING_MONTHS": "1",
    }
    market = "dam_prices,rtm_prices,system_conditions,driver_forecasts"
    _cli(env, "--select", market, "--partition-range", f"2025-01-01...{MARKET_END}")
    _cli(env, "--select", "hourly_features")
    config = {"ops": {"dart_backtest": {"config": {"params": TINY}}}}
    output = _cli(
        env,
        "--select",
        "dart_backtest",
        "--partition-range",
        f"{MONTHS[0]}...{MONTHS[1]}",
        "--config-json",
        json.dumps(config),
    )
    return Backfill(env, home, storage, tracking, output)


def stored(backfill: Backfill, month: str) -> pd.DataFrame:
    return pd.read_parquet(backfill.storage / "dart_backtest" / f"{month}.parquet")


@pytest.mark.slow
def test_a_range_of_months_backfills_from_the_cli_in_one_run(backfill):
    instance = dg.DagsterInstance.from_config(str(backfill.home))
    [run] = [r for r in instance.get_runs() if "dart_backtest" in str(r.asset_selection)]
    assert run.status == dg.DagsterRunStatus.SUCCESS
    # Both months trained inside the one run, each in its own worker process, reporting its progress.
    assert "[2025-02] lgbm:" in backfill.output and "[2025-03] lstm epoch 1" in backfill.output
    assert sorted(p.name for p in (backfill.storage / "dart_backtest").iterdir()) == [f"{m}.parquet" for m in MONTHS]

    for month in MONTHS:
        frame = stored(backfill, month)
        days = pd.date_range(month + "-01", min(pd.Timestamp(MARKET_END), pd.Period(month).end_time.normalize()))
        assert len(frame) == 2 * sum(hours_in_day(d) for d in days)
        assert (frame.delivery_date.dt.strftime("%Y-%m") == month).all()
        [materialization] = [
            e.asset_materialization
            for e in instance.fetch_materializations(dg.AssetKey("dart_backtest"), limit=10).records
            if e.asset_materialization.partition == month
        ]
        meta = {k: v.value for k, v in materialization.metadata.items()}
        assert meta["served_model"] == frame.model.iloc[0] and meta["why"] == frame.selection.iloc[0]
        assert meta["hours"] == len(frame) and meta["training_window"].endswith("days, expanding)")
        assert meta["mae"] == pytest.approx(np.mean(np.abs(frame.dart - frame.p50)))
        assert "| candidate lstm" in meta["metrics"] and "| baseline hour_of_week" in meta["metrics"]


@pytest.mark.slow
def test_the_stored_month_is_the_core_protocol_run_in_process(backfill):
    features = pd.read_parquet(backfill.storage / "hourly_features.parquet")
    core = BacktestRunConfig(params=TINY).to_core(PromotionGate(), min_training_months=1)
    expected = backtest.run_month(features, MONTHS[0], core).frame
    pd.testing.assert_frame_equal(stored(backfill, MONTHS[0]), expected, check_dtype=False)


@pytest.mark.slow
def test_backtest_report_is_the_trading_evaluation_of_the_stored_months(backfill):
    instance = dg.DagsterInstance.from_config(str(backfill.home))
    defs = build_defs(backfill.settings())
    result = materialize(
        defs,
        dg.AssetSelection.assets("backtest_report"),
        instance,
        run_config={"ops": {"backtest_report": {"config": {"fee_per_mwh": 1.0, "threshold": 3.0}}}},
    )
    frame = pd.concat([stored(backfill, m) for m in MONTHS], ignore_index=True)
    evaluation = trading.evaluate_strategies(frame, 1.0, 3.0)
    quality = trading.quality_report(frame).table

    meta = metadata_of(result, "backtest_report")
    assert meta["months"] == MONTHS and meta["hours"] == len(frame)
    assert meta["mae_skill"] == pytest.approx(quality.loc[("all", "all"), "mae_skill"])
    assert meta["threshold_total_pnl"] == pytest.approx(evaluation.summary.loc[("threshold", "pooled"), "total_pnl"])
    assert meta["trading"] == evaluation.markdown()
    assert meta["quality"].endswith(trading.quality_report(frame).markdown())
    assert meta["pnl_chart"].startswith("![cumulative P&L](data:image/png;base64,")

    run = mlflow.MlflowClient(backfill.tracking_uri).get_run(meta["mlflow_run_id"])
    assert run.data.params["fee_per_mwh"] == "1.0" and run.data.params["months"] == "2025-02,2025-03"
    for name, value in evaluation.metrics().items():
        logged = run.data.metrics[name]
        assert (math.isnan(value) and math.isnan(logged)) or logged == pytest.approx(value), name
    for month in MONTHS:
        assert run.data.metrics[f"quality_{month}_all_mae_skill"] == pytest.approx(
            quality.loc[(month, "all"), "mae_skill"]
        )

    record = json.loads((backfill.storage / "backtest_report.json").read_text())
    assert record["mlflow_run_id"] == run.info.run_id and len(record["trading"]) == len(evaluation.summary)
