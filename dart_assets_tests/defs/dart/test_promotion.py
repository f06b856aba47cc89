"""promoted_model, rmse_gate and candidate_sanity on the session's real trained graph (issue 4)."""

from __future__ import annotations

import json
from dataclasses import replace

import dagster as dg
import pytest
from mlflow import MlflowClient
from pydantic import ValidationError

from dart_assets.common import registry
from dart_assets.defs import build_defs
from dart_assets.defs.dart.promotion import PromotionGate, rmse_gate
from dart_assets.defs.dart.training import MODEL_ASSET_KEYS
from dart_assets.ml import MODEL_NAME
from dart_assets.ml.gate import REQUIRED_METRICS, candidate_problems
from dart_assets.ml.summary import TrainingSummary
from dart_assets_tests.defs.dart.conftest import materialize, metadata_of, settings_for

# The first and last hour of the 45-day window in UTC: 2025-01-25 HE01 (CST) .. 2025-03-10 HE24 (CDT).
# The market data starts 2025-01-25; its first two days have no D-2 history, so training rows start 2025-01-27.
DATA_WINDOW = "2025-01-27T06:00:00+00:00..2025-03-11T04:00:00+00:00"


def candidate_runs(trained_graph) -> dict[str, str]:
    return {key: metadata_of(trained_graph.training, key)["mlflow_run_id"] for key in MODEL_ASSET_KEYS}


def test_full_materialization_registers_the_winner_as_champion(trained_graph):
    client = trained_graph.client()
    meta = metadata_of(trained_graph.promotion, "promoted_model")
    winner = meta["winner"]
    run_id = candidate_runs(trained_graph)[winner]
    metrics = client.get_run(run_id).data.metrics

    champion = registry.champion(client, MODEL_NAME)
    assert champion is not None and str(champion.version) == "1" and champion.aliases == ["champion"]
    assert champion.run_id == run_id == meta["mlflow_run_id"]
    assert meta["gate_passed"] is True and meta["registry"] == f"{MODEL_NAME} v1 @champion"
    tags = champion.tags
    assert tags["source_asset"] == winner
    assert tags["family"] == winner.removesuffix("_model")
    assert tags["dagster_run_id"] == trained_graph.promotion.run_id
    assert tags["training_dagster_run_id"] == trained_graph.training.run_id
    assert tags["data_window"] == DATA_WINDOW
    for name in REQUIRED_METRICS:
        assert float(tags[name]) == pytest.approx(metrics[name], abs=5e-5), name

    # The asset's stored value records the same version, for downstream code and the check.
    record = json.loads((trained_graph.storage / "promoted_model.json").read_text())
    assert str(record["registered_version"]) == str(record["champion_version"]) == "1"
    assert record["winner"] == winner and record["metrics"]["val_mae"] == pytest.approx(metrics["val_mae"])


def test_winner_has_the_lowest_validation_mae_and_the_table_compares_all(trained_graph):
    client = trained_graph.client()
    val_mae = {key: client.get_run(run).data.metrics["val_mae"] for key, run in candidate_runs(trained_graph).items()}
    meta = metadata_of(trained_graph.promotion, "promoted_model")
    assert meta["winner"] == min(val_mae, key=val_mae.get)
    assert f"({val_mae[meta['winner']]:.3f})" in meta["why"]

    rows = meta["comparison"].splitlines()
    candidate_rows = [r for r in rows if r.startswith("| ") and "_model" in r]
    # Sorted best first by the selection metric, the winner bold and marked, each with its val_mae.
    assert [f"{v:.3f}" for v in sorted(val_mae.values())] == [r.split("|")[2].strip() for r in candidate_rows]
    assert sum("(winner)" in r for r in rows) == 1 and f"**{meta['winner']}** (winner)" in candidate_rows[0]
    for baseline in ("zero", "same_hour", "hour_dow"):
        assert any(r.startswith(f"| baseline: {baseline} |") for r in rows)


def test_candidate_sanity_passes_on_the_real_models(trained_graph):
    evaluations = {
        e.asset_key.to_user_string(): e
        for e in trained_graph.training.get_asset_check_evaluations()
        if e.check_name == "candidate_sanity"
    }
    assert sorted(evaluations) == sorted(MODEL_ASSET_KEYS)
    for key, evaluation in evaluations.items():
        assert evaluation.passed, (key, evaluation.description)
        assert evaluation.description == "finite, varying, complete"


def test_unmeetable_threshold_fails_the_blocking_gate_and_keeps_the_champion(trained_graph):
    client = trained_graph.client()
    before = registry.champion(client, MODEL_NAME)
    versions_before = len(client.search_model_versions(f"name='{MODEL_NAME}'"))
    result = trained_graph.materialize(
        dg.AssetSelection.assets("promoted_model", "dart_forecast"),
        settings=trained_graph.settings(gate_max_test_rmse=0.001),
        partition_key="2025-03-10",
        raise_on_error=False,
    )
    assert not result.success

    meta = metadata_of(result, "promoted_model")
    assert meta["gate_passed"] is False and meta["registry"] == f"unchanged: champion stays v{before.version}"
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == "rmse_gate" and not check.passed
    assert check.severity == dg.AssetCheckSeverity.ERROR
    assert "above the 0.001 $/MWh threshold" in check.description and "champion stays v1" in check.description
    assert check.metadata["max_test_rmse"].value == 0.001

    # Blocking: the forecast was planned in the same run but never started (its upstream step did succeed).
    assert "dart_forecast" in {node.name for node in result.job_def.nodes_in_topological_order}
    started = {e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_START}
    assert started == {"promoted_model", "promoted_model_rmse_gate"}
    assert result.asset_materializations_for_node("dart_forecast") == []

    after = registry.champion(client, MODEL_NAME)
    assert str(after.version) == str(before.version) == "1"
    assert len(client.search_model_versions(f"name='{MODEL_NAME}'")) == versions_before


def test_rmse_gate_is_declared_blocking():
    [spec] = rmse_gate.check_specs
    assert spec.blocking and spec.asset_key == dg.AssetKey("promoted_model")


def test_no_candidates_is_a_clear_failure(tmp_path, fresh_tracking_uri):
    with pytest.raises(
        dg.Failure,
        match="no usable candidate model: materialize lgbm_model, xgb_model, lstm_model, ensemble_model and "
        "naive_model first",
    ):
        materialize(
            build_defs(settings_for(tmp_path, fresh_tracking_uri())),
            dg.AssetSelection.assets("promoted_model"),
            dg.DagsterInstance.ephemeral(),
        )


# Candidates with chosen metrics: MLflow runs plus reported materializations, as the training assets leave them.
def _metrics(val_mae: float, val_rmse: float, test_rmse: float, test_mae: float) -> dict[str, float]:
    return {
        "val_mae": val_mae,
        "val_rmse": val_rmse,
        "test_rmse": test_rmse,
        "test_mae": test_mae,
        "best_baseline_test_mae": 10.0,
        "test_mae_skill": 1 - test_mae / 10.0,
        "test_prediction_std": 1.0,
    }


def _fake_candidates(tracking_uri: str, instance: dg.DagsterInstance, metrics: dict[str, dict]) -> dict[str, str]:
    client = MlflowClient(tracking_uri)
    experiment = client.create_experiment("fake-candidates")
    runs = {}
    for key, values in metrics.items():
        run = client.create_run(experiment)
        for name, value in values.items():
            client.log_metric(run.info.run_id, name, value)
        client.log_param(run.info.run_id, "family", key.removesuffix("_model"))
        client.set_terminated(run.info.run_id)
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                key, metadata={"mlflow_run_id": run.info.run_id, "bundle_uri": f"runs:/{run.info.run_id}/bundle"}
            )
        )
        runs[key] = run.info.run_id
    return runs


@pytest.fixture
def fake_candidates(tmp_path, fresh_tracking_uri):
    uri, instance = fresh_tracking_uri(), dg.DagsterInstance.ephemeral()
    metrics = {
        # Best on test but not on validation: must not win.
        "lgbm_model": _metrics(val_mae=5.0, val_rmse=6.5, test_rmse=3.0, test_mae=2.0),
        "xgb_model": _metrics(val_mae=4.0, val_rmse=7.0, test_rmse=8.0, test_mae=6.0),
        # Best on validation but without a test skill: not usable.
        "lstm_model": {k: v for k, v in _metrics(1.0, 1.0, 1.0, 1.0).items() if k != "test_mae_skill"},
    }
    return uri, instance, _fake_candidates(uri, instance, metrics)


@pytest.mark.parametrize(("selection_metric", "winner"), [("val_mae", "xgb_model"), ("val_rmse", "lgbm_model")])
def test_selection_uses_the_validation_metric_never_test(tmp_path, fake_candidates, selection_metric, winner):
    uri, instance, runs = fake_candidates
    # A gate nobody passes: selection is observable without registering the fake runs.
    gate = PromotionGate(max_test_rmse=0.001, selection_metric=selection_metric)
    result = materialize(
        build_defs(settings_for(tmp_path, uri)),
        dg.AssetSelection.assets("promoted_model"),
        instance,
        resources={"gate": gate},
        raise_on_error=False,
    )
    meta = metadata_of(result, "promoted_model")
    assert meta["winner"] == winner and meta["mlflow_run_id"] == runs[winner]
    assert "lstm_model" not in meta["comparison"] and "of 2 candidate(s)" in meta["why"]
    assert registry.champion(MlflowClient(uri), MODEL_NAME) is None


def test_invalid_selection_metric_is_refused_with_the_valid_ones():
    with pytest.raises(ValidationError, match=r"selection_metric\n  Input should be 'val_mae' or 'val_rmse'"):
        PromotionGate(selection_metric="test_mae")
    gate_config = build_defs(settings_for(".", "sqlite:///unused.db")).resources["gate"]
    field = type(gate_config).to_config_schema().as_field().config_type.fields["selection_metric"]
    assert sorted(v.config_value for v in field.config_type.enum_values) == ["val_mae", "val_rmse"]  # a dropdown


def _summary(metrics: dict[str, float]) -> TrainingSummary:
    return TrainingSummary(
        family="lgbm",
        mlflow_run_id="r1",
        bundle_uri="runs:/r1/bundle",
        output_uri="/models/lgbm/r1",
        metrics=metrics,
        comparison_md="",
        n_train=80,
        n_val=10,
        n_test=10,
        split_boundaries={},
        best_iteration=3,
        train_seconds=0.1,
        feature_importance_md=None,
        plot_png_base64="",
    )


def test_candidate_sanity_fails_on_constant_predictions_missing_bundle_and_bad_metrics():
    good = _summary(_metrics(4.0, 5.0, 5.0, 4.0))
    assert candidate_problems(good) == []
    constant = _summary({**good.metrics, "test_prediction_std": 0.0})
    assert candidate_problems(constant) == ["test predictions are constant"]
    assert candidate_problems(replace(good, bundle_uri="")) == ["missing bundle_uri"]
    assert candidate_problems(_summary({**good.metrics, "test_rmse": float("nan")})) == [
        "test_rmse is not finite (nan)"
    ]
    missing_metric = {k: v for k, v in good.metrics.items() if k != "val_mae"}
    assert candidate_problems(_summary(missing_metric)) == ["val_mae is not finite (None)"]


def test_a_failed_first_promotion_says_there_is_no_champion_yet(tmp_path, fake_candidates):
    uri, instance, _ = fake_candidates
    result = materialize(
        build_defs(settings_for(tmp_path, uri, gate_max_test_rmse=0.001)),
        dg.AssetSelection.assets("promoted_model"),
        instance,
        raise_on_error=False,
    )
    assert metadata_of(result, "promoted_model")["registry"] == "unchanged: champion stays (none)"
    [check] = result.get_asset_check_evaluations()
    assert not check.passed and check.description.startswith("RMSE gate failed: test RMSE 8.00 $/MWh is above")
    assert "vNone" not in check.description and check.metadata["champion_version"].value != "None"


def test_a_point_below_the_floor_fails_the_gate_and_the_check_names_it(tmp_path, fresh_tracking_uri):
    uri, instance = fresh_tracking_uri(), dg.DagsterInstance.ephemeral()
    good = _metrics(val_mae=4.0, val_rmse=7.0, test_rmse=8.0, test_mae=6.0)  # 40% pooled skill
    _fake_candidates(
        uri, instance, {"xgb_model": {**good, "test_mae_skill_HB_NORTH": 0.5, "test_mae_skill_HB_WEST": -0.03}}
    )
    result = materialize(
        build_defs(settings_for(tmp_path, uri)),
        dg.AssetSelection.assets("promoted_model"),
        instance,
        raise_on_error=False,
    )
    [check] = result.get_asset_check_evaluations()
    assert not check.passed
    assert check.description.startswith("RMSE gate failed: HB_WEST -3.0%: MAE skill below the per-point floor of -2.0%")
    assert check.metadata["test_mae_skill_HB_WEST"].value == -0.03 and check.metadata["min_point_skill"].value == -0.02
    assert registry.champion(MlflowClient(uri), MODEL_NAME) is None
    # The floor comes from the settings (DART_GATE_MIN_POINT_SKILL); a lower one lets the same metrics pass (the
    # fake runs have no bundle to register, so the resource's verdict is checked directly).
    lenient = build_defs(settings_for(tmp_path, uri, gate_min_point_skill=-0.05)).resources["gate"]
    assert lenient.min_point_skill == -0.05
    assert lenient.evaluate({**good, "test_mae_skill_HB_NORTH": 0.5, "test_mae_skill_HB_WEST": -0.03}).passed
