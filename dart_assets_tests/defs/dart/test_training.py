"""The training assets, materialized from the CLI under the multiprocess executor, really run side by side."""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import mlflow
import pytest

from dart_assets.defs import build_defs
from dart_assets.defs.dart.training import config_class
from dart_assets.ml.families import FAMILIES
from dart_assets.settings import Settings

REQUIRED_METRICS = {
    "val_rmse",
    "test_rmse",
    "test_mae",
    "test_r2",
    "test_sign_accuracy",
    "test_p10_p90_coverage",
    "baseline_zero_test_mae",
    "baseline_same_hour_test_mae",
    "baseline_hour_dow_test_mae",
    "test_mae_skill",
}
TINY = {
    "ops": {
        "lgbm_model": {"config": {"num_boost_round": 40}},
        "xgb_model": {"config": {"num_boost_round": 40}},
        "lstm_model": {"config": {"max_epochs": 2, "hidden_size": 8}},
    }
}


def _materialize(env: dict, *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "dart_assets.definitions", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.slow
def test_three_models_train_in_parallel_and_log_one_mlflow_run_each(tmp_path):
    home, storage = tmp_path / "home", tmp_path / "storage"
    home.mkdir()
    (home / "dagster.yaml").write_text("")
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DART_")},
        "DAGSTER_HOME": str(home),
        "DART_STORAGE": str(storage),
        "MLFLOW_TRACKING_URI": tracking,
        "DART_SETTLEMENT_POINTS": "HB_NORTH,HB_WEST",
    }
    _materialize(
        env,
        "--select",
        "dam_prices,rtm_prices,system_conditions,driver_forecasts",
        "--partition-range",
        "2025-01-01...2025-02-14",
    )
    _materialize(env, "--select", "hourly_features")
    _materialize(env, "--select", "lgbm_model,xgb_model,lstm_model", "--config-json", json.dumps(TINY))

    instance = dg.DagsterInstance.from_config(str(home))
    run = instance.get_runs(limit=1)[0]
    assert run.status == dg.DagsterRunStatus.SUCCESS
    events = instance.all_logs(run.run_id)
    starts = {
        e.step_key: e.timestamp for e in events if e.dagster_event and e.dagster_event.event_type_value == "STEP_START"
    }
    ends = {
        e.step_key: e.timestamp
        for e in events
        if e.dagster_event and e.dagster_event.event_type_value == "STEP_SUCCESS"
    }
    trainers = ["lgbm_model", "xgb_model", "lstm_model"]
    assert set(trainers) <= set(starts) and set(trainers) <= set(ends)
    # Overlap: every trainer had started before the first one finished.
    assert max(starts[t] for t in trainers) < min(ends[t] for t in trainers), (starts, ends)

    # Each trainer streamed its progress (iterations, epochs, scores) into the run's logs.
    messages = " ".join(e.user_message for e in events if e.step_key in trainers)
    assert "test MAE" in messages and "epoch" in messages.lower()

    client = mlflow.MlflowClient(tracking)
    runs = client.search_runs([client.get_experiment_by_name("dart-spread-forecaster").experiment_id])
    assert sorted(r.data.params["family"] for r in runs) == ["lgbm", "lstm", "xgb"]
    for r in runs:
        assert set(r.data.metrics) >= REQUIRED_METRICS, REQUIRED_METRICS - set(r.data.metrics)
        assert r.data.tags["dagster_run_id"] == run.run_id
    for trainer in trainers:
        metadata = instance.get_latest_materialization_event(dg.AssetKey(trainer)).asset_materialization.metadata
        assert {"metrics", "plot", "mlflow_run_id", "test_mae_skill", "n_test", "train_seconds"} <= set(metadata)
        assert Path(metadata["model_files"].value, "bundle", "metadata.json").exists()


def test_every_family_gets_an_asset_with_its_own_launchpad_config():
    defs = build_defs(Settings())
    for name, family in FAMILIES.items():
        op = defs.get_assets_def(f"{name}_model").op
        fields = op.config_schema.config_type.fields
        assert set(fields) == {"seed", *family.tunable}, name
        assert all(not fields[p].is_required for p in family.tunable)
        assert op.tags["dart/compute"] == family.compute
    lstm = config_class(FAMILIES["lstm"])
    assert lstm.model_fields["lookback"].description == "Hours of feature history per sample. Unset: 24."
    assert lstm(lookback=48, seed=7).overrides() == {"lookback": 48}
    assert lstm().overrides() == {}


def test_a_run_training_every_family_starts_the_longest_first():
    """Dagster orders the steps waiting for an executor slot by the model assets' priority tags: XGBoost (the
    longest at every size bench/scale.py measured) first, the naive baselines (seconds) last."""
    defs = build_defs(Settings())
    tags = {name: defs.get_assets_def(f"{name}_model").op.tags for name in FAMILIES}

    # The same tags on steps that only record when they start, run by the in-process executor (one slot).
    started: list[str] = []

    def step(name: str) -> dg.AssetsDefinition:
        @dg.asset(name=f"{name}_model", op_tags=tags[name])
        def record() -> None:
            started.append(name)

        return record

    assert dg.materialize([step(name) for name in FAMILIES]).success
    assert started == ["xgb", "ensemble", "lgbm", "lstm", "naive"]
