"""Promotion: the best candidate on validation, gated on test, becomes the registry's `champion`.

The gate is evaluated inside `promoted_model` before anything is registered (a check only runs after its asset),
so a failed gate never moves the `champion` alias; the blocking `rmse_gate` check re-evaluates the same pure
function on the recorded numbers, turns red in the UI and stops everything downstream of the promotion.
"""

import math

import dagster as dg
from pydantic import Field

from dart_assets.graph.training import MODEL_ASSETS
from dart_assets.ml.gate import REQUIRED_METRICS, evaluate_dart_gate
from dart_assets.resources.mlflow import MlflowResource

MODEL_NAME = "dart-spread-forecaster"
SELECTION_METRICS = ("val_mae", "val_rmse")


class PromotionGate(dg.ConfigurableResource):
    """Thresholds shared by `promoted_model` and its `rmse_gate` check (env: DART_GATE_MAX_TEST_RMSE, DART_GATE_MIN_SKILL)."""

    max_test_rmse: float = Field(60.0, description="Highest acceptable test RMSE, $/MWh (hub DART, spikes included).")
    min_mae_skill: float = Field(
        0.02, description="Required improvement of test MAE over the best naive baseline (0.02 = 2%)."
    )
    selection_metric: str = Field(
        "val_mae", description="Validation metric that picks the candidate: val_mae or val_rmse."
    )

    def evaluate(self, metrics: dict):
        return evaluate_dart_gate(metrics, self.max_test_rmse, self.min_mae_skill)


def _latest_candidates(context: dg.AssetExecutionContext, client) -> dict[str, dict]:
    """Each model asset's latest materialization, with its MLflow run's metrics and params."""
    candidates = {}
    for key in MODEL_ASSETS:
        event = context.instance.get_latest_materialization_event(dg.AssetKey(key))
        if event is None or event.asset_materialization is None:
            context.log.warning(f"{key} has never been materialized; it is not a candidate")
            continue
        run_id = event.asset_materialization.metadata["mlflow_run_id"].value
        run = client.get_run(run_id)
        candidates[key] = {
            "mlflow_run_id": run_id,
            "family": run.data.params.get("family"),
            "metrics": dict(run.data.metrics),
            "data_window": f"{run.data.params.get('split_train_start')}..{run.data.params.get('split_test_end')}",
            "dagster_run_id": event.run_id,
        }
    return candidates


def _comparison_table(candidates: dict[str, dict], winner: str, selection_metric: str) -> str:
    rows = [
        "| candidate | "
        + selection_metric
        + " | test RMSE | test MAE | test sign acc. | P10-P90 coverage | MAE skill |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, c in sorted(candidates.items(), key=lambda kv: kv[1]["metrics"].get(selection_metric, math.inf)):
        m = c["metrics"]
        name = f"**{key}** (winner)" if key == winner else key
        rows.append(
            f"| {name} | {m.get(selection_metric, math.nan):.3f} | {m.get('test_rmse', math.nan):.3f} | "
            f"{m.get('test_mae', math.nan):.3f} | {m.get('test_sign_accuracy', math.nan):.3f} | "
            f"{m.get('test_p10_p90_coverage', math.nan):.3f} | {m.get('test_mae_skill', math.nan):.1%} |"
        )
    m = candidates[winner]["metrics"]
    for baseline in ("zero", "same_hour", "hour_dow"):
        rows.append(
            f"| baseline: {baseline} | | {m.get(f'baseline_{baseline}_test_rmse', math.nan):.3f} | "
            f"{m.get(f'baseline_{baseline}_test_mae', math.nan):.3f} | | | |"
        )
    return "\n".join(rows)


@dg.asset(
    group_name="training",
    deps=list(MODEL_ASSETS),
    kinds={"mlflow"},
    owners=["team:quant-research"],
)
def promoted_model(context: dg.AssetExecutionContext, gate: PromotionGate, mlflow: MlflowResource) -> dg.Output[dict]:
    """The candidate with the best validation score, registered as dart-spread-forecaster@champion if it passes the gate."""
    from dart_assets.ml import registry

    if gate.selection_metric not in SELECTION_METRICS:
        raise ValueError(
            f"selection_metric {gate.selection_metric!r} is not valid; use one of: {', '.join(SELECTION_METRICS)}"
        )
    client = mlflow.client()
    candidates = _latest_candidates(context, client)
    usable = {
        k: c
        for k, c in candidates.items()
        if all(math.isfinite(c["metrics"].get(m, math.nan)) for m in REQUIRED_METRICS)
    }
    if not usable:
        raise dg.Failure(
            "no usable candidate model: materialize lgbm_model, xgb_model and deep_model first "
            f"(found: {', '.join(candidates) or 'none'})"
        )
    winner = min(usable, key=lambda k: usable[k]["metrics"][gate.selection_metric])
    chosen = usable[winner]
    result = gate.evaluate(chosen["metrics"])
    before = registry.champion(client, MODEL_NAME)
    version = None
    if result.passed and before is not None and before.run_id == chosen["mlflow_run_id"]:
        # Nothing was retrained: a new version of the same run would make `previous` equal `champion`.
        version = before
        context.log.info(f"{winner}'s run is already the champion (v{before.version}); registry unchanged")
    elif result.passed:
        tags = {
            "source_asset": winner,
            "family": chosen["family"],
            "dagster_run_id": context.run_id,
            "training_dagster_run_id": chosen["dagster_run_id"],
            "data_window": chosen["data_window"],
            **{k: f"{chosen['metrics'][k]:.4f}" for k in REQUIRED_METRICS},
        }
        version = registry.promote(
            client, MODEL_NAME, f"runs:/{chosen['mlflow_run_id']}/model", chosen["mlflow_run_id"], tags
        )
        context.log.info(f"{MODEL_NAME} version {version.version} ({winner}) is the champion")
    else:
        context.log.warning(f"not promoted: {result.description}")
    record = {
        "winner": winner,
        "family": chosen["family"],
        "mlflow_run_id": chosen["mlflow_run_id"],
        "metrics": chosen["metrics"],
        "gate_passed": result.passed,
        "gate_description": result.description,
        "registered_version": version.version if version else None,
        "champion_version": version.version if version else (before.version if before else None),
        "selection_metric": gate.selection_metric,
    }
    why = (
        f"{winner} has the best {gate.selection_metric} ({chosen['metrics'][gate.selection_metric]:.3f}) of "
        f"{len(usable)} candidate(s). {result.description}."
    )
    return dg.Output(
        record,
        metadata={
            "comparison": dg.MetadataValue.md(_comparison_table(usable, winner, gate.selection_metric)),
            "winner": winner,
            "why": why,
            "gate_passed": result.passed,
            "registry": f"{MODEL_NAME} v{version.version} @champion"
            if version
            else f"unchanged: champion stays {'v' + str(before.version) if before else '(none)'}",
            "mlflow_run_id": chosen["mlflow_run_id"],
            "mlflow_run": dg.MetadataValue.text(mlflow.run_url(chosen["mlflow_run_id"])),
        },
    )


@dg.asset_check(
    asset=promoted_model,
    blocking=True,
    description="Test RMSE under the threshold AND test MAE better than the best naive baseline by the margin; blocks the forecast otherwise.",
)
def rmse_gate(promoted_model: dict, gate: PromotionGate) -> dg.AssetCheckResult:
    result = gate.evaluate(promoted_model["metrics"])
    champion = promoted_model["champion_version"]
    champion_label = f"v{champion}" if champion is not None else "(none)"
    return dg.AssetCheckResult(
        passed=result.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=result.description + ("" if result.passed else f"; champion stays {champion_label}"),
        metadata={**result.numbers, "winner": promoted_model["winner"], "champion_version": champion_label},
    )
