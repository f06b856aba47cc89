"""The morning forecast while MLflow is unreachable: served from the champion the promotion cached, and saying so;
on the session's trained graph (issue 16)."""

from __future__ import annotations

import json
import shutil

import dagster as dg
import pandas as pd
import pytest

from dart_assets.ml import MODEL_NAME
from dart_assets_tests.defs.dart.conftest import metadata_of
from dart_assets_tests.processes import free_port

DAY = "2025-03-10"
MARKET = ("dam_prices", "rtm_prices", "system_conditions", "driver_forecasts")


@pytest.fixture
def storage(trained_graph, tmp_path):
    """A storage sharing the session's market files, with a copy of the champion cache the promotion wrote."""
    root = tmp_path / "storage"
    root.mkdir()
    for table in MARKET:
        (root / table).symlink_to(trained_graph.storage / table)
    shutil.copytree(trained_graph.storage / "model_cache", root / "model_cache")
    return root


@pytest.fixture
def unreachable(mlflow_env) -> str:
    return f"http://desk:S3cret-pw@127.0.0.1:{free_port()}"


def _forecast(trained_graph, storage, **settings) -> dg.ExecuteInProcessResult:
    return trained_graph.materialize(
        dg.AssetSelection.assets("dart_forecast"),
        settings=trained_graph.settings(storage=str(storage), **settings),
        partition_key=DAY,
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def test_the_promotion_cached_the_champion_it_registered(trained_graph):
    cache = trained_graph.storage / "model_cache" / MODEL_NAME
    champion = trained_graph.client().get_model_version_by_alias(MODEL_NAME, "champion")
    [entry] = json.loads((cache / "champions.json").read_text())
    assert (entry["version"], entry["run_id"], entry["alias"]) == (str(champion.version), champion.run_id, "champion")
    assert (cache / f"v{champion.version}" / "metadata.json").is_file()


def test_forecast_with_mlflow_unreachable_is_served_from_the_cached_champion(trained_graph, storage, unreachable):
    reachable = _forecast(trained_graph, storage)
    assert reachable.success
    store = trained_graph.tracking_uri
    assert (
        metadata_of(reachable, "dart_forecast")["model_source"] == f"{MODEL_NAME} v1 @champion from MLflow at {store}"
    )
    from_registry = pd.read_parquet(storage / "dart_forecast" / f"{DAY}.parquet")

    down = _forecast(trained_graph, storage, mlflow_tracking_uri=unreachable)

    assert down.success
    port = unreachable.rsplit(":", 1)[1]
    meta = metadata_of(down, "dart_forecast")
    assert meta["model_source"] == f"MLflow unreachable at http://127.0.0.1:{port}: served from cached champion v1"
    assert meta["model"] == metadata_of(reachable, "dart_forecast")["model"]
    pd.testing.assert_frame_equal(pd.read_parquet(storage / "dart_forecast" / f"{DAY}.parquet"), from_registry)
    warnings = [e.message for e in down.all_events if e.event_type == dg.DagsterEventType.ENGINE_EVENT] + [
        str(e) for e in down.all_events
    ]
    assert not any("S3cret-pw" in text for text in warnings)


def test_forecast_with_mlflow_unreachable_and_no_cache_fails_naming_the_store(trained_graph, tmp_path, unreachable):
    root = tmp_path / "storage"
    root.mkdir()
    for table in MARKET:
        (root / table).symlink_to(trained_graph.storage / table)
    result = _forecast(trained_graph, root, mlflow_tracking_uri=unreachable)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.user_failure_data.description
    port = unreachable.rsplit(":", 1)[1]
    assert message.startswith(f"MLflow unreachable at http://127.0.0.1:{port}: API request to ")
    assert message.endswith(f"and no champion of {MODEL_NAME} is cached in {root / 'model_cache' / MODEL_NAME}")
    assert "S3cret-pw" not in str(failure)
