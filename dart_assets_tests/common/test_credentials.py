"""Credentials in an MLflow URI never reach what MLflow prints, logs or raises; an outage is told from an answer."""

from __future__ import annotations

import os

import mlflow
import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos import databricks_pb2 as codes

from dart_assets.common.credentials import connect, split_credentials, strip_credentials
from dart_assets.common.tracking import TrackingUnreachableError, unreachable
from dart_assets_tests.processes import free_port


@pytest.mark.parametrize(
    ("text", "stripped"),
    [
        ("https://desk:S3cret@mlflow.internal:5000", "https://mlflow.internal:5000"),
        (
            "API request to http://u:p@127.0.0.1:9/api/2.0 failed; retry http://u:p@h/x",
            "API request to http://127.0.0.1:9/api/2.0 failed; retry http://h/x",
        ),
        ("postgresql+psycopg2://dart:pw@db:5432/mlflow", "postgresql+psycopg2://db:5432/mlflow"),
        ("https://token@host/path", "https://host/path"),
        # A container, not a user: abfss URIs stay whole.
        ("abfss://dart-assets@dartlake.dfs.core.windows.net/x", "abfss://dart-assets@dartlake.dfs.core.windows.net/x"),
        ("sqlite:////tmp/mlflow.db", "sqlite:////tmp/mlflow.db"),
    ],
)
def test_strip_credentials(text, stripped):
    assert strip_credentials(text) == stripped


def test_split_credentials_decodes_them():
    assert split_credentials("https://desk%40ercot:p%3Ass%40@host:5000/x") == (
        "https://host:5000/x",
        "desk@ercot",
        "p:ss@",
    )
    assert split_credentials("http://host:5000") == ("http://host:5000", None, None)


def test_connect_moves_the_password_out_of_every_url_mlflow_uses(mlflow_env):
    port = free_port()  # nothing listens there
    store = connect(f"http://desk:S3cret-pw@127.0.0.1:{port}")
    assert store == mlflow.get_tracking_uri() == f"http://127.0.0.1:{port}"
    assert (os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"]) == ("desk", "S3cret-pw")
    with pytest.raises(MlflowException) as raised:
        mlflow.MlflowClient(store).get_experiment_by_name("x")
    assert "S3cret-pw" not in str(raised.value) and f"127.0.0.1:{port}" in str(raised.value)


def test_connect_leaves_database_uris_whole(tmp_path, mlflow_env):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert connect(uri) == uri


@pytest.mark.parametrize(
    ("error", "down"),
    [
        (MlflowException("API request to http://h failed", error_code=codes.INTERNAL_ERROR), True),
        (MlflowException("busy", error_code=codes.TEMPORARILY_UNAVAILABLE), True),
        (MlflowException("Registered Model with name=m not found", error_code=codes.RESOURCE_DOES_NOT_EXIST), False),
        (
            MlflowException("Registered model alias champion not found.", error_code=codes.INVALID_PARAMETER_VALUE),
            False,
        ),
        (ConnectionRefusedError("refused"), True),
        (ValueError("a bug, not an outage"), False),
    ],
)
def test_an_outage_is_told_from_an_answer(error, down):
    found = unreachable("https://desk:pw@mlflow.internal", error)
    assert (found is not None) is down
    if down:
        assert isinstance(found, TrackingUnreachableError)
        assert str(found).startswith("MLflow unreachable at https://mlflow.internal: ")
        assert "pw" not in found.store
