"""Transformer overload graph: load history -> trend model (MLflow) -> gated champion -> overload forecast.

Thin Dagster declarations over `dart_assets.transformer`; the numbers are computed there. The RMSE gate is
evaluated inside `promoted_transformer_model` before anything is registered (a check only runs after its
asset), and the blocking `rmse_gate` check re-evaluates the same function on the recorded metrics so a failed
gate is red in the UI and stops the forecast.
"""

import base64

import dagster as dg
import pandas as pd

from dart_assets.common.tracking import RunRecord, log_run
from dart_assets.defs.resources.mlflow import REGISTRY_POOL, MlflowResource
from dart_assets.transformer import model as load_model
from dart_assets.transformer.gate import evaluate_gate
from dart_assets.transformer.history import LoadGenerator, read_sensor_csv
from dart_assets.transformer.overload import forecast, summarize

GROUP = "transformer"
MODEL_NAME = "transformer-load-forecaster"
"""The registered model, and the MLflow experiment its runs go to (beside the DART runs, not mixed with them)."""
MODEL_ARTIFACT_DIR = "model"  # the registered version's source: the run's folder holding the JSON parameters


class TransformerResource(dg.ConfigurableResource):
    """Where the load history comes from, the limit, the horizon and the promotion threshold.

    One resource feeds both the promotion asset and the `rmse_gate` check, so they apply the same threshold.
    """

    data_path: str | None = None  # sensor CSV; None = built-in generator
    limit_kw: float = 85.0
    horizon_years: int = 5
    rmse_threshold_kw: float = 3.0


@dg.asset(group_name=GROUP, kinds={"pandas"})
def transformer_load_history(context: dg.AssetExecutionContext, transformer: TransformerResource) -> pd.DataFrame:
    """Hourly peak load (kW) of the transformer: the sensor CSV if TRANSFORMER_DATA_PATH is set, else ~3 years of
    reproducible built-in history with a known growth trend."""
    if transformer.data_path:
        history, source = read_sensor_csv(transformer.data_path), transformer.data_path
    else:
        generator = LoadGenerator()
        history, source = generator.history(), f"built-in generator (seed {generator.seed})"
    context.add_output_metadata(
        {
            "source": source,
            "first_hour": f"{history['timestamp'].iloc[0]:%Y-%m-%d %H:%M}",
            "last_hour": f"{history['timestamp'].iloc[-1]:%Y-%m-%d %H:%M}",
            "max_kw": float(history["kw"].max()),
        }
    )
    return history


@dg.asset(group_name=GROUP, kinds={"mlflow", "numpy"})
def transformer_load_model(
    context: dg.AssetExecutionContext,
    transformer: TransformerResource,
    mlflow: MlflowResource,
    transformer_load_history: pd.DataFrame,
) -> dict:
    """Trend + Fourier seasonality regression (a tree cannot extrapolate growth), scored on a chronological
    80/10/10 split and logged to MLflow as a JSON parameter file, refitted on all history for the forecast."""
    seed = None if transformer.data_path else LoadGenerator().seed
    fitted = load_model.fit(transformer_load_history, seed=seed)
    store = MlflowResource(tracking_uri=mlflow.tracking_uri, experiment_name=MODEL_NAME, ui_url=mlflow.ui_url)
    store.activate()  # the store and the experiment exist before the run is logged
    spec = fitted["feature_spec"]
    record = RunRecord(
        params={
            "trend_degree": spec["trend_degree"],
            "seasonal_harmonics": {name: harmonics for name, (_, harmonics) in spec["seasonal"].items()},
            "band_quantiles": fitted["band"]["quantiles"],
            "data_window": fitted["data_window"]["all"],
            "seed": fitted["seed"],
            "code_version": fitted["code_version"],
        },
        metrics=fitted["metrics"],
        documents={f"{MODEL_ARTIFACT_DIR}/transformer_model.json": fitted},
    )
    run = log_run(
        MODEL_NAME,
        f"transformer-{context.run.run_id[:8]}",
        record,
        tags={"dagster.run_id": context.run.run_id},
    )
    context.add_output_metadata(
        {
            **{name: dg.MetadataValue.float(value) for name, value in fitted["metrics"].items()},
            "trend_degree": spec["trend_degree"],
            "mlflow_run_id": run.run_id,
            "mlflow_run": store.run_url(run.run_id),
        }
    )
    return {"model": fitted, "mlflow_run_id": run.run_id, "source_uri": f"{run.artifact_uri}/{MODEL_ARTIFACT_DIR}"}


@dg.asset(group_name=GROUP, kinds={"mlflow"}, pool=REGISTRY_POOL)
def promoted_transformer_model(
    context: dg.AssetExecutionContext,
    transformer: TransformerResource,
    mlflow: MlflowResource,
    transformer_load_model: dict,
) -> dict:
    """Registers the model as the `champion` of transformer-load-forecaster ONLY if validation and test RMSE pass
    the gate; otherwise registers nothing and records why (the blocking `rmse_gate` check then stops the forecast)."""
    fitted = transformer_load_model["model"]
    gate = evaluate_gate(fitted["metrics"], transformer.rmse_threshold_kw)
    version = None
    if gate.passed:
        from dart_assets.common.registry import promote

        registered = promote(
            mlflow.client(),
            MODEL_NAME,
            transformer_load_model["source_uri"],
            transformer_load_model["mlflow_run_id"],
            tags={**{k: f"{v:.4f}" for k, v in gate.numbers.items()}, "code_version": fitted["code_version"]},
        )
        version = registered.version
    context.add_output_metadata(
        {
            "promoted": gate.passed,
            "gate": gate.description,
            "registered_version": str(version or "none"),
            **{k: dg.MetadataValue.float(v) for k, v in gate.numbers.items()},
        }
    )
    return {
        "promoted": gate.passed,
        "gate": gate.description,
        "model_name": MODEL_NAME,
        "version": version,
        "mlflow_run_id": transformer_load_model["mlflow_run_id"],
        "model": fitted,
    }


@dg.asset_check(asset=promoted_transformer_model, name="rmse_gate", blocking=True)
def rmse_gate(transformer: TransformerResource, promoted_transformer_model: dict) -> dg.AssetCheckResult:
    """Validation and test RMSE at or below TRANSFORMER_RMSE_THRESHOLD_KW; blocks the overload forecast otherwise."""
    gate = evaluate_gate(promoted_transformer_model["model"]["metrics"], transformer.rmse_threshold_kw)
    return dg.AssetCheckResult(
        passed=gate.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=gate.description,
        metadata={**gate.numbers, "registered_version": str(promoted_transformer_model["version"] or "none")},
    )


@dg.asset(group_name=GROUP, kinds={"pandas", "parquet"})
def transformer_overload_forecast(
    transformer: TransformerResource,
    transformer_load_history: pd.DataFrame,
    promoted_transformer_model: dict,
) -> dg.Output[pd.DataFrame]:
    """Hourly forecast with P05-P95 band over the horizon from the champion model: when the transformer first
    overloads, how often, and the earliest/latest first-overload dates for planning the upgrade."""
    from dart_assets.transformer.chart import overload_chart  # matplotlib: only the step that draws pays it

    limit = transformer.limit_kw
    frame = forecast(
        promoted_transformer_model["model"],
        transformer_load_history["timestamp"].iloc[-1],
        transformer.horizon_years,
        limit,
    )
    summary = summarize(frame, limit)
    png = base64.b64encode(overload_chart(transformer_load_history, frame, summary)).decode()
    return dg.Output(
        frame,
        metadata={
            "first_overload": summary["first_overload"] or "none in horizon",
            "overload_hours": summary["overload_hours"],
            "overload_hours_by_year": dg.MetadataValue.json(summary["overload_hours_by_year"]),
            "max_kw": dg.MetadataValue.float(summary["max_kw"]),
            "max_at": summary["max_at"],
            "earliest_first_overload": summary["earliest_first_overload"] or "none in horizon",
            "latest_first_overload": summary["latest_first_overload"] or "none in horizon",
            "limit_kw": dg.MetadataValue.float(limit),
            "model_version": str(promoted_transformer_model["version"]),
            "chart": dg.MetadataValue.md(f"![transformer overload forecast](data:image/png;base64,{png})"),
        },
    )


ASSETS = [
    transformer_load_history,
    transformer_load_model,
    promoted_transformer_model,
    transformer_overload_forecast,
]
CHECKS = [rmse_gate]
