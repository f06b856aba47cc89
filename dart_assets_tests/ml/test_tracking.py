import mlflow
import pandas as pd
import pytest

from dart_assets.ml.tracking import load_bundle_from_run, log_training_run
from dart_assets_tests.ml.conftest import TRAINING_NAMES, served_rows

FLAVORS = {
    "lgbm": "lightgbm",
    "xgb": "xgboost",
    "lstm": "pytorch",
    "ensemble": "python_function",
    "naive": "python_function",
}


@pytest.fixture(scope="module")
def tracking(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{root}/mlflow.db")
    mlflow.create_experiment("dart-test", artifact_location=str(root / "artifacts"))
    yield root
    mlflow.set_tracking_uri(previous)


def test_run_has_metrics_artifacts_and_flavored_model(tracking, trained, small_frame, tmp_path):
    result, _ = trained
    experiment_id = mlflow.get_experiment_by_name("dart-test").experiment_id
    with mlflow.start_run(experiment_id=experiment_id) as parent:
        pass
    run_id = log_training_run(
        result, "dart-test", f"{result.family}-run", {"trigger": "test"}, parent_run_id=parent.info.run_id
    )
    run = mlflow.get_run(run_id)
    assert set(run.data.metrics) >= TRAINING_NAMES
    assert run.data.metrics["test_mae"] == pytest.approx(result.metrics["test_mae"])
    assert run.data.tags["trigger"] == "test" and run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert run.data.params["family"] == result.family
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run_id)}
    assert {"bundle", "comparison.csv", result.plot_png.name} <= artifacts
    models = mlflow.search_logged_models(
        experiment_ids=[experiment_id], filter_string=f"source_run_id = '{run_id}'", output_format="list"
    )
    assert [m.name for m in models] == ["model"]
    info = mlflow.models.get_model_info(f"models:/{models[0].model_id}")
    assert FLAVORS[result.family] in info.flavors and info.signature is not None
    loaded = load_bundle_from_run(run_id, tmp_path)
    assert loaded.family == result.family
    rows = served_rows(result, small_frame)
    pd.testing.assert_frame_equal(
        loaded.predict(rows).loc[result.test_predictions.index], result.test_predictions, check_exact=True
    )
    if info.flavors.keys() == {"python_function"}:  # the bundle itself, as a pyfunc: the served forecast
        pyfunc = mlflow.pyfunc.load_model(f"models:/{models[0].model_id}")
        served = pyfunc.predict(rows[list(info.signature.inputs.input_names())])
        pd.testing.assert_frame_equal(served.loc[result.test_predictions.index], result.test_predictions)
