"""Fixtures for tests that run the project as a user does, in a subprocess configured by its environment: an
isolated Dagster instance, storage folder and MLflow store. In-process tests build their definitions from an
explicit `Settings` instead of touching the environment.

Nothing here is autouse; a test asks for what it needs. One hook isolates every test from Dagster state another
test left current (see `pytest_runtest_protocol`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster._core.storage.defs_state.base import set_defs_state_storage


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[object]:
    """Every test starts with no current Dagster defs state storage and leaves none behind. An instance that is
    entered and never exited (a schedule or sensor context opens one from an instance's ref) stays Dagster's current
    storage after the instance is garbage-collected; a later, unrelated test then fails on a dead weak reference
    when it builds definitions, depending on when the collector ran."""
    with set_defs_state_storage(None):
        return (yield)


@pytest.fixture
def dart_env(monkeypatch) -> pytest.MonkeyPatch:
    """No DART_* variable from the developer's shell leaks into the test; returns monkeypatch to set some."""
    for name in list(os.environ):
        if name.startswith("DART_"):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def dagster_home(tmp_path, monkeypatch) -> Path:
    """DAGSTER_HOME pointing at a fresh folder with an empty dagster.yaml (local SQLite run/event storage)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@pytest.fixture
def storage(tmp_path, monkeypatch) -> Path:
    """DART_STORAGE (asset files) and MLFLOW_TRACKING_URI (a SQLite file beside them) under tmp_path."""
    path = tmp_path / "storage"
    path.mkdir()
    monkeypatch.setenv("DART_STORAGE", str(path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return path


@pytest.fixture
def instance_dir(tmp_path) -> Iterator[Path]:
    """A temp folder for a Dagster instance's SQLite files: on tmpfs where there is one, so its many event writes
    (one per partition and asset in a range run) are not each a disk flush (4-7x faster on the reference machine's
    disk), else under tmp_path. Same storage, same behaviour; removed afterwards."""
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(prefix="dart_instance_", dir=shm if shm.is_dir() else tmp_path) as folder:
        yield Path(folder)


@pytest.fixture
def mlflow_env(monkeypatch):
    """MLflow's process-wide state restored after the test: the tracking URI, and the credential variables that
    `common.credentials.connect` sets from a URI with user:password. HTTP requests are not retried (MLflow's default
    backs off for minutes against a server that is down)."""
    import mlflow

    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    yield monkeypatch
    mlflow.set_tracking_uri(None)
