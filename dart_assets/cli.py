"""`dart-assets`: the newcomer's first run, and the registry's rollback.

dart-assets quickstart            materialize the whole graph on the built-in data and print a summary
dart-assets rollback [--model M]  point `champion` back at `previous` (run it again to undo)
dart-assets champion [--model M]  show the registry's champion, previous and fallback versions
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from dart_assets.ml import MODEL_NAME
from dart_assets.ml.families import FAMILIES

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

    from dart_assets.defs.resources.mlflow import MlflowResource
    from dart_assets.settings import Settings

QUICKSTART_DAYS = 150
# The console shows progress (training iterations, checks) but not Dagster's per-event DEBUG lines.
QUIET = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def resolve_job(name: str) -> dg.JobDefinition:
    """Module-level so Dagster can rebuild the job in each step process (multiprocess executor)."""
    from dart_assets.definitions import defs

    return defs.resolve_job_def(name)


def _instance(settings: Settings) -> dg.DagsterInstance:
    """The instance `dagster dev` will show: $DAGSTER_HOME, by default .dart/dagster_home in the checkout."""
    home = Path(settings.dagster_home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").touch()
    return dg.DagsterInstance.from_config(str(home))


def _mlflow() -> MlflowResource:
    """The definitions' MLflow store, its URI resolved (it may come from the environment through dg.EnvVar)."""
    from dart_assets.definitions import defs
    from dart_assets.defs.resources.mlflow import MlflowResource

    store = (defs.resources or {})["mlflow"]
    assert isinstance(store, MlflowResource)
    return store.process_config_and_initialize()


def _execute(
    instance: dg.DagsterInstance,
    job: str,
    label: str,
    tags: dict[str, str] | None = None,
    assets: list[str] | None = None,
) -> float:
    started = time.perf_counter()
    print(f"-> {label} ...", flush=True)
    result = dg.execute_job(
        dg.build_reconstructable_job("dart_assets.cli", "resolve_job", reconstructable_args=(job,)),
        instance=instance,
        tags=tags or {},
        run_config=QUIET,
        asset_selection=[dg.AssetKey(name) for name in assets] if assets else None,
    )
    seconds = time.perf_counter() - started
    if not result.success:
        failed = [e.step_key for e in result.all_events if e.is_step_failure]
        raise SystemExit(
            f"{label} failed (run {result.run_id}, steps {failed}); open the run in `dagster dev` for details"
        )
    print(f"   done in {seconds:.1f}s (run {result.run_id[:8]})", flush=True)
    return seconds


def quickstart(start: dt.date, days: int) -> int:
    """Market data -> features -> every family's model in parallel -> gated promotion -> next-day forecast -> the
    transformer graph."""
    from dart_assets.definitions import settings

    if settings.data_source != "synthetic":
        print(f"note: DART_DATA_SOURCE={settings.data_source}; the quickstart reads {settings.data_path}")
    instance = _instance(settings)
    end = start + dt.timedelta(days=days - 1)
    forecast_day = end + dt.timedelta(days=1)
    total = time.perf_counter()
    timings = {
        "market data": _execute(
            instance,
            "market_data_job",
            f"market data {start}..{end} ({days} days, one run)",
            {
                "dagster/asset_partition_range_start": start.isoformat(),
                "dagster/asset_partition_range_end": end.isoformat(),
            },
        ),
        "training": _execute(
            instance, "weekly_retraining", f"hourly_features, {'/'.join(FAMILIES)} models in parallel, promotion"
        ),
        # As on a desk morning: the postings for the forecast day first (the morning refresh), then the forecast.
        "forecast": _execute(
            instance,
            "market_data_job",
            f"driver forecasts posted for {forecast_day}",
            {"dagster/partition": forecast_day.isoformat()},
            ["driver_forecasts"],
        )
        + _execute(
            instance,
            "dart_forecast_job",
            f"dart_forecast for {forecast_day}",
            {"dagster/partition": forecast_day.isoformat()},
        ),
        "transformer": _execute(instance, "transformer_refresh", "transformer load model and overload forecast"),
    }
    print(summary(instance, settings, forecast_day))
    print(
        "timings: "
        + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items())
        + f", total {time.perf_counter() - total:.1f}s"
    )
    return 0


def summary(instance: dg.DagsterInstance, settings: Settings, forecast_day: dt.date) -> str:
    """Models vs baselines, the champion, where the forecast is, how to open the UI."""
    from dart_assets.common import registry
    from dart_assets.defs.dart.training import MODEL_ASSET_KEYS
    from dart_assets.defs.resources.mlflow import display_uri

    store = _mlflow()
    client = store.client()
    lines = [
        "",
        "model           test MAE  best baseline  skill   test RMSE  P10-P90 cover  sign acc. traded (share)",
        "-" * 96,
    ]
    for key in MODEL_ASSET_KEYS:
        event = instance.get_latest_materialization_event(dg.AssetKey(key))
        if event is None or event.asset_materialization is None:
            raise SystemExit(f"{key} has no materialization in {settings.dagster_home}")
        m = client.get_run(str(event.asset_materialization.metadata["mlflow_run_id"].value)).data.metrics
        lines.append(
            f"{key:<15} {m['test_mae']:8.2f}  {m['best_baseline_test_mae']:13.2f}  {m['test_mae_skill']:6.1%}"
            f"  {m['test_rmse']:9.2f}  {m['test_p10_p90_coverage']:12.1%}"
            f"  {m.get('test_sign_accuracy_traded', math.nan):16.1%} ({m.get('test_traded_share', math.nan):.0%})"
        )
    champion = registry.champion(client, MODEL_NAME)
    fallback = registry.by_alias(client, MODEL_NAME, registry.FALLBACK)
    lines.append("")
    lines.append(
        f"champion: {MODEL_NAME} v{champion.version} ({champion.tags.get('source_asset')})"
        if champion
        else "champion: none (the rmse_gate did not pass)"
        + (
            f"; the forecast serves the fallback v{fallback.version} ({fallback.tags.get('source_asset')})"
            if fallback
            else ""
        )
    )
    forecast = Path(settings.storage).resolve() / "dart_forecast" / f"{forecast_day}.parquet"
    lines.append(f"forecast for {forecast_day}: {forecast}")
    lines.append(f"MLflow: mlflow ui --backend-store-uri {display_uri(store.tracking_uri)}")
    home = Path(settings.dagster_home).resolve()
    lines.append(f"Dagster UI: DAGSTER_HOME={home} dagster dev   (then open http://127.0.0.1:3000)")
    return "\n".join(lines)


def _registry_client() -> MlflowClient:
    return _mlflow().client()


def _record_rollback(model: str, new: ModelVersion, old: ModelVersion) -> None:
    """Tell Dagster (an observation of the promotion asset, shown as its latest observation in the UI) and, for the
    DART model, cache the new champion's bundle: a forecast made while MLflow is down must not serve the model that
    was just rolled back."""
    import getpass

    from dart_assets.definitions import settings
    from dart_assets.defs.resources.mlflow import display_uri
    from dart_assets.defs.transformer.assets import MODEL_NAME as TRANSFORMER_MODEL

    # The asset whose materializations record each registered model's promotions.
    asset = {MODEL_NAME: "promoted_model", TRANSFORMER_MODEL: "promoted_transformer_model"}.get(model)
    if asset is None:
        print(f"note: {model} is not promoted by this project's graph; nothing recorded in Dagster")
        return
    instance = _instance(settings)
    instance.report_runless_asset_event(
        dg.AssetObservation(
            asset,
            description=f"dart-assets rollback: {model} champion v{old.version} -> v{new.version}",
            metadata={
                "registry": f"{model} v{new.version} @champion (rolled back from v{old.version})",
                "champion_version": dg.MetadataValue.int(int(new.version)),
                "previous_version": dg.MetadataValue.int(int(old.version)),
                "mlflow_run_id": str(new.run_id),
                "source_asset": new.tags.get("source_asset", "?"),
                "event": "rollback",
                "by": getpass.getuser(),
            },
        )
    )
    print(
        f"recorded in Dagster ({Path(settings.dagster_home).resolve()}): {asset} observed with champion v{new.version}"
    )
    if model != MODEL_NAME:
        return
    from dart_assets.ml.champion import resolve_champion_bundle

    store = _mlflow()
    try:
        resolve_champion_bundle(store.tracking_uri, model, store.model_cache_dir)
    except Exception as exc:  # the rollback stands; only the cache missed it, and the user is told
        print(
            f"warning: v{new.version}'s bundle could not be cached for forecasts made while MLflow "
            f"({display_uri(store.tracking_uri)}) is down: {exc}",
            file=sys.stderr,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dart-assets", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    quick = commands.add_parser("quickstart", help="materialize the whole graph on the built-in data")
    quick.add_argument(
        "--start", type=dt.date.fromisoformat, default=None, help="first delivery day (default DART_START_DATE)"
    )
    quick.add_argument(
        "--days", type=int, default=QUICKSTART_DAYS, help=f"delivery days of market data (default {QUICKSTART_DAYS})"
    )
    for name, text in (
        ("rollback", "point champion back at previous"),
        ("champion", "show champion, previous and fallback"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--model", default=MODEL_NAME, help="registered model name")
    args = parser.parse_args(argv)

    if args.command == "quickstart":
        if args.days < 30:
            parser.error("--days must be at least 30: the models need weeks of history for lags and a test split")
        from dart_assets.definitions import settings

        return quickstart(args.start or dt.date.fromisoformat(settings.start_date), args.days)

    from dart_assets.common import registry

    client = _registry_client()
    if args.command == "rollback":
        try:
            new, old = registry.rollback(client, args.model)
        except LookupError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"{args.model}: champion is now v{new.version}, previous is v{old.version}")
        _record_rollback(args.model, new, old)
        return 0
    for alias in (registry.CHAMPION, registry.PREVIOUS, registry.FALLBACK):
        version = registry.by_alias(client, args.model, alias)
        print(
            f"{alias:>9}: "
            + (
                f"v{version.version} ({version.tags.get('source_asset', '?')}, run {version.run_id})"
                if version
                else "none"
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
