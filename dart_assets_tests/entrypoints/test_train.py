"""The training entry point run as a plain command (as `az ml job create` runs it, without Dagster): it trains,
logs one MLflow run, writes the bundle to --output and prints its TrainingSummary as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import mlflow

from dart_assets_tests.fakes.azure_fixtures import features_parquet  # noqa: F401


def test_without_pipes_it_prints_the_summary(tmp_path, features_parquet):  # noqa: F811
    features = tmp_path / "hourly_features.parquet"
    features.write_bytes(features_parquet)
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_PIPES", "MLFLOW_"))},
        "MLFLOW_TRACKING_URI": tracking,
        "MLFLOW_EXPERIMENT_NAME": "cli-training",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dart_assets.entrypoints.train",
            *("--family", "xgb", "--features", str(features), "--output", str(tmp_path / "model")),
            *("--params", '{"num_boost_round": 10}', "--seed", "3"),
        ],
        env=env,
        cwd=tmp_path,  # MLflow puts a new experiment's artifacts under ./mlruns
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    assert summary["family"] == "xgb" and "plot_png_base64" not in summary
    run = mlflow.MlflowClient(tracking).get_run(summary["mlflow_run_id"])
    assert run.data.tags["launcher"] == "cli" and run.data.params["param_num_boost_round"] == "10"
    assert summary["metrics"]["test_mae"] == run.data.metrics["test_mae"]
    assert (tmp_path / "model" / "bundle" / "xgb_p50.json").is_file()
    assert summary["bundle_uri"] == f"runs:/{summary['mlflow_run_id']}/bundle"
