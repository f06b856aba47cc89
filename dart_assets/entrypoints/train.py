"""The training entry point: one model family on hourly_features, logged to MLflow, summarised for Dagster.

    python -m dart_assets.entrypoints.train --family lgbm --features <hourly_features.parquet> --output <folder>
    python -m dart_assets.entrypoints.train --family lgbm --features ... --output <folder> --backtest-month 2025-06

The second form is one family's share of a walk-forward backtest month (`dart_assets.backtest`): trained on the
rows known at the month's first decision time, its forecasts of the month written to <folder> (no MLflow run).

Dagster's local launcher calls `run_training` inside the step process; an Azure ML job (or `az ml job create`) runs
this module. Under Dagster Pipes it streams progress to the run's logs and reports the `TrainingSummary` back to
the asset; without Pipes it prints the summary as JSON. Either way the training logic is
`dart_assets.ml.training.train_model` and the MLflow run comes from `dart_assets.ml.tracking`.

This module reads its own process environment, by design: inside a job it is the job's configuration (the MLflow
store and experiment, the MLflow UI address, the Pipes transport and blob account), set by the launcher or the job
YAML. It is the one place in dart_assets besides `dart_assets.settings` that does.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from upath import UPath

from dart_assets.features import TARGET, feature_columns
from dart_assets.ml import MODEL_NAME, families
from dart_assets.ml.metrics import per_point_table
from dart_assets.ml.summary import TrainingSummary

EXPERIMENT_ENV = "MLFLOW_EXPERIMENT_NAME"
PIPES_TRANSPORT_ENV = "DART_PIPES_TRANSPORT"
PIPES_ACCOUNT_ENV = "DART_PIPES_BLOB_ACCOUNT_URL"
AZURE_BLOB_TRANSPORT = "azure-blob"
SUMMARY_METADATA_KEY = "training_summary"
"""The one metadata entry the job reports through Pipes: the TrainingSummary as JSON."""
BACKTEST_METADATA_KEY = "backtest_candidate"
"""What a backtest job reports instead: its CandidateForecast's summary (the predictions are in its output)."""
PREDICTIONS_FILE = "predictions.parquet"
SUMMARY_FILE = "summary.json"
"""The TrainingSummary, also written beside the bundle in the output folder: a launcher that lost the job's Pipes
messages (a step retried while its job ran on) reads it from there."""


def read_features(uri: str) -> pd.DataFrame:
    """hourly_features from a local path or an abfss:// URI; rows without a known target cannot train."""
    with UPath(uri).open("rb") as handle:
        frame = pd.read_parquet(handle)
    missing = {TARGET, "timestamp_utc", "settlement_point"} - set(frame.columns)
    if missing:
        raise ValueError(f"{uri}: not an hourly_features table, missing {sorted(missing)}")
    return frame.dropna(subset=[TARGET]).reset_index(drop=True)


def publish_output(bundle_dir: Path, summary: TrainingSummary, output_uri: str, work: Path) -> None:
    """`output_uri` becomes bundle/ plus summary.json as a whole (common.files.publish_folder): a trainer killed
    while copying leaves no output folder, or the previous complete one, never a half bundle."""
    from dart_assets.common.files import publish_folder

    staged = work / "output"
    shutil.copytree(bundle_dir, staged / "bundle")
    (staged / SUMMARY_FILE).write_text(json.dumps(summary.to_dict(), default=str))
    # summary.json is the folder's manifest: written last where folders cannot be renamed (abfss://).
    publish_folder(staged, UPath(output_uri), last=SUMMARY_FILE)


def read_output_summary(output_uri: str) -> TrainingSummary | None:
    """The summary a finished trainer left in `output_uri`, or None if it never finished publishing there."""
    path = UPath(output_uri) / SUMMARY_FILE
    if not path.exists():
        return None
    return TrainingSummary.from_dict(json.loads(path.read_text()))


def run_training(
    family: str,
    features_uri: str,
    output_uri: str,
    params: dict[str, Any],
    seed: int,
    n_threads: int,
    tags: dict[str, str],
    progress: Callable[[str], None],
    experiment: str | None = None,
) -> TrainingSummary:
    """Train, log to MLflow (the process's tracking URI; `experiment`, else $MLFLOW_EXPERIMENT_NAME, else the DART
    model's name), publish the bundle and the summary to `output_uri`, and summarise."""
    from dart_assets.ml import tracking
    from dart_assets.ml.training import train_model

    families.get(family)  # an unknown family fails before the features are read
    frame = read_features(features_uri)
    progress(f"{family}: {len(frame)} rows with a known DART from {features_uri}")
    work = Path(tempfile.mkdtemp(prefix=f"dart_{family}_"))
    try:
        result = train_model(
            family,
            frame,
            feature_columns(frame),
            work,
            params=params,
            seed=seed,
            n_threads=n_threads,
            progress=progress,
        )
        # A model whose test predictions never move is broken however good its MAE; the candidate check reads this.
        result.metrics["test_prediction_std"] = float(result.test_predictions["p50"].std())
        experiment = experiment or os.environ.get(EXPERIMENT_ENV, MODEL_NAME)
        run_name = f"{family}-{tags.get('dagster_run_id', 'manual')[:8]}"
        run_id = tracking.log_training_run(result, experiment, run_name, tags=tags)
        importance = result.feature_importance
        summary = TrainingSummary(
            family=family,
            mlflow_run_id=run_id,
            bundle_uri=f"runs:/{run_id}/{tracking.BUNDLE_ARTIFACT_PATH}",
            output_uri=output_uri,
            metrics={k: float(v) for k, v in result.metrics.items()},
            comparison_md=result.comparison.to_markdown(floatfmt=".3f"),
            n_train=result.n_train,
            n_val=result.n_val,
            n_test=result.n_test,
            split_boundaries=result.split_boundaries,
            best_iteration=int(result.best_iteration),
            train_seconds=round(result.train_seconds, 2),
            feature_importance_md=None if importance is None else importance.to_markdown(index=False, floatfmt=".1f"),
            plot_png_base64=base64.b64encode(result.plot_png.read_bytes()).decode(),
            per_point_md=per_point_table(result.metrics).to_markdown(floatfmt=".3f"),
            serving=result.serving.to_dict(),
        )
        publish_output(result.bundle_dir, summary, output_uri, work)
        return summary
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_backtest_candidate(
    family: str,
    features_uri: str,
    output_uri: str,
    month: str,
    rolling_months: int | None,
    min_training_days: int,
    params: dict[str, Any],
    seed: int,
    n_threads: int,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """Train `family` for backtest month `month`, write its forecasts of the month to `output_uri`/predictions.parquet
    and return the candidate's summary."""
    from dart_assets import backtest

    families.get(family)
    window = backtest.TrainingWindow(rolling_months, min_training_days)
    frame = read_features(features_uri)
    candidate = backtest.train_candidate(family, frame, month, window, params, seed, n_threads, progress)
    target = UPath(output_uri) / PREDICTIONS_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(candidate.predictions.to_parquet(index=False))
    return candidate.summary()


def _run_url(run_id: str) -> str | None:
    """The run in the MLflow UI if the job knows its address, else where to browse it."""
    base = os.environ.get("MLFLOW_UI_URL")
    if base:
        import mlflow

        experiment = mlflow.get_run(run_id).info.experiment_id
        return f"{base.rstrip('/')}/#/experiments/{experiment}/runs/{run_id}"
    return f"run {run_id}; browse with: mlflow ui --backend-store-uri $MLFLOW_TRACKING_URI"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Train one DART model family on hourly_features.")
    parser.add_argument("--family", required=True, choices=list(families.FAMILIES))
    parser.add_argument("--features", required=True, help="hourly_features Parquet (path or abfss:// URI)")
    parser.add_argument("--output", required=True, help="folder (path or abfss:// URI) for the model bundle")
    parser.add_argument("--params", default="{}", help="JSON object of hyperparameter overrides")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--n-threads", type=int, default=1)
    parser.add_argument("--backtest-month", help="YYYY-MM: train for this walk-forward month and forecast it")
    parser.add_argument("--rolling-months", type=int, help="backtest: train on the last N months only")
    parser.add_argument("--min-training-days", type=int, default=28, help="backtest: fewest days of training rows")
    return parser


def _open_pipes():
    """Pipes over temp files/env vars (local subprocess) or over Azure Blob Storage (Azure ML jobs)."""
    from dagster_pipes import open_dagster_pipes

    if os.environ.get(PIPES_TRANSPORT_ENV) == AZURE_BLOB_TRANSPORT:
        from azure.identity import DefaultAzureCredential
        from azure.storage.blob import BlobServiceClient
        from dagster_pipes import PipesAzureBlobStorageContextLoader, PipesAzureBlobStorageMessageWriter

        client = BlobServiceClient(os.environ[PIPES_ACCOUNT_ENV], credential=DefaultAzureCredential())
        return open_dagster_pipes(
            context_loader=PipesAzureBlobStorageContextLoader(client=client),
            message_writer=PipesAzureBlobStorageMessageWriter(client=client),
        )
    return open_dagster_pipes()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from dagster_pipes import DAGSTER_PIPES_CONTEXT_ENV_VAR

    if args.backtest_month:
        return _backtest(args, DAGSTER_PIPES_CONTEXT_ENV_VAR in os.environ)

    def train(tags: dict[str, str], progress: Callable[[str], None]) -> TrainingSummary:
        params = json.loads(args.params)
        return run_training(args.family, args.features, args.output, params, args.seed, args.n_threads, tags, progress)

    if DAGSTER_PIPES_CONTEXT_ENV_VAR not in os.environ:  # plain CLI or `az ml job create` without Dagster
        summary = train({"launcher": "cli"}, lambda msg: print(msg, flush=True))
        printed = {k: v for k, v in summary.to_dict().items() if k != "plot_png_base64"}
        print(json.dumps(printed, indent=2, default=str))
        return 0
    with _open_pipes() as pipes:
        tags = {
            "dagster_run_id": pipes.run_id or "",
            "dagster_asset": pipes.asset_key or "",
            "launcher": "dagster-pipes",
        }
        summary = train(tags, pipes.log.info)
        summary = summary.with_links(mlflow_run_url=_run_url(summary.mlflow_run_id))
        pipes.report_asset_materialization(
            metadata={SUMMARY_METADATA_KEY: {"type": "json", "raw_value": summary.to_dict()}}
        )
    return 0


def _backtest(args: argparse.Namespace, under_pipes: bool) -> int:
    def work(progress: Callable[[str], None]) -> dict[str, Any]:
        return run_backtest_candidate(
            args.family,
            args.features,
            args.output,
            args.backtest_month,
            args.rolling_months,
            args.min_training_days,
            json.loads(args.params),
            args.seed,
            args.n_threads,
            progress,
        )

    if not under_pipes:
        print(json.dumps(work(lambda msg: print(msg, flush=True)), indent=2))
        return 0
    with _open_pipes() as pipes:
        summary = work(pipes.log.info)
        pipes.report_asset_materialization(metadata={BACKTEST_METADATA_KEY: {"type": "json", "raw_value": summary}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
