"""The family registry: what every family must declare, so that generic code needs nothing else."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
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
    assert history == {"lgbm": 1, "xgb": 1, "lstm": 24, "ensemble": 1, "naive": 1}
    assert families.get("lstm").history_hours({"lookback": 48}) == 48


def test_an_unknown_family_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown model family 'rf'; expected one of lgbm, xgb, lstm, ensemble, naive"):
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


def test_the_naive_family_serves_each_points_best_validation_baseline():
    from dart_assets.common.split import chronological_split
    from dart_assets.ml.dataset import FeatureTransform
    from dart_assets.ml.naive import NaiveModel
    from dart_assets_tests.ml.conftest import FEATURES, make_hourly_features

    frame = make_hourly_features(days=30).dropna(subset=["dart"])
    # HB_WEST's DART repeats its hour-of-week shape exactly; the others' is noise around zero.
    west = frame["settlement_point"] == "HB_WEST"
    frame.loc[west, "dart"] = 10.0 * np.sin(frame.loc[west, "hour_ending"] / 3.0)
    frame.loc[~west, "dart"] = np.random.default_rng(0).normal(0, 5, (~west).sum())
    split = chronological_split(frame, "timestamp_utc")
    fit = NaiveModel.fit(split, FeatureTransform.fit(split.train, FEATURES), {}, 0, 1, lambda m: None)
    model = fit.model
    assert model.choice["HB_WEST"] == "hour_dow" and model.choice["HB_NORTH"] == "zero"
    assert model.baseline() == "hour-of-week median (HB_WEST), zero spread (HB_NORTH, LZ_HOUSTON)"
    predicted = model.predict(split.test)
    np.testing.assert_allclose(predicted.loc[split.test.index[~west.loc[split.test.index]], "p50"], 0.0)
    # The band is the validation errors' 10%-90% range of each point's chosen baseline.
    errors = split.val.loc[split.val["settlement_point"] == "HB_NORTH", "dart"]
    assert model.band["HB_NORTH"] == pytest.approx(tuple(np.quantile(errors, [0.1, 0.9])))
    # A point validation never saw gets the choice and band of all validation rows.
    unseen = model.predict(split.test.assign(settlement_point="HB_PAN"))
    assert unseen["p90"].sub(unseen["p50"]).eq(model.band["*"][1]).all()


def test_the_ensemble_is_the_mean_of_its_members(trained, small_frame):
    result, _ = trained
    if result.family != "ensemble":
        pytest.skip("ensemble only")
    rows = small_frame.iloc[-100:]
    members = [m.predict(rows) for m in result.fitted.members.values()]
    assert sorted(result.fitted.members) == ["lgbm", "xgb"]
    pd.testing.assert_frame_equal(result.fitted.predict(rows), (members[0] + members[1]) / 2)
