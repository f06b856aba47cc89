"""Fixtures standing in for Azure at the SDK boundary: a storage account on a temp folder and a local MLClient.

Imported by name into the test modules (and the conftest here) that need them.
"""

from __future__ import annotations

import importlib
import io

import pandas as pd
import pytest

from dart_assets_tests.fakes.azure_shim import fake_storage
from dart_assets_tests.fakes.fake_azureml import FakeMLClient

ACCOUNT = "dartlake"
CONTAINER = "dart-assets"
STORAGE = f"abfss://{CONTAINER}@{ACCOUNT}.dfs.core.windows.net/"
BLOB_URL = f"https://{ACCOUNT}.blob.core.windows.net"
POINTS = ("HB_HOUSTON", "HB_NORTH")


@pytest.fixture
def fake_account(tmp_path, monkeypatch):
    """The folder behind `STORAGE`: abfss:// paths and Blob clients of this process (and jobs) land here."""
    root = tmp_path / "azure-storage"
    container = root / ACCOUNT / CONTAINER
    container.mkdir(parents=True)
    monkeypatch.setenv(fake_storage.ROOT_ENV, str(root))
    monkeypatch.setattr("azure.storage.blob.BlobServiceClient", fake_storage.FakeBlobServiceClient)
    registry = importlib.import_module("fsspec.registry")._registry  # restored by monkeypatch
    monkeypatch.setitem(registry, "abfss", fake_storage.fake_adls_class())
    return container


@pytest.fixture
def ml_client(fake_account, tmp_path, monkeypatch):
    """The fake MLClient every `azure.ai.ml.MLClient(...)` call returns in this test; its jobs die with the test."""
    logs = tmp_path / "job-logs"
    logs.mkdir()
    client = FakeMLClient(storage_root=fake_account.parent.parent, log_dir=logs)
    monkeypatch.setattr("azure.ai.ml.MLClient", client.connect)
    yield client
    client.stop_all()


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory) -> str:
    """One migrated SQLite tracking store for the session: creating one costs ~5 s."""
    import mlflow

    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    mlflow.MlflowClient(uri).search_experiments()
    return uri


@pytest.fixture(scope="session")
def features_parquet() -> bytes:
    """30 days of synthetic hourly_features for two hubs: enough for a 20-round LightGBM."""
    from dart_assets.features import build_features
    from dart_assets.market.synthetic import generate

    market = generate("2025-01-01", "2025-01-30", POINTS)
    frame = build_features(market["dam_prices"], market["rtm_prices"], market["system_conditions"], POINTS)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def known_rows(parquet: bytes) -> int:
    """Rows the trainer can learn from (a known DART)."""
    return int(pd.read_parquet(io.BytesIO(parquet))["dart"].notna().sum())


def assert_round_trips(job, folder) -> None:
    """The job serialises as the real client sends it, and its YAML loads back as the same command job."""
    from azure.ai.ml import load_job

    assert job._to_dict()["type"] == "command"
    as_job = job._to_job()
    assert as_job._to_rest_object().properties.command == job.command
    as_job.dump(folder / f"{job.name}.yml")
    loaded = load_job(folder / f"{job.name}.yml")
    assert (
        loaded.name,
        loaded.display_name,
        loaded.experiment_name,
        loaded.command,
        loaded.compute,
        loaded.environment_variables,
        loaded.code,
        loaded.identity.type,
    ) == (
        job.name,
        job.display_name,
        job.experiment_name,
        job.command,
        job.compute,
        job.environment_variables,
        job.code,
        "managed_identity",
    )
    assert loaded.environment == job.environment.removeprefix("azureml:")
