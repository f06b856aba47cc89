"""dart_backtest in Azure ML mode, one month: each family's share runs as a command job on its compute tag's
cluster through the training launcher and the real entry point; only MLClient and the storage account are fakes."""

from __future__ import annotations

import io
import shlex

import dagster as dg
import pandas as pd
import pytest

from dart_assets import backtest
from dart_assets.defs import build_defs
from dart_assets.defs.dart.backtest import BacktestRunConfig
from dart_assets.defs.dart.promotion import PromotionGate
from dart_assets.defs.resources.azureml import AzureMLConfig
from dart_assets.defs.resources.io_manager import ParquetIOManager
from dart_assets.defs.resources.training_launcher import TrainingLauncher
from dart_assets.settings import AzureMLSettings, Settings
from dart_assets_tests.fakes.azure_fixtures import BLOB_URL, CONTAINER, POINTS, STORAGE, fake_account, ml_client  # noqa: F401
from dart_assets_tests.test_backtest import TINY, hourly_features

MONTH = "2025-02"
DEFS = build_defs(Settings(settlement_points=POINTS, execution="local", backtest_min_training_months=1))


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    """28 settled days before February, and its first ten days."""
    from dart_assets.market.synthetic import generate

    return hourly_features(generate("2025-01-01", "2025-02-10", list(POINTS)))


def _resources() -> dict:
    workspace = AzureMLSettings(
        subscription_id="0000-sub",
        resource_group="rg-dart-assets",
        workspace="mlw-dart",
        pipes_account_url=BLOB_URL,
        pipes_container=CONTAINER,
    )
    config = AzureMLConfig.from_settings(workspace, poll_interval_seconds=0.5, n_threads=1)
    return {
        "launcher": TrainingLauncher(mode="azureml", storage=STORAGE, azureml=config),
        "io_manager": ParquetIOManager(base_path=STORAGE),
        "gate": PromotionGate(),
    }


def _backtest_month(account, features: pd.DataFrame, params: dict) -> dg.ExecuteInProcessResult:
    """hourly_features in the lake, then dart_backtest for MONTH in Azure ML mode."""
    buffer = io.BytesIO()
    features.to_parquet(buffer, index=False)
    (account / "hourly_features.parquet").write_bytes(buffer.getvalue())
    return dg.materialize(
        [dg.AssetSpec("hourly_features"), DEFS.get_assets_def("dart_backtest")],
        selection=["dart_backtest"],
        partition_key=MONTH,
        resources=_resources(),
        run_config={"ops": {"dart_backtest": {"config": {"params": params}}}},
        raise_on_error=False,
    )


def test_one_month_trains_each_family_as_a_job_on_its_compute(fake_account, ml_client, features):  # noqa: F811
    result = _backtest_month(fake_account, features, TINY)
    logs = "\n".join(ml_client.output(job.name) for job in ml_client.submitted)
    assert result.success, logs[-5000:]

    jobs = {job.tags["model_family"]: job for job in ml_client.submitted}
    assert sorted(jobs) == sorted(TINY) and ml_client.submit_attempts == len(TINY)
    assert {family: job.compute for family, job in jobs.items()} == {
        "lgbm": "cpu-cluster",
        "xgb": "cpu-cluster",
        "lstm": "gpu-cluster",
        "ensemble": "cpu-cluster",
        "naive": "cpu-cluster",
    }
    for family, job in jobs.items():
        argv = shlex.split(job.command)
        assert argv[argv.index("--backtest-month") + 1] == MONTH and argv[argv.index("--family") + 1] == family
        assert argv[argv.index("--output") + 1].startswith(f"{STORAGE}backtest/{MONTH}/{family}/")
        assert job.tags["backtest_month"] == MONTH and job.experiment_name == backtest.BACKTEST_EXPERIMENT

    stored = pd.read_parquet(fake_account / "dart_backtest" / f"{MONTH}.parquet")
    # The same month as the core computes it in one process: the jobs trained what local mode trains.
    core = BacktestRunConfig(params=TINY).to_core(PromotionGate(), min_training_months=1)
    expected = backtest.run_month(features, MONTH, core).frame
    pd.testing.assert_frame_equal(stored, expected, check_dtype=False)
    [materialization] = result.asset_materializations_for_node("dart_backtest")
    assert materialization.partition == MONTH
    assert materialization.metadata["served_model"].value == expected.model.iloc[0]


def test_a_failed_job_fails_the_month_and_cancels_the_others(fake_account, ml_client, features):  # noqa: F811
    # xgb refuses an unknown parameter at once; the LSTM would run for a long time.
    params = {"xgb": {"no_such_param": 1}, "lstm": {"max_epochs": 500, "patience": 500}}
    result = _backtest_month(fake_account, features, params)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "ended Failed" in str(failure.step_failure_data.user_failure_data.description)
    assert all(run.process.poll() is not None for run in ml_client.runs.values())
    assert any(run.canceled for run in ml_client.runs.values())
