"""Two trainings started at the same moment, in two processes, against an MLflow SQLite store that does not exist
yet: the first creates and migrates it under the file lock while the other waits; both runs are logged whole, and
both promotions leave the registry's aliases consistent."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import dagster as dg
from mlflow import MlflowClient

from dart_assets.common import registry
from dart_assets.ml import MODEL_NAME
from dart_assets.ml.artifacts import load_bundle

POINTS = ("HB_HOUSTON", "HB_NORTH")


def _train_and_promote(storage: str, tracking_uri: str, start, results) -> None:
    """One process: production's lgbm_model and promoted_model, in a run of its own."""
    from dart_assets.defs import build_defs
    from dart_assets.settings import Settings

    settings = Settings(
        settlement_points=POINTS,
        storage=storage,
        mlflow_tracking_uri=tracking_uri,
        gate_max_test_rmse=1e4,  # about concurrency, not a 40-day model's skill
        gate_min_skill=-1.0,
    )
    defs = build_defs(settings)
    start.wait(timeout=120)
    result = dg.materialize(
        [*(defs.assets or ()), *(defs.asset_checks or ())],
        selection=dg.AssetSelection.assets("lgbm_model", "promoted_model"),
        resources=defs.resources,
        instance=dg.DagsterInstance.ephemeral(),
        run_config={"ops": {"lgbm_model": {"config": {"num_boost_round": 20}}}},
    )
    [event] = result.asset_materializations_for_node("lgbm_model")
    results.put((result.success, str(event.metadata["mlflow_run_id"].value)))


def test_two_trainings_at_once_on_a_fresh_sqlite_store(tmp_path):
    from dart_assets.features import build_features
    from dart_assets.market.synthetic import generate

    db = tmp_path / "mlflow" / "mlflow.db"
    tracking_uri = f"sqlite:///{db}"
    market = generate("2025-01-01", "2025-02-09", POINTS)
    features = build_features(market["dam_prices"], market["rtm_prices"], market["system_conditions"], POINTS)
    storages = [tmp_path / f"storage{i}" for i in range(2)]
    for storage in storages:
        storage.mkdir()
        features.to_parquet(storage / "hourly_features.parquet", index=False)
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(2), context.Queue()
    workers = [
        context.Process(target=_train_and_promote, args=(str(s), tracking_uri, start, results)) for s in storages
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=600)
    assert [w.exitcode for w in workers] == [0, 0]
    outcomes = [results.get(timeout=5) for _ in workers]
    assert [ok for ok, _ in outcomes] == [True, True]

    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    client = MlflowClient(tracking_uri)
    [experiment] = [e for e in client.search_experiments() if e.name == MODEL_NAME]
    runs = {run.info.run_id: run for run in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {run_id for _, run_id in outcomes}
    for run_id, run in runs.items():
        assert run.info.status == "FINISHED"
        local = Path(client.download_artifacts(run_id, "bundle", str(tmp_path / run_id)))
        assert load_bundle(local).family == "lgbm"  # every file there, every checksum right
    # Two promotions, one after the other: the later one is champion, the earlier one previous.
    versions = {int(v.version): v for v in client.search_model_versions(f"name='{MODEL_NAME}'")}
    assert sorted(versions) == [1, 2]
    assert str(registry.champion(client, MODEL_NAME).version) == "2"
    assert str(registry.by_alias(client, MODEL_NAME, registry.PREVIOUS).version) == "1"
    assert {versions[1].run_id, versions[2].run_id} == set(runs)
