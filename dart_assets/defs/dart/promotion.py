"""Promotion: the best candidate on validation, gated on test, becomes the registry's `champion`.

The gate is evaluated inside `promoted_model` before anything is registered (a check only runs after its asset),
so a failed gate never moves the `champion` alias; the blocking `rmse_gate` check re-evaluates the same pure
function on the recorded numbers, turns red in the UI and stops everything downstream of the promotion.
"""

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from dart_assets.common.gate import GateResult
from dart_assets.common.registry import PROMOTED_AT_TAG
from dart_assets.defs.dart.training import GROUP, MODEL_ASSET_KEYS, asset_name
from dart_assets.defs.resources.mlflow import REGISTRY_POOL, MlflowResource
from dart_assets.ml import MODEL_NAME
from dart_assets.ml.gate import DEFAULT_MIN_POINT_SKILL, REQUIRED_METRICS, evaluate_dart_gate
from dart_assets.ml.naive import NaiveModel
from dart_assets.ml.selection import (
    NoUsableCandidate,
    Selection,
    SelectionMetric,
    SelectionRule,
    select_candidate,
    usable,
)

if TYPE_CHECKING:  # mlflow loads in the steps that use it, not with the definitions
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

BASELINES = ("zero", "same_hour", "hour_dow")
FALLBACK_ASSET = asset_name(NaiveModel.name)


class PromotionGate(dg.ConfigurableResource):
    """Thresholds shared by `promoted_model` and its `rmse_gate` check (env: DART_GATE_MAX_TEST_RMSE,
    DART_GATE_MIN_SKILL, DART_GATE_MIN_POINT_SKILL)."""

    max_test_rmse: float = Field(60.0, description="Highest acceptable test RMSE, $/MWh (hub DART, spikes included).")
    min_mae_skill: float = Field(
        0.02, description="Required improvement of test MAE over the best naive baseline (0.02 = 2%)."
    )
    min_point_skill: float = Field(
        DEFAULT_MIN_POINT_SKILL,
        description="Floor of every settlement point's own test MAE skill (-0.02: no point more than 2% worse than "
        "its best naive baseline).",
    )
    selection_metric: SelectionMetric = Field(
        default="val_mae", description="Validation metric that picks the candidate: val_mae or val_rmse."
    )

    def evaluate(self, metrics: dict[str, float]) -> GateResult:
        return evaluate_dart_gate(metrics, self.max_test_rmse, self.min_mae_skill, self.min_point_skill)

    def rule(self) -> SelectionRule:
        return SelectionRule(self.max_test_rmse, self.min_mae_skill, self.selection_metric, self.min_point_skill)


@dataclass(frozen=True)
class Candidate:
    """A training asset's latest model, as its MLflow run recorded it."""

    asset: str
    mlflow_run_id: str
    family: str | None
    metrics: dict[str, float]
    data_window: str
    dagster_run_id: str


def latest_candidates(context: dg.AssetExecutionContext, client: "MlflowClient") -> dict[str, Candidate]:
    """Each training asset's latest materialization, with its MLflow run's metrics and params."""
    candidates = {}
    for key in MODEL_ASSET_KEYS:
        event = context.instance.get_latest_materialization_event(dg.AssetKey(key))
        if event is None or event.asset_materialization is None:
            context.log.warning(f"{key} has never been materialized; it is not a candidate")
            continue
        run_id = str(event.asset_materialization.metadata["mlflow_run_id"].value)
        run = client.get_run(run_id)
        params = run.data.params
        candidates[key] = Candidate(
            asset=key,
            mlflow_run_id=run_id,
            family=params.get("family"),
            metrics=dict(run.data.metrics),
            data_window=f"{params.get('split_train_start')}..{params.get('split_test_end')}",
            dagster_run_id=event.run_id,
        )
    return candidates


def select(candidates: dict[str, Candidate], rule: SelectionRule) -> Selection:
    """The production rule (`ml.selection.select_candidate`) on the candidates' recorded metrics; Failure naming
    what to materialize if none is usable."""
    try:
        return select_candidate({key: c.metrics for key, c in candidates.items()}, rule)
    except NoUsableCandidate:
        raise dg.Failure(
            f"no usable candidate model: materialize {', '.join(MODEL_ASSET_KEYS[:-1])} and {MODEL_ASSET_KEYS[-1]} "
            f"first (found: {', '.join(candidates) or 'none'})"
        ) from None


def register(
    context: dg.AssetExecutionContext, client: "MlflowClient", winner: Candidate, cache_dir: str | None
) -> tuple["ModelVersion", "ModelVersion | None"]:
    """Register the winner as the new champion, unless its run already is the champion; returns (the champion
    version now, the champion before). Its bundle is loaded (checksums verified) before the registry changes, and
    cached for forecasts made while MLflow is unreachable."""
    from dart_assets.common import registry
    from dart_assets.ml import champion, tracking
    from dart_assets.ml.artifacts import BundleIntegrityError

    before = registry.champion(client, MODEL_NAME)
    if before is not None and before.run_id == winner.mlflow_run_id:
        # Nothing was retrained: a new version of the same run would make `previous` equal `champion`.
        context.log.info(f"{winner.asset}'s run is already the champion (v{before.version}); registry unchanged")
        return before, before
    try:
        bundle = tracking.load_bundle_from_run(winner.mlflow_run_id)
    except BundleIntegrityError as exc:
        raise dg.Failure(f"{winner.asset} is not promoted: {exc}", allow_retries=False) from None
    tags = {
        "source_asset": winner.asset,
        "family": winner.family,
        "dagster_run_id": context.run.run_id,
        "training_dagster_run_id": winner.dagster_run_id,
        "data_window": winner.data_window,
        # MLflow keeps no alias history: when each version became champion, for forecasts of past days.
        PROMOTED_AT_TAG: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **{k: f"{winner.metrics[k]:.4f}" for k in REQUIRED_METRICS},
    }
    version = registry.promote(client, MODEL_NAME, f"runs:/{winner.mlflow_run_id}/model", winner.mlflow_run_id, tags)
    context.log.info(f"{MODEL_NAME} version {version.version} ({winner.asset}) is the champion")
    if cache_dir is not None and bundle.directory is not None:
        champion.remember(
            cache_dir, MODEL_NAME, str(version.version), winner.mlflow_run_id, registry.CHAMPION, bundle.directory
        )
    return version, before


def register_fallback(
    context: dg.AssetExecutionContext, client: "MlflowClient", candidates: dict[str, Candidate]
) -> "ModelVersion | None":
    """The naive candidate's model under the `fallback` alias, on every run: what `dart_forecast` serves, labelled,
    while no candidate has ever passed the gate (a failing gate later keeps the champion it had)."""
    from dart_assets.common import registry

    naive = candidates.get(FALLBACK_ASSET)
    if naive is None or not usable(naive.metrics):
        context.log.warning(f"{FALLBACK_ASSET} has no usable run: the registry's fallback is unchanged")
        return registry.by_alias(client, MODEL_NAME, registry.FALLBACK)
    tags = {"source_asset": naive.asset, "family": naive.family, "dagster_run_id": context.run.run_id}
    version = registry.set_fallback(client, MODEL_NAME, f"runs:/{naive.mlflow_run_id}/model", naive.mlflow_run_id, tags)
    context.log.info(f"{MODEL_NAME} version {version.version} ({naive.asset}) is the fallback")
    return version


def comparison_table(candidates: dict[str, Candidate], winner: str, selection_metric: str) -> str:
    """Markdown: every usable candidate, best first by the selection metric, then the winner's naive baselines."""
    rows = [
        f"| candidate | {selection_metric} | test RMSE | test MAE | test sign acc. | P10-P90 coverage | MAE skill |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, c in sorted(candidates.items(), key=lambda kv: kv[1].metrics.get(selection_metric, math.inf)):
        m = c.metrics
        name = f"**{key}** (winner)" if key == winner else key
        rows.append(
            f"| {name} | {m.get(selection_metric, math.nan):.3f} | {m.get('test_rmse', math.nan):.3f} | "
            f"{m.get('test_mae', math.nan):.3f} | {m.get('test_sign_accuracy', math.nan):.3f} | "
            f"{m.get('test_p10_p90_coverage', math.nan):.3f} | {m.get('test_mae_skill', math.nan):.1%} |"
        )
    m = candidates[winner].metrics
    for baseline in BASELINES:
        rows.append(
            f"| baseline: {baseline} | | {m.get(f'baseline_{baseline}_test_rmse', math.nan):.3f} | "
            f"{m.get(f'baseline_{baseline}_test_mae', math.nan):.3f} | | | |"
        )
    return "\n".join(rows)


def report(
    winner: Candidate,
    usable: dict[str, Candidate],
    selection: Selection,
    selection_metric: str,
    version: "ModelVersion | None",
    before: "ModelVersion | None",
    mlflow: MlflowResource,
    fallback: "ModelVersion | None" = None,
) -> dg.Output[dict[str, Any]]:
    """The stored record (read by the check and downstream code) and the metadata the asset page shows."""
    record = {
        "winner": winner.asset,
        "family": winner.family,
        "mlflow_run_id": winner.mlflow_run_id,
        "metrics": winner.metrics,
        "gate_passed": selection.passed,
        "gate_description": selection.gate.description,
        "registered_version": version.version if version else None,
        "champion_version": version.version if version else (before.version if before else None),
        "selection_metric": selection_metric,
        "fallback_version": fallback.version if fallback else None,
    }
    unchanged = f"unchanged: champion stays {'v' + str(before.version) if before else '(none)'}"
    return dg.Output(
        record,
        metadata={
            "comparison": dg.MetadataValue.md(comparison_table(usable, winner.asset, selection_metric)),
            "winner": winner.asset,
            "why": selection.reason,
            "gate_passed": selection.passed,
            "registry": f"{MODEL_NAME} v{version.version} @champion" if version else unchanged,
            "fallback": f"{MODEL_NAME} v{fallback.version} @fallback ({FALLBACK_ASSET})" if fallback else "none",
            "mlflow_run_id": winner.mlflow_run_id,
            "mlflow_run": dg.MetadataValue.text(mlflow.run_url(winner.mlflow_run_id)),
        },
    )


@dg.asset(
    group_name=GROUP,
    deps=MODEL_ASSET_KEYS,
    kinds={"mlflow"},
    owners=["team:quant-research"],
    pool=REGISTRY_POOL,
)
def promoted_model(
    context: dg.AssetExecutionContext, gate: PromotionGate, mlflow: MlflowResource
) -> dg.Output[dict[str, Any]]:
    """The candidate with the best validation score, registered as the DART forecaster's champion if it passes the
    gate."""
    from dart_assets.common import registry

    client = mlflow.client()
    candidates = latest_candidates(context, client)
    selection = select(candidates, gate.rule())
    winner, competing = candidates[selection.chosen], {key: candidates[key] for key in selection.usable}
    version: ModelVersion | None = None
    if selection.passed:
        version, before = register(context, client, winner, mlflow.model_cache_dir)
    else:
        context.log.warning(f"not promoted: {selection.gate.description}")
        before = registry.champion(client, MODEL_NAME)
    fallback = register_fallback(context, client, candidates)
    return report(winner, competing, selection, gate.selection_metric, version, before, mlflow, fallback)


@dg.asset_check(
    asset=promoted_model,
    blocking=True,
    description="Test RMSE under the threshold AND test MAE better than the best naive baseline by the margin; "
    "blocks the forecast otherwise.",
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
