"""`dart-assets champion` and `dart-assets rollback` against a real SQLite registry, run as a user runs them."""

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
