"""champion/previous aliases and rollback on a real SQLite MLflow registry."""

import datetime as dt
import json
import multiprocessing
import os
import time
import uuid

import pytest
from mlflow import MlflowClient

from dart_assets.common import registry


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> MlflowClient:
    return MlflowClient(f"sqlite:///{tmp_path_factory.mktemp('registry') / 'mlflow.db'}")


@pytest.fixture
def model(client, tmp_path):
    """A fresh model name with a run and a source folder per version to register."""
    name = f"dart-test-{uuid.uuid4().hex[:8]}"
    experiment = client.create_experiment(name)

    def promote(label: str):
        run = client.create_run(experiment).info.run_id
        source = tmp_path / label
        source.mkdir()
        return run, registry.promote(client, name, str(source), run, {"source_asset": label, "val_mae": 1.5})

    return name, promote


def aliases(client, name) -> dict[str, str]:
    return {
        alias: str(registry.by_alias(client, name, alias).version)
        for alias in (registry.CHAMPION, registry.PREVIOUS)
        if registry.by_alias(client, name, alias)
    }


def test_nothing_promoted_yet_means_no_champion(client):
    assert registry.champion(client, "never-registered") is None


def test_first_promotion_is_champion_v1_with_string_tags(client, model):
    name, promote = model
    run, version = promote("lgbm_model")
    assert str(version.version) == "1" and version.run_id == run
    assert version.tags == {"source_asset": "lgbm_model", "val_mae": "1.5"}
    assert aliases(client, name) == {"champion": "1"}
    assert registry.champion(client, name).run_id == run


def test_second_promotion_keeps_the_first_as_previous(client, model):
    name, promote = model
    promote("lgbm_model")
    run2, version = promote("xgb_model")
    assert str(version.version) == "2"
    assert aliases(client, name) == {"champion": "2", "previous": "1"}
    assert registry.champion(client, name).run_id == run2
    promote("lstm_model")
    assert aliases(client, name) == {"champion": "3", "previous": "2"}


def test_rollback_swaps_and_a_second_rollback_undoes_it(client, model):
    name, promote = model
    run1, _ = promote("lgbm_model")
    run2, _ = promote("xgb_model")
    new_champion, new_previous = registry.rollback(client, name)
    assert (str(new_champion.version), str(new_previous.version)) == ("1", "2")
    assert aliases(client, name) == {"champion": "1", "previous": "2"}
    assert registry.champion(client, name).run_id == run1
    registry.rollback(client, name)
    assert aliases(client, name) == {"champion": "2", "previous": "1"}
    assert registry.champion(client, name).run_id == run2


def test_rollback_without_previous_raises(client, model):
    name, promote = model
    with pytest.raises(LookupError, match="rollback needs both a 'champion' and a 'previous' version"):
        registry.rollback(client, name)
    promote("lgbm_model")
    with pytest.raises(LookupError, match=f"{name}: rollback needs both"):
        registry.rollback(client, name)
    assert aliases(client, name) == {"champion": "1"}


def test_the_champion_at_a_past_time_is_the_last_version_promoted_by_then(client, model, tmp_path):
    name, promote = model
    stamp = lambda day: {registry.PROMOTED_AT_TAG: f"{day}T14:00:00+00:00"}  # noqa: E731
    experiment = client.get_experiment_by_name(name).experiment_id
    for label, day in (("lgbm_model", "2025-02-01"), ("xgb_model", "2025-03-01")):
        run = client.create_run(experiment).info.run_id
        (tmp_path / label).mkdir()
        registry.promote(client, name, str(tmp_path / label), run, stamp(day))
    # The naive fallback registered after a promotion is never "the champion then".
    run = client.create_run(experiment).info.run_id
    (tmp_path / "naive_model").mkdir()
    registry.set_fallback(client, name, str(tmp_path / "naive_model"), run, {})
    at = dt.datetime.fromisoformat
    history = registry.snapshot(client, name)
    assert history.by_alias(registry.FALLBACK).version == "3" and history.by_alias(registry.FALLBACK).fallback
    assert history.champion_at(at("2025-01-31T23:00:00+00:00")) is None
    assert history.champion_at(at("2025-02-01T14:00:00+00:00")).version == "1"
    assert history.champion_at(at("2025-02-20T00:00:00+00:00")).version == "1"
    assert history.champion_at(at("2025-03-02T00:00:00+00:00")).version == "2"
    now = dt.datetime.now(dt.UTC)
    assert history.champion_at(now + dt.timedelta(minutes=1)).version == "2"  # not the fallback v3
    # A version promoted without the tag counts from its registration, i.e. now.
    promote("lstm_model")
    history = registry.snapshot(client, name)
    assert history.champion_at(now + dt.timedelta(minutes=1)).version == "4"
    assert history.champion_at(now - dt.timedelta(days=1)).version == "2"
    assert history.by_alias(registry.CHAMPION).promoted_at <= dt.datetime.now(dt.UTC)
    assert history.aliases == {"champion": "4", "previous": "2", "fallback": "3"}
    assert registry.RegistrySnapshot.from_dict(json.loads(json.dumps(history.to_dict()))) == history
    assert registry.snapshot(client, "never-registered") is None


def _promote_many(uri: str, name: str, experiment: str, count: int, start) -> None:
    """A separate process promoting `count` new runs as fast as it can once all are ready (`start`, a barrier),
    against a store that answers with a server's latency (50 ms per registration)."""
    client = MlflowClient(uri)
    register = client.create_model_version

    def slow_register(*args, **kwargs):
        version = register(*args, **kwargs)
        time.sleep(0.05)
        return version

    client.create_model_version = slow_register
    runs = [client.create_run(experiment).info.run_id for _ in range(count)]
    start.wait(timeout=60)
    for run in runs:
        registry.promote(client, name, f"runs:/{run}/model", run, {"writer": str(os.getpid())})


def test_promotions_from_processes_at_once_leave_consistent_aliases(client):
    """Each promotion reads the champion, then moves two aliases; interleaved, `previous` could name a version
    that never was the champion just before the last one, or an older version could end up champion."""
    uri = client.tracking_uri
    name = f"dart-concurrent-{uuid.uuid4().hex[:8]}"
    experiment = client.create_experiment(name)
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    writers = [context.Process(target=_promote_many, args=(uri, name, experiment, 8, start)) for _ in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert [w.exitcode for w in writers] == [0, 0]

    versions = client.search_model_versions(f"name='{name}'")
    numbers = sorted(int(v.version) for v in versions)
    assert numbers == list(range(1, 17))
    assert len({v.tags["writer"] for v in versions}) == 2  # both wrote
    assert aliases(client, name) == {"champion": "16", "previous": "15"}
