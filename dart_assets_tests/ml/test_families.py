"""The family registry: what every family must declare, so that generic code needs nothing else."""

from __future__ import annotations

import json

import pytest

from dart_assets.ml import families
from dart_assets.ml.artifacts import library_versions
from dart_assets.ml.family import ModelFamily
from dart_assets.ml.summary import TrainingSummary


@pytest.mark.parametrize("name", list(families.FAMILIES))
def test_every_family_declares_what_generic_code_reads(name):
    family = families.get(name)
    assert issubclass(family, ModelFamily) and family.name == name
    assert family.label and family.flavor and family.compute in ("cpu", "gpu")
    assert library_versions()[family.library], f"{family.library} is not installed"
    assert set(family.tunable) <= set(family.default_params)
    assert family.history_hours(family.default_params) >= 1


def test_only_the_lstm_needs_history_before_the_predicted_hour():
    history = {name: f.history_hours(f.default_params) for name, f in families.FAMILIES.items()}
    assert history == {"lgbm": 1, "xgb": 1, "lstm": 24}
    assert families.get("lstm").history_hours({"lookback": 48}) == 48


def test_an_unknown_family_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown model family 'rf'; expected one of lgbm, xgb, lstm"):
        families.get("rf")


def test_the_training_summary_survives_its_json_wire_form():
    summary = TrainingSummary(
        family="xgb",
        mlflow_run_id="abc",
        bundle_uri="runs:/abc/bundle",
        output_uri="abfss://c@a.dfs.core.windows.net/models/xgb/r",
        metrics={"test_mae": 1.5, "val_mae": 1.25},
        comparison_md="| a |",
        n_train=8,
        n_val=1,
        n_test=1,
        split_boundaries={"train_start": "2025-01-01T00:00:00+00:00"},
        best_iteration=12,
        train_seconds=0.5,
        feature_importance_md=None,
        plot_png_base64="iVBORw0KGgo=",
    ).with_links(azureml_job_url="https://ml.azure.com/runs/x")
    assert TrainingSummary.from_dict(json.loads(json.dumps(summary.to_dict()))) == summary
    assert summary.with_links(mlflow_run_url="http://ui/run").azureml_job_url == "https://ml.azure.com/runs/x"
