"""The champion cache: what `resolve_champion_bundle` serves when MLflow cannot be reached, and what it refuses."""

from __future__ import annotations

import json
import subprocess
import sys

import mlflow
import pytest

from dart_assets.common import registry
from dart_assets.common.tracking import TrackingUnreachableError
from dart_assets.ml import champion
from dart_assets.ml.artifacts import load_bundle
from dart_assets.ml.champion import CHAMPIONS_FILE, remember, resolve_champion_bundle
from dart_assets_tests.processes import free_port

MODEL = "dart-test-model"


@pytest.fixture(scope="module")
def bundle(small_frame, feature_columns, tmp_path_factory):
    """One small LightGBM bundle (the cache treats every family's bundle alike)."""
    from dart_assets.ml.training import train_model
    from dart_assets_tests.ml.conftest import QUICK_PARAMS

    out = tmp_path_factory.mktemp("lgbm")
    return train_model("lgbm", small_frame, feature_columns, out, params=QUICK_PARAMS["lgbm"]).bundle_dir


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """One migrated SQLite MLflow store for the module (each test registers its own model name)."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"
    mlflow.MlflowClient(uri).search_experiments()
    return uri


def _registered(store: str, bundle, name: str, alias: str) -> str:
    """A run holding `bundle` under bundle/, registered as `name` and pointed at by `alias`; returns the run id."""
    client = mlflow.MlflowClient(store)
    experiment = client.create_experiment(name)
    run = client.create_run(experiment).info.run_id
    client.log_artifacts(run, str(bundle), "bundle")
    if alias == registry.CHAMPION:
        registry.promote(client, name, f"runs:/{run}/model", run, {})
    else:
        client.create_registered_model(name)
        version = client.create_model_version(name, f"runs:/{run}/model", run_id=run)
        client.set_registered_model_alias(name, alias, version.version)
    return run


@pytest.fixture
def down(mlflow_env) -> str:
    """An MLflow URI with a password, where nothing listens."""
    return f"http://desk:S3cret-pw@127.0.0.1:{free_port()}"


def entries(cache) -> list[dict]:
    return json.loads((cache / MODEL / CHAMPIONS_FILE).read_text())


def test_unreachable_mlflow_serves_the_last_cached_champion_and_says_so(bundle, tmp_path, down):
    cache = tmp_path / "cache"
    remember(str(cache), MODEL, "3", "run-3", "champion", bundle, observed="2025-03-01T09:00:00+00:00")
    remember(str(cache), MODEL, "4", "run-4", "champion", bundle, observed="2025-03-02T09:00:00+00:00")
    warnings: list[str] = []

    served = resolve_champion_bundle(down, MODEL, str(cache), warn=warnings.append)

    port = down.rsplit(":", 1)[1]
    assert (served.version, served.run_id, served.cached) == ("4", "run-4", True)
    assert served.source == f"MLflow unreachable at http://127.0.0.1:{port}: served from cached champion v4"
    [warning] = warnings
    assert warning.startswith(served.source) and "S3cret-pw" not in warning
    assert served.model.metadata == load_bundle(bundle).metadata
    # The cache is the bundle itself: its files and metadata.json, nothing else.
    assert sorted(p.name for p in (cache / MODEL / "v4").iterdir()) == sorted(p.name for p in bundle.iterdir())


def test_an_older_observation_never_demotes_a_newer_champion(bundle, tmp_path):
    """A forecast that read v1 just before a promotion to v2 records it after the promotion did."""
    cache = tmp_path / "cache"
    remember(str(cache), MODEL, "2", "run-2", "champion", bundle, observed="2025-03-02T09:00:00+00:00")
    remember(str(cache), MODEL, "1", "run-1", "champion", bundle, observed="2025-03-02T08:59:59+00:00")
    assert [e["version"] for e in entries(cache)] == ["2", "1"]
    remember(str(cache), MODEL, "1", "run-1", "champion", bundle, observed="2025-03-03T09:00:00+00:00")  # rollback
    assert [e["version"] for e in entries(cache)] == ["1", "2"]


def test_only_the_last_champions_are_kept(bundle, tmp_path):
    cache = tmp_path / "cache"
    for version in range(1, champion.KEEP + 3):
        remember(str(cache), MODEL, str(version), f"run-{version}", "champion", bundle, f"2025-03-{version:02d}")
    kept = [str(v) for v in range(champion.KEEP + 2, 2, -1)]
    assert [e["version"] for e in entries(cache)] == kept
    assert sorted(p.name for p in (cache / MODEL).iterdir() if p.is_dir()) == sorted(f"v{v}" for v in kept)


def test_a_damaged_cached_bundle_is_refused_and_the_next_one_serves(bundle, tmp_path, down):
    cache = tmp_path / "cache"
    remember(str(cache), MODEL, "1", "run-1", "champion", bundle, observed="2025-03-01T09:00:00+00:00")
    remember(str(cache), MODEL, "2", "run-2", "champion", bundle, observed="2025-03-02T09:00:00+00:00")
    damaged = sorted(json.loads((cache / MODEL / "v2" / "metadata.json").read_text())["files"])[0]
    (cache / MODEL / "v2" / damaged).write_bytes(b"damaged")

    served = resolve_champion_bundle(down, MODEL, str(cache), warn=lambda _: None)
    assert served.version == "1"

    (cache / MODEL / "v1" / damaged).write_bytes(b"damaged")
    with pytest.raises(TrackingUnreachableError, match=rf"no cached champion loads: v2 refused: .*{damaged}: sha256"):
        resolve_champion_bundle(down, MODEL, str(cache), warn=lambda _: None)


def test_unreachable_without_a_cache_fails_naming_the_store(tmp_path, down):
    port = down.rsplit(":", 1)[1]
    with pytest.raises(TrackingUnreachableError) as failure:
        resolve_champion_bundle(down, MODEL, str(tmp_path / "empty"))
    message = str(failure.value)
    assert message.startswith(f"MLflow unreachable at http://127.0.0.1:{port}: API request to")
    assert message.endswith(f"and no champion of {MODEL} is cached in {tmp_path / 'empty' / MODEL}")
    assert "S3cret-pw" not in message


def test_a_reachable_registry_serves_its_champion_and_caches_it(bundle, store, tmp_path, mlflow_env):
    name = f"{MODEL}-reachable"
    run = _registered(store, bundle, name, registry.CHAMPION)
    cache = tmp_path / "cache"
    served = resolve_champion_bundle(store, name, str(cache))
    assert (served.version, served.run_id, served.cached) == ("1", run, False)
    assert served.source == f"{name} v1 @champion from MLflow at {store}"
    cached = json.loads((cache / name / CHAMPIONS_FILE).read_text())
    assert [(e["version"], e["run_id"], e["alias"]) for e in cached] == [("1", run, "champion")]
    assert resolve_champion_bundle(store, "never-registered", str(cache)) is None


def test_the_fallback_aliases_are_tried_in_order(bundle, store, mlflow_env):
    name = f"{MODEL}-fallback"
    run = _registered(store, bundle, name, "fallback")
    assert resolve_champion_bundle(store, name, None) is None
    served = resolve_champion_bundle(store, name, None, aliases=("champion", "fallback"))
    assert (served.alias, served.version, served.run_id) == ("fallback", "1", run)


def test_an_unchanged_sqlite_store_serves_the_cached_champion_without_importing_mlflow(bundle, tmp_path, mlflow_env):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cache = str(tmp_path / "cache")
    name = f"{MODEL}-fast"
    first_run = _registered(store, bundle, name, registry.CHAMPION)
    read = resolve_champion_bundle(store, name, cache)
    assert read.source == f"{name} v1 @champion from MLflow at {store}"

    # Another process (the next morning's run): the store's file is unchanged, so neither MLflow nor a download.
    script = (
        "import json, sys\n"
        "from dart_assets.ml.champion import resolve_champion_bundle\n"
        f"served = resolve_champion_bundle({store!r}, {name!r}, {cache!r})\n"
        "print(json.dumps([served.version, served.run_id, served.source, 'mlflow' in sys.modules]))\n"
    )
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert json.loads(output.splitlines()[-1]) == [
        "1",
        first_run,
        f"{name} v1 @champion from MLflow at {store} (registry unchanged since the cache read it)",
        False,
    ]

    # Any write to the store (a promotion here; an alias moved in the MLflow UI alike) makes it ask the registry.
    client = mlflow.MlflowClient(store)
    second_run = client.create_run(client.get_experiment_by_name(name).experiment_id).info.run_id
    client.log_artifacts(second_run, str(bundle), "bundle")
    registry.promote(client, name, f"runs:/{second_run}/model", second_run, {})
    served = resolve_champion_bundle(store, name, cache)
    assert (served.version, served.run_id, served.source) == (
        "2",
        second_run,
        f"{name} v2 @champion from MLflow at {store}",
    )
    registry.rollback(client, name)
    assert resolve_champion_bundle(store, name, cache).version == "1"


def test_a_damaged_cached_champion_is_replaced_from_the_registry(bundle, tmp_path, mlflow_env):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cache = tmp_path / "cache"
    name = f"{MODEL}-mended"
    _registered(store, bundle, name, registry.CHAMPION)
    resolve_champion_bundle(store, name, str(cache))
    damaged = sorted(json.loads((cache / name / "v1" / "metadata.json").read_text())["files"])[0]
    (cache / name / "v1" / damaged).write_bytes(b"damaged")
    warnings: list[str] = []

    served = resolve_champion_bundle(store, name, str(cache), warn=warnings.append)

    assert served.version == "1" and served.model.metadata == load_bundle(bundle).metadata
    [warning] = warnings
    assert f"cached {name} v1" in warning and "sha256" in warning and "using the registry's copy" in warning
    assert (cache / name / "v1" / damaged).read_bytes() == (bundle / damaged).read_bytes()  # cached again, whole
