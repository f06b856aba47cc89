"""A training step SIGKILLed while it publishes its model (multiprocess executor, a real SQLite Dagster instance
and MLflow store): no model folder, no registry change; re-execution from failure finishes the run and reruns only
what had not finished."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from unittest import mock

import dagster as dg
import pytest

from dart_assets.defs import build_defs
from dart_assets.ml import MODEL_NAME
from dart_assets.settings import Settings

POINTS = ("HB_HOUSTON", "HB_NORTH")
FIRST, LAST = "2025-01-01", "2025-02-09"  # 40 days of synthetic market data
# Step processes fork from a server that has imported these once (as production's executor does): ~0.5 s a step.
PRELOAD = ["dart_assets.defs", "dart_assets.entrypoints.train", "dart_assets.ml.training", "mlflow", __name__]
TRAINED = ("lgbm_model", "xgb_model")
TRAIN_CONFIG = {
    "lgbm_model": {"num_boost_round": 20, "learning_rate": 0.15},
    "xgb_model": {"num_boost_round": 20, "learning_rate": 0.15},
}
JOB = "train_and_promote"


def _settings(storage: str, tracking_uri: str) -> Settings:
    # A gate any candidate passes: this test is about faults, not about a 40-day model's skill.
    return Settings(
        settlement_points=POINTS,
        storage=storage,
        mlflow_tracking_uri=tracking_uri,
        gate_max_test_rmse=1e4,
        gate_min_skill=-1.0,
    )


def _pause_xgb_publishing(signal_dir: Path) -> None:
    """In a step process: while `signal_dir/armed` exists, the xgb trainer stops after copying the first file of its
    output (half a bundle staged) and says so with its pid in `signal_dir/paused`, to be killed there."""
    from dart_assets.common import files

    real = files._copy_file
    copied = {"n": 0}

    def pausing(src: Path, dst: Path) -> None:
        if (signal_dir / "armed").exists() and "/models/xgb/" in str(dst):
            copied["n"] += 1
            if copied["n"] == 2:
                (signal_dir / "paused").write_text(str(os.getpid()))
                time.sleep(300)
        real(src, dst)

    files._copy_file = pausing


def killable_training_job(storage: str, tracking_uri: str, signal_dir: str, orchestrator_pid: int) -> dg.JobDefinition:
    """The production lgbm_model, xgb_model and promoted_model on the multiprocess executor, without the training
    RetryPolicy (it would retry the killed step in the same run 30 s later, which is not what is tested here)."""
    from dart_assets.defs.dart import training
    from dart_assets.ml.families import FAMILIES

    if os.getpid() != orchestrator_pid:
        _pause_xgb_publishing(Path(signal_dir))
    defs = build_defs(_settings(storage, tracking_uri))
    with mock.patch.object(training, "TRAINING_RETRY_POLICY", None):
        trainers = {f"{name}_model": training.build_model_asset(FAMILIES[name], "local") for name in ("lgbm", "xgb")}
    assets = [a for a in defs.assets or () if not set(a.keys) & {dg.AssetKey(k) for k in trainers}]
    job = dg.define_asset_job(
        JOB,
        selection=[*TRAINED, "promoted_model"],
        executor_def=dg.multiprocess_executor.configured(
            {"max_concurrent": 2, "start_method": {"forkserver": {"preload_modules": PRELOAD}}}
        ),
    )
    return dg.Definitions(
        assets=[*assets, *trainers.values()],
        asset_checks=defs.asset_checks,
        resources=defs.resources,
        jobs=[job],
    ).resolve_job_def(JOB)


def _kill_when_paused(signal_dir: Path, killed: list[int]) -> None:
    deadline = time.monotonic() + 240
    paused = signal_dir / "paused"
    while time.monotonic() < deadline and not paused.exists():
        time.sleep(0.05)
    if paused.exists():
        pid = int(paused.read_text())
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)


def _steps_started(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    return {
        e.dagster_event.step_key
        for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)
        if e.dagster_event is not None
    }


def _registry_state(client) -> tuple:
    from dart_assets.common import registry

    versions = sorted(int(v.version) for v in client.search_model_versions(f"name='{MODEL_NAME}'"))
    champion = registry.champion(client, MODEL_NAME)
    return versions, champion.version if champion else None


@pytest.mark.slow
def test_killed_training_step_leaves_no_model_and_reexecution_finishes_the_run(tmp_path, fresh_tracking_uri):
    from mlflow import MlflowClient

    from dart_assets.common import registry
    from dart_assets.features import build_features
    from dart_assets.market.synthetic import generate
    from dart_assets.ml.artifacts import load_bundle

    storage, signal_dir = tmp_path / "storage", tmp_path / "signals"
    signal_dir.mkdir()
    tracking_uri = fresh_tracking_uri()
    (tmp_path / "dagster_home").mkdir()
    instance = dg.DagsterInstance.local_temp(str(tmp_path / "dagster_home"))
    storage.mkdir()
    market = generate(FIRST, LAST, POINTS)
    features = build_features(market["dam_prices"], market["rtm_prices"], market["system_conditions"], POINTS)
    features.to_parquet(storage / "hourly_features.parquet", index=False)  # what hourly_features writes
    # An earlier champion, so "no registry change" is checked against a registry that has one.
    client = MlflowClient(tracking_uri)
    experiment = client.create_experiment("earlier")
    earlier = client.create_run(experiment).info.run_id
    registry.promote(client, MODEL_NAME, f"runs:/{earlier}/model", earlier, {"source_asset": "earlier"})
    before = _registry_state(client)

    job = dg.build_reconstructable_job(
        __name__,
        "killable_training_job",
        reconstructable_args=(str(storage), tracking_uri, str(signal_dir), os.getpid()),
    )
    run_config = {"ops": {key: {"config": config} for key, config in TRAIN_CONFIG.items()}}
    (signal_dir / "armed").touch()
    killed: list[int] = []
    watcher = threading.Thread(target=_kill_when_paused, args=(signal_dir, killed), daemon=True)
    watcher.start()
    with dg.execute_job(job, instance=instance, run_config=run_config) as first:
        watcher.join(timeout=5)
        assert killed, "the xgb step never reached its publishing"
        assert not first.success
        failure = [e for e in first.all_events if e.is_step_failure]
        assert [e.step_key for e in failure] == ["xgb_model"]
        crash = [e.message for e in first.all_events if e.is_engine_event and "child process for step" in e.message]
        assert len(crash) == 1
        assert crash[0].startswith("Multiprocess executor: child process for step xgb_model was terminated by signal 9")
        first_run = first.run_id
    assert _steps_started(instance, first_run) == {"lgbm_model", "xgb_model"}  # promotion never started

    # No half model: the killed step left no output folder (only a hidden temp folder), the finished one did.
    xgb_outputs = storage / "models" / "xgb"
    assert not (xgb_outputs / first_run).exists()
    leftovers = [p.name for p in xgb_outputs.iterdir()]
    assert leftovers and all(name.startswith(f".{first_run}.") and name.endswith(".tmp") for name in leftovers)
    assert (storage / "models" / "lgbm" / first_run / "summary.json").is_file()
    assert instance.get_latest_materialization_event(dg.AssetKey("xgb_model")) is None
    assert _registry_state(client) == before

    (signal_dir / "armed").unlink()
    options = dg.ReexecutionOptions.from_failure(first_run, instance)
    with dg.execute_job(job, instance=instance, run_config=run_config, reexecution_options=options) as again:
        assert again.success
        second_run = again.run_id
    # Only what had not finished ran again: not lgbm_model, and not the data before it.
    assert _steps_started(instance, second_run) == {"xgb_model", "promoted_model", "promoted_model_rmse_gate"}
    assert len(client.search_runs([client.get_experiment_by_name(MODEL_NAME).experiment_id])) == 3  # lgbm, xgb x2
    lgbm = instance.get_latest_materialization_event(dg.AssetKey("lgbm_model"))
    xgb = instance.get_latest_materialization_event(dg.AssetKey("xgb_model"))
    assert (lgbm.run_id, xgb.run_id) == (first_run, second_run)

    # The registry moved once, to a candidate of this run whose bundle loads (checksums verified).
    versions, champion = _registry_state(client)
    assert versions == [*before[0], before[0][-1] + 1] and int(champion) == versions[-1]
    promoted = client.get_model_version(MODEL_NAME, champion)
    candidates = {str(m.asset_materialization.metadata["mlflow_run_id"].value) for m in (lgbm, xgb)}
    assert promoted.run_id in candidates
    assert load_bundle(storage / "models" / "xgb" / second_run / "bundle").family == "xgb"
