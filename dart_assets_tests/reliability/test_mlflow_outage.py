"""Training while the MLflow server cannot be reached: the step fails (after its retry) with a message naming the
server, without the password in its URI, and nothing is trained or written."""

from __future__ import annotations

from unittest import mock

import dagster as dg
import pytest

from dart_assets.defs import build_defs
from dart_assets.settings import Settings
from dart_assets_tests.processes import free_port


@pytest.fixture
def lgbm_model_one_quick_retry():
    """Production's lgbm_model with one retry and no backoff (the real policy waits 30 s, then 60 s, ...)."""
    from dart_assets.defs.dart import training
    from dart_assets.ml.families import FAMILIES

    with mock.patch.object(training, "TRAINING_RETRY_POLICY", dg.RetryPolicy(max_retries=1)):
        return training.build_model_asset(FAMILIES["lgbm"], "local")


def test_training_with_mlflow_unreachable_fails_naming_the_server(tmp_path, mlflow_env, lgbm_model_one_quick_retry):
    port = free_port()  # nothing listens there
    uri = f"http://desk:S3cret-pw@127.0.0.1:{port}"
    resources = build_defs(Settings(storage=str(tmp_path / "storage"), mlflow_tracking_uri=uri)).resources
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([lgbm_model_one_quick_retry], resources=resources, instance=instance, raise_on_error=False)

    assert not result.success
    events = result.all_events
    assert sum(e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY for e in events) == 1  # an outage may pass
    [failure] = [e for e in events if e.is_step_failure]
    message = failure.step_failure_data.user_failure_data.description
    assert message.startswith(
        f"lgbm training cannot start: MLflow unreachable at http://127.0.0.1:{port}: API request to "
        f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/get-by-name failed"
    )
    error = failure.step_failure_data.error  # "Exceeded max_retries of 1", caused by the Failure above
    assert error.cause.cls_name == "Failure" and error.cause.cause is None  # no chained error carrying the URI
    everything = "\n".join(str(e) for e in instance.all_logs(result.run_id))
    assert f"127.0.0.1:{port}" in everything and "S3cret-pw" not in everything
    assert not (tmp_path / "storage" / "models").exists()
