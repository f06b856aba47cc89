"""`dart-assets champion` and `dart-assets rollback` against a real SQLite registry, run as a user runs them."""

import json
import os
import subprocess
import sys

import mlflow
import pytest

from dart_assets.common import registry
from dart_assets.ml import MODEL_NAME

MODEL = MODEL_NAME


def _cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dart_assets.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def registry_env(tmp_path) -> tuple[dict, mlflow.MlflowClient]:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment("cli", artifact_location=(tmp_path / "artifacts").as_uri())
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DART_")},
        "MLFLOW_TRACKING_URI": uri,
        "DART_STORAGE": str(tmp_path / "storage"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }
    return env, client, experiment


def _register(client, experiment, source_asset: str):
    run = client.create_run(experiment)
    return registry.promote(
        client, MODEL, f"runs:/{run.info.run_id}/model", run.info.run_id, {"source_asset": source_asset}
    )


def test_rollback_points_champion_at_previous_and_back(registry_env):
    env, client, experiment = registry_env
    _register(client, experiment, "lgbm_model")
    _register(client, experiment, "lstm_model")

    shown = _cli(env, "champion")
    assert shown.returncode == 0, shown.stderr
    assert "champion: v2 (lstm_model" in shown.stdout and "previous: v1 (lgbm_model" in shown.stdout

    rolled = _cli(env, "rollback")
    assert rolled.returncode == 0, rolled.stderr
    assert f"{MODEL}: champion is now v1, previous is v2" in rolled.stdout
    assert str(registry.champion(client, MODEL).version) == "1"

    assert _cli(env, "rollback").returncode == 0  # a second rollback undoes the first
    assert str(registry.champion(client, MODEL).version) == "2"


def test_rollback_without_a_previous_version_fails_clearly(registry_env):
    env, client, experiment = registry_env
    _register(client, experiment, "xgb_model")
    result = _cli(env, "rollback")
    assert result.returncode == 1
    assert "rollback needs both a 'champion' and a 'previous' version" in result.stderr
    assert str(registry.champion(client, MODEL).version) == "1"


def test_quickstart_refuses_too_short_a_history(registry_env):
    env, _, _ = registry_env
    result = _cli(env, "quickstart", "--days", "10")
    assert result.returncode == 2 and "--days must be at least 30" in result.stderr


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """A real (small) LightGBM bundle: what a registered run holds under bundle/."""
    from dart_assets.ml.training import train_model
    from dart_assets_tests.ml.conftest import FEATURES, QUICK_PARAMS, make_hourly_features

    out = tmp_path_factory.mktemp("cli_bundle")
    return train_model("lgbm", make_hourly_features(days=30), FEATURES, out, params=QUICK_PARAMS["lgbm"]).bundle_dir


def test_rollback_is_recorded_in_dagster_and_caches_the_new_champion(registry_env, bundle, tmp_path):
    """Dagster's UI shows an asset's latest observation next to its latest materialization: after a rollback,
    promoted_model's says which version is champion now. The champion cache follows, for forecasts made while
    MLflow is down."""
    import dagster as dg

    env, client, experiment = registry_env
    runs = []
    for source_asset in ("lgbm_model", "xgb_model"):
        run = client.create_run(experiment).info.run_id
        client.log_artifacts(run, str(bundle), "bundle")
        registry.promote(client, MODEL, f"runs:/{run}/model", run, {"source_asset": source_asset})
        runs.append(run)

    rolled = _cli(env, "rollback")

    assert rolled.returncode == 0, rolled.stderr
    home = tmp_path / "dagster_home"
    assert f"recorded in Dagster ({home}): promoted_model observed with champion v1" in rolled.stdout
    instance = dg.DagsterInstance.from_config(str(home))
    [record] = instance.fetch_observations(dg.AssetKey("promoted_model"), limit=5).records
    observation = record.asset_observation
    meta = {k: v.value for k, v in observation.metadata.items()}
    assert meta["registry"] == f"{MODEL} v1 @champion (rolled back from v2)"
    assert (meta["champion_version"], meta["previous_version"]) == (1, 2)
    assert (meta["mlflow_run_id"], meta["source_asset"], meta["event"]) == (runs[0], "lgbm_model", "rollback")
    cached = json.loads((tmp_path / "storage" / "model_cache" / MODEL / "champions.json").read_text())
    assert (cached[0]["version"], cached[0]["run_id"]) == ("1", runs[0])

    assert _cli(env, "rollback").returncode == 0  # and back: a second observation, the cache follows
    latest = instance.fetch_observations(dg.AssetKey("promoted_model"), limit=1).records[0].asset_observation
    assert latest.metadata["registry"].value == f"{MODEL} v2 @champion (rolled back from v1)"
    cached = json.loads((tmp_path / "storage" / "model_cache" / MODEL / "champions.json").read_text())
    assert [(e["version"], e["run_id"]) for e in cached] == [("2", runs[1]), ("1", runs[0])]
