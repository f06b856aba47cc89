"""No secret reaches a log, an event, metadata or a stored file. A small graph runs with fake secret values set the
way a deployment sets them: the ERCOT API sign-in (used against ERCOT faked at the HTTP boundary), an MLflow
server reached through a URI with a password in it (a real `mlflow server`), and an Azure storage key in the
environment. The market data comes through the ercot_api source; the trainer reads synthetic features (six days
of ERCOT postings are too few to train on). Then every file the runs left (the Dagster instance: run and event
storage, compute logs; the asset files and the ERCOT cache; the MLflow server's store and artifacts) and
everything printed or logged is searched for the values, raw and encoded.
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import uuid
from pathlib import Path

import dagster as dg
import mlflow
import pandas as pd
import pytest

from dart_assets.defs import build_defs
from dart_assets.features import build_features
from dart_assets.market.ercot_api import ErcotApiSource, RetryPolicy
from dart_assets.market.synthetic import generate
from dart_assets.settings import load_settings
from dart_assets_tests.market import ercot_fake
from dart_assets_tests.processes import free_port, get_json, log_tail, stop_groups

pytestmark = pytest.mark.slow

HUBS = "HB_HOUSTON,HB_NORTH,HB_WEST"
FIRST, LAST = "2024-03-07", "2024-03-12"  # the days ERCOT's fake has postings for
ERCOT_USER, ERCOT_PASSWORD, ERCOT_KEY = "desk-7f3a@example.com", "ercot-Pw-9Q2x!vault", "sub-key-51c0ffee77"
MLFLOW_USER, MLFLOW_PASSWORD = "dart-trainer", "mlflow-Pw-Z8kq!vault"
STORAGE_KEY = base64.b64encode(b"azure-storage-account-key-fake-0123456789").decode()


def _encodings(secret: str) -> set[bytes]:
    """The forms a secret could be written in: raw, URL-quoted, and inside a basic-auth header."""
    forms = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}
    forms.add(base64.b64encode(f"{MLFLOW_USER}:{secret}".encode()).decode())
    forms.add(base64.b64encode(f"{ERCOT_USER}:{secret}".encode()).decode())
    return {form.encode() for form in forms}


@pytest.fixture
def mlflow_server(tmp_path, fresh_tracking_uri):
    """`mlflow server` on 127.0.0.1 (it ignores the credentials; the point is what the clients do with them)."""
    port = free_port()
    db = fresh_tracking_uri()
    backend = tmp_path / "mlflow-server"
    backend.mkdir()
    shutil.copy(db.removeprefix("sqlite:///"), backend / "mlflow.db")
    log = tmp_path / "mlflow-server.log"
    marker = f"SECRETS_TEST_SERVER={uuid.uuid4().hex}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DART_", "DAGSTER_"))}
    env[marker.split("=", 1)[0]] = marker.split("=", 1)[1]
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                *(str(Path(sys.executable).parent / "mlflow"), "server"),
                *("--backend-store-uri", f"sqlite:///{backend / 'mlflow.db'}"),
                *("--artifacts-destination", str(backend / "artifacts"), "--serve-artifacts"),
                *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                get_json(f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search?max_results=1")
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, log_tail(log)
                time.sleep(0.5)
        yield port
    finally:
        stop_groups([[server]], marker=marker, grace_s=10)


def test_no_secret_reaches_logs_events_metadata_or_files(tmp_path, mlflow_server, mlflow_env, caplog, capfd):
    port = mlflow_server
    fake = ercot_fake.FakeErcot(
        ercot_fake.postings_2024(),
        now=pd.Timestamp("2024-10-01T17:00Z"),
        username=ERCOT_USER,
        password=ERCOT_PASSWORD,
        key=ERCOT_KEY,
    )
    real_init = ErcotApiSource.__init__

    def through_the_fake(self, cache_dir, credentials=None, **options):
        options.update(transport=fake, clock=lambda: fake.now, retry=RetryPolicy(base_delay=0.0))
        real_init(self, cache_dir, credentials, **options)

    mlflow_env.setattr(ErcotApiSource, "__init__", through_the_fake)
    home, storage = tmp_path / "dagster_home", tmp_path / "storage"
    home.mkdir()
    environment = {
        "DART_DATA_SOURCE": "ercot_api",
        "DART_SETTLEMENT_POINTS": HUBS,
        "DART_START_DATE": "2024-03-01",
        "DART_STORAGE": str(storage),
        "DART_GATE_MAX_TEST_RMSE": "10000",  # this test is about secrets, not about a 6-day model's skill
        "DART_GATE_MIN_SKILL": "-1",
        "ERCOT_API_USERNAME": ERCOT_USER,
        "ERCOT_API_PASSWORD": ERCOT_PASSWORD,
        "ERCOT_PUBLIC_API_SUBSCRIPTION_KEY": ERCOT_KEY,
        "MLFLOW_TRACKING_URI": f"http://{MLFLOW_USER}:{urllib.parse.quote(MLFLOW_PASSWORD)}@127.0.0.1:{port}",
        "AZURE_STORAGE_ACCOUNT_KEY": STORAGE_KEY,
        "AZURE_STORAGE_CONNECTION_STRING": f"AccountName=dartlake;AccountKey={STORAGE_KEY}",
    }
    for name, value in environment.items():
        mlflow_env.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    defs = build_defs(load_settings())
    instance = dg.DagsterInstance.local_temp(str(home))
    assets = [*(defs.assets or ()), *(defs.asset_checks or ())]
    market = dg.materialize(
        assets,
        selection=dg.AssetSelection.assets("dam_prices", "rtm_prices", "system_conditions", "driver_forecasts"),
        resources=defs.resources,
        instance=instance,
        tags={"dagster/asset_partition_range_start": FIRST, "dagster/asset_partition_range_end": LAST},
    )
    # Six days of ERCOT postings are too few to train on: the trainer reads synthetic features (what
    # hourly_features would write), the MLflow side (the URI with the password) is the point here.
    points = tuple(HUBS.split(","))
    synthetic = generate("2025-01-01", "2025-02-09", points)
    features = build_features(synthetic["dam_prices"], synthetic["rtm_prices"], synthetic["system_conditions"], points)
    features.to_parquet(storage / "hourly_features.parquet", index=False)
    training = dg.materialize(
        assets,
        selection=dg.AssetSelection.assets("lgbm_model", "promoted_model"),
        resources=defs.resources,
        instance=instance,
        run_config={"ops": {"lgbm_model": {"config": {"num_boost_round": 20}}}},
    )
    assert market.success and training.success

    # The secrets were used: ERCOT's sign-in and API calls carried them, the MLflow server holds the model.
    assert fake.calls_to("oauth2") and fake.calls_to("api.ercot.com/api/public-reports")
    client = mlflow.MlflowClient(f"http://127.0.0.1:{port}")
    assert client.get_model_version_by_alias("dart-spread-forecaster", "champion").version == "1"

    printed = capfd.readouterr()
    texts = [printed.out, printed.err, caplog.text]
    for run_id in (market.run_id, training.run_id):
        texts += [str(entry) for entry in instance.all_logs(run_id)]
        texts.append(str(instance.get_run_by_id(run_id)))
    blobs = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    searched = {str(p.relative_to(tmp_path)).split("/")[0] for p in blobs}
    assert {"dagster_home", "storage", "mlflow-server"} <= searched
    compute_logs = [p for p in blobs if "compute_logs" in p.parts or p.suffix in {".out", ".err"}]
    assert compute_logs, sorted(str(p.relative_to(tmp_path)) for p in blobs)[:40]
    assert any(b"lgbm" in blobs[p] for p in compute_logs)  # the trainer's output was captured, then searched
    for secret in (ERCOT_USER, ERCOT_PASSWORD, ERCOT_KEY, MLFLOW_PASSWORD, STORAGE_KEY):
        for form in _encodings(secret):
            leaks = [str(p.relative_to(tmp_path)) for p, blob in blobs.items() if form in blob]
            leaks += [f"text {i}" for i, text in enumerate(texts) if form.decode() in text]
            assert leaks == [], f"{form!r} leaked into {leaks}"
