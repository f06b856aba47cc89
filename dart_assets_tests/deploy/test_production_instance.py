"""The production-shaped deployment with real parts: a throwaway PostgreSQL (initdb into a temp folder, 127.0.0.1,
a free port), the MLflow tracking server on it, the code location's gRPC server, dagster-daemon and
dagster-webserver on deploy/dagster.yaml, each started with its command and environment from
deploy/docker-compose.yml. Work enters only through the webserver's GraphQL API, as from the UI: a market backfill
(requested while the daemon is down, so it must survive in PostgreSQL until the daemon picks it up), then a
`weekly_retraining` run through the run queue. The records must be in PostgreSQL and the champion in the MLflow
server's registry, its files written by the server (proxied artifacts), not by the clients.

Every process runs in its own process group; teardown stops them all (SIGTERM, then SIGKILL) even when a step fails,
and the logs go to test-artifacts/deploy/.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dart_assets.ml.families import FAMILIES
from dart_assets_tests.processes import free_port, get_json, log_tail, stop_groups

from . import compose

pytestmark = pytest.mark.slow

LSTM_ASSET = "lstm_model"
# Op config that makes training take seconds (as in dart_assets_tests/defs/dart/conftest.py).
TRAIN_CONFIG = {
    "lgbm_model": {"num_boost_round": 40, "learning_rate": 0.15},
    "xgb_model": {"num_boost_round": 40, "learning_rate": 0.15},
    LSTM_ASSET: {"max_epochs": 2, "hidden_size": 8},
}
# The backfill covers the assets of `market_data_job` (what the 07:00 schedule loads), the training run is the
# `weekly_retraining` job: both read from the code location, so the test follows the graph as it changes.
MARKET_JOB, TRAINING_JOB = "market_data_job", "weekly_retraining"
MARKET_START, MARKET_END, MARKET_DAYS = "2025-02-01", "2025-03-02", 30
MODEL_NAME = "dart-spread-forecaster"
EXPERIMENT = "dart-spread-forecaster"
# Not in the compose file, on purpose: two settlement points keep the data small, and a gate any candidate passes,
# since this test is about the deployment, not about a 30-day model beating the baselines.
TEST_SETTINGS = {
    "DART_SETTLEMENT_POINTS": "HB_HOUSTON,HB_NORTH",
    "DART_GATE_MAX_TEST_RMSE": "10000",
    "DART_GATE_MIN_SKILL": "-1",
    "DART_GATE_MIN_POINT_SKILL": "-1",
}
SERVICES = ("mlflow", "code-location", "webserver", "daemon")
READY_TIMEOUT_S = 120
RUN_TIMEOUT_S = 300
STOP_GRACE_S = 10  # Docker's default stop grace period
ARTIFACTS = compose.REPO / "test-artifacts" / "deploy"

LOCATION_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""
LAUNCH_BACKFILL = """
mutation ($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
  }
}
"""
BACKFILL_QUERY = """
query ($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename ... on PartitionBackfill { status } ... on PythonError { message }
  }
}
"""
BACKFILL_RUNS = """
query ($id: String!) {
  runsOrError(filter: {tags: [{key: "dagster/backfill", value: $id}]}) {
    __typename ... on Runs { results { runId status } }
  }
}
"""
LAUNCH_RUN = """
mutation ($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
  }
}
"""
RUN_QUERY = """
query ($id: ID!) {
  runOrError(runId: $id) {
    __typename ... on Run { status tags { key value } } ... on PythonError { message }
  }
}
"""
RUN_FAILURES = """
query ($id: ID!) {
  logsForRun(runId: $id) {
    __typename ... on EventConnection { events {
      __typename
      ... on ExecutionStepFailureEvent { stepKey error { message } }
      ... on RunFailureEvent { message }
    } }
  }
}
"""
JOB_ASSETS = """
query ($job: String!) {
  assetNodes(pipeline: {repositoryLocationName: "dart_assets", repositoryName: "__repository__", pipelineName: $job}) {
    assetKey { path } isPartitioned pools
  }
}
"""
INSTANCE_QUERY = """
{ instance {
    runLauncher { name }
    runQueuingSupported
    runQueueConfig { maxConcurrentRuns tagConcurrencyLimitsYaml }
    poolConfig { poolGranularity defaultPoolLimit }
    daemonHealth { allDaemonStatuses { daemonType required healthy } }
  }
  schedulesOrError(repositorySelector: {repositoryLocationName: "dart_assets", repositoryName: "__repository__"}) {
    __typename ... on Schedules { results { name scheduleState { status } } }
  }
}
"""


@dataclass
class Stack:
    root: Path
    pg_port: int
    pg_user: str
    pg_password: str
    web_url: str
    mlflow_url: str
    storage: Path
    artifacts: Path
    logs: Path
    marker: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def connect(self, database: str):
        import psycopg2

        return psycopg2.connect(
            host="127.0.0.1", port=self.pg_port, user=self.pg_user, password=self.pg_password, dbname=database
        )

    def query(self, database: str, sql: str, params: tuple = ()) -> list[tuple]:
        with contextlib.closing(self.connect(database)) as connection, connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        answer = get_json(f"{self.web_url}/graphql", {"query": query, "variables": variables or {}}, timeout=60)
        assert not answer.get("errors"), answer["errors"]
        return answer["data"]

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                pytest.fail(f"{name} exited with {process.returncode}:\n{log_tail(self.logs / f'{name}.log')}")

    def wait_for(self, what: str, probe: Callable[[], Any], timeout: float) -> Any:
        """Poll `probe` until it returns something truthy; fail with every log's tail on timeout or a dead process."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                last = probe()
            except (OSError, urllib.error.URLError, KeyError, TypeError, ValueError) as exc:
                last = exc
            else:
                if last:
                    return last
            time.sleep(1)
        tails = "\n".join(f"--- {name}\n{log_tail(self.logs / f'{name}.log', 25)}" for name in self.processes)
        pytest.fail(f"{what}: not after {timeout:.0f}s (last: {last!r})\n{tails}")


@dataclass
class Deployment:
    stack: Stack
    market_assets: list[str]
    training_assets: dict[str, list[str]]  # asset name -> the pools it declares
    backfill_id: str
    backfill_status: str
    market_run: dict
    training_run: dict


def _start(stack: Stack, name: str, argv: list[str], env: dict[str, str], user: str | None = None) -> None:
    with (stack.logs / f"{name}.log").open("wb") as out:
        stack.processes[name] = subprocess.Popen(
            argv,
            cwd=compose.REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: teardown stops it and everything it forked
            user=user,
        )


def _postgres_account() -> str | None:
    """PostgreSQL refuses to run as root: as root, run it as Debian's `postgres` account (or `nobody`)."""
    if os.geteuid() != 0:
        return None
    import pwd

    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name).pw_name
    pytest.skip("running as root and neither a `postgres` nor a `nobody` account exists to run PostgreSQL")


def _start_postgres(stack: Stack, cluster: Path) -> None:
    """initdb (password auth, the compose file's user) and `postgres` on 127.0.0.1:<free port>, then the databases
    the postgres image would create: POSTGRES_DB (dagster) and deploy/postgres-init.sql's (mlflow)."""
    initdb, postgres = shutil.which("initdb"), shutil.which("postgres")
    if not (initdb and postgres):
        pytest.skip("PostgreSQL server binaries (initdb, postgres) are not on PATH")
    account = _postgres_account()
    if account:
        shutil.chown(cluster, account)
    password_file = cluster / "password"
    password_file.write_text(stack.pg_password)
    if account:
        shutil.chown(password_file, account)
    data = cluster / "data"
    subprocess.run(
        [
            initdb,
            "-D",
            str(data),
            "-U",
            stack.pg_user,
            f"--pwfile={password_file}",
            "--auth=scram-sha-256",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        user=account,
        cwd=cluster,
        timeout=120,
    )
    password_file.unlink()
    # fsync off: a throwaway cluster, nothing to recover after a crash.
    argv = [postgres, "-D", str(data), "-p", str(stack.pg_port), "-c", "listen_addresses=127.0.0.1"]
    argv += ["-c", f"unix_socket_directories={cluster}", "-c", "fsync=off", "-c", "synchronous_commit=off"]
    _start(stack, "postgres", argv, {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8"}, user=account)

    def ready() -> bool:
        with contextlib.closing(stack.connect("postgres")):
            return True

    import psycopg2

    deadline = time.monotonic() + 60
    while True:
        stack.check_alive()
        try:
            ready()
            break
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    for database, statements in [("postgres", ["CREATE DATABASE dagster"]), ("dagster", compose.init_sql_statements())]:
        with contextlib.closing(stack.connect(database)) as connection:
            connection.autocommit = True  # CREATE DATABASE cannot run in a transaction
            with connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)


def _service_commands(stack: Stack, home: Path, ports: dict[str, int]) -> dict[str, tuple[list[str], dict]]:
    """Each compose service's command and environment, with local addresses, ports and folders."""
    services = compose.services({"DART_PG_PASSWORD": stack.pg_password})
    local = {
        "DAGSTER_HOME": str(home),
        "DART_PG_HOST": "127.0.0.1",
        "DART_PG_PORT": str(stack.pg_port),
        "DAGSTER_CODE_SERVER_HOST": "127.0.0.1",
        "DAGSTER_CODE_SERVER_PORT": str(ports["code-location"]),
        "DAGSTER_COMPUTE_LOG_DIR": str(stack.root / "compute_logs"),
        "DART_STORAGE": str(stack.storage),
        "MLFLOW_TRACKING_URI": stack.mlflow_url,
        "MLFLOW_UI_URL": stack.mlflow_url,
    }
    options = {
        "mlflow": {
            "--backend-store-uri": f"postgresql+psycopg2://{stack.pg_user}@127.0.0.1:{stack.pg_port}/mlflow",
            "--artifacts-destination": str(stack.artifacts),
            "--host": "127.0.0.1",
            "--port": str(ports["mlflow"]),
        },
        "code-location": {"-h": "127.0.0.1", "-p": str(ports["code-location"])},
        "daemon": {},
        "webserver": {"-h": "127.0.0.1", "-p": str(ports["webserver"])},
    }
    unused = set(local) - {k for s in services.values() for k in s["environment"]}
    assert not unused, f"the test replaces variables the compose file does not set: {unused}"
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("DART_", "DAGSTER_", "MLFLOW_", "PG"))}
    inherited["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{inherited.get('PATH', '')}"
    commands = {}
    for name in SERVICES:
        service = services[name]
        env = compose.with_environment(
            service["environment"], {k: v for k, v in local.items() if k in service["environment"]}
        )
        argv = compose.with_options(service["command"], options[name])
        argv[0] = shutil.which(argv[0], path=inherited["PATH"]) or argv[0]
        commands[name] = (argv, {**inherited, **env, **TEST_SETTINGS, "DART_DEPLOY_TEST": stack.marker})
    return commands


def _location_loaded(stack: Stack) -> bool:
    entries = stack.graphql(LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
    if entries and all(e["loadStatus"] == "LOADED" for e in entries):
        errors = [e for e in entries if e["locationOrLoadError"]["__typename"] == "PythonError"]
        assert not errors, f"the code location failed to load: {errors}"
        return True
    return False


def _mlflow_healthy(stack: Stack) -> bool:
    with urllib.request.urlopen(f"{stack.mlflow_url}/health", timeout=5) as response:
        return response.status == 200


def _finished_run(stack: Stack, run_id: str) -> dict | None:
    run = stack.graphql(RUN_QUERY, {"id": run_id})["runOrError"]
    assert run["__typename"] == "Run", run
    if run["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
        return {"run_id": run_id, "status": run["status"], "tags": {t["key"]: t["value"] for t in run["tags"]}}
    return None


def _failures(stack: Stack, run_id: str) -> str:
    events = stack.graphql(RUN_FAILURES, {"id": run_id})["logsForRun"].get("events", [])
    lines = [
        f"{e.get('stepKey', 'run')}: {e['error']['message'] if e.get('error') else e.get('message')}"
        for e in events
        if e["__typename"] in ("ExecutionStepFailureEvent", "RunFailureEvent")
    ]
    return "\n".join(lines) + f"\n--- code-location log\n{log_tail(stack.logs / 'code-location.log', 40)}"


def _wait_for_success(stack: Stack, run_id: str, what: str) -> dict:
    run = stack.wait_for(f"{what} run {run_id} to finish", lambda: _finished_run(stack, run_id), RUN_TIMEOUT_S)
    assert run["status"] == "SUCCESS", f"{what} run {run_id} ended {run['status']}:\n{_failures(stack, run_id)}"
    return run


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Deployment:
    started = time.monotonic()
    root = tmp_path_factory.mktemp("deployment")
    cluster = Path(tempfile.mkdtemp(prefix="dart-pg-"))  # outside pytest's tmp (private to its user): postgres reads it
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").symlink_to(compose.DEPLOY / "dagster.yaml")  # the file itself, not a copy
    compose_env = compose.services({"DART_PG_PASSWORD": "unused"})["daemon"]["environment"]
    ports = {name: free_port() for name in ("code-location", "mlflow", "webserver")}
    stack = Stack(
        root=root,
        pg_port=free_port(),
        pg_user=compose_env["DART_PG_USER"],
        pg_password=secrets.token_urlsafe(18),
        web_url=f"http://127.0.0.1:{ports['webserver']}",
        mlflow_url=f"http://127.0.0.1:{ports['mlflow']}",
        storage=root / "storage",
        artifacts=root / "mlflow-artifacts",
        logs=root / "logs",
        marker=uuid.uuid4().hex,
    )
    stack.logs.mkdir()
    try:
        _start_postgres(stack, cluster)
        stack.timings["postgres ready"] = time.monotonic() - started
        commands = _service_commands(stack, home, ports)
        for name in ("mlflow", "code-location", "webserver"):  # the daemon comes after the backfill request
            _start(stack, name, *commands[name])
        stack.wait_for("the MLflow server", lambda: _mlflow_healthy(stack), READY_TIMEOUT_S)
        stack.wait_for("the webserver with the code location loaded", lambda: _location_loaded(stack), READY_TIMEOUT_S)
        stack.timings["services ready"] = time.monotonic() - started
        market_nodes = stack.graphql(JOB_ASSETS, {"job": MARKET_JOB})["assetNodes"]
        assert market_nodes and all(node["isPartitioned"] for node in market_nodes), market_nodes
        market_assets = sorted(node["assetKey"]["path"][-1] for node in market_nodes)
        training_nodes = stack.graphql(JOB_ASSETS, {"job": TRAINING_JOB})["assetNodes"]
        training_assets = {node["assetKey"]["path"][-1]: node["pools"] for node in training_nodes}
        assert set(TRAIN_CONFIG) <= set(training_assets), f"{set(TRAIN_CONFIG)} are not all in {TRAINING_JOB}"

        launched = stack.graphql(
            LAUNCH_BACKFILL,
            {
                "params": {
                    "partitionsByAssets": [
                        {
                            "assetKey": {"path": [name]},
                            "partitions": {"range": {"start": MARKET_START, "end": MARKET_END}},
                        }
                        for name in market_assets
                    ],
                    "title": "deployment test: market data",
                }
            },
        )["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        backfill_id = launched["backfillId"]
        # Requested while no daemon runs: it waits in PostgreSQL, with no run yet.
        assert stack.query("dagster", "SELECT status FROM bulk_actions WHERE key = %s", (backfill_id,)) == [
            ("REQUESTED",)
        ]
        assert stack.graphql(BACKFILL_RUNS, {"id": backfill_id})["runsOrError"]["results"] == []

        _start(stack, "daemon", *commands["daemon"])
        runs = stack.wait_for(
            "the backfill's run",
            lambda: stack.graphql(BACKFILL_RUNS, {"id": backfill_id})["runsOrError"]["results"],
            READY_TIMEOUT_S,
        )
        assert len(runs) == 1, f"a single-run backfill policy makes one run, got {runs}"
        market_run = _wait_for_success(stack, runs[0]["runId"], "market backfill")
        stack.timings["market backfill done"] = time.monotonic() - started

        launched = stack.graphql(
            LAUNCH_RUN,
            {
                "params": {
                    "selector": {
                        "repositoryLocationName": "dart_assets",
                        "repositoryName": "__repository__",
                        "jobName": TRAINING_JOB,
                    },
                    "runConfigData": {"ops": {name: {"config": config} for name, config in TRAIN_CONFIG.items()}},
                }
            },
        )["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        assert launched["run"]["status"] == "QUEUED", "the QueuedRunCoordinator queues runs for the daemon"
        training_run = _wait_for_success(stack, launched["run"]["runId"], TRAINING_JOB)
        stack.timings["training done"] = time.monotonic() - started

        def backfill_finished() -> str | None:
            status = stack.graphql(BACKFILL_QUERY, {"id": backfill_id})["partitionBackfillOrError"]["status"]
            return None if status in ("REQUESTED", "CANCELING", "FAILING") else status

        backfill_status = stack.wait_for("the backfill to complete", backfill_finished, 90)
        stack.timings["backfill completed"] = time.monotonic() - started
        yield Deployment(stack, market_assets, training_assets, backfill_id, backfill_status, market_run, training_run)
    finally:
        waves = [[stack.processes[n] for n in SERVICES if n in stack.processes]]
        waves.append([stack.processes["postgres"]] if "postgres" in stack.processes else [])
        leftovers = stop_groups(waves, marker=f"DART_DEPLOY_TEST={stack.marker}", grace_s=STOP_GRACE_S)
        stack.timings["stopped"] = time.monotonic() - started
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for log in stack.logs.glob("*.log"):
            shutil.copyfile(log, ARTIFACTS / log.name)
        (ARTIFACTS / "timings.txt").write_text("".join(f"{k}: {v:.1f} s\n" for k, v in stack.timings.items()))
        shutil.rmtree(cluster, ignore_errors=True)
        assert not leftovers, f"processes of the deployment still running after teardown: {leftovers}"


def test_the_webserver_serves_the_deploy_instance(deployment: Deployment) -> None:
    """Queued runs, the default launcher, the run limits and the one-slot pools of deploy/dagster.yaml; a daemon
    that runs schedules, the queue, backfills and run monitoring; every schedule RUNNING."""
    data = deployment.stack.graphql(INSTANCE_QUERY)
    instance = data["instance"]
    assert instance["runLauncher"]["name"] == "DefaultRunLauncher"
    assert instance["runQueuingSupported"] is True
    assert instance["runQueueConfig"]["maxConcurrentRuns"] == 4
    assert "dagster/backfill" in instance["runQueueConfig"]["tagConcurrencyLimitsYaml"]
    assert instance["poolConfig"] == {"poolGranularity": "op", "defaultPoolLimit": 1}
    healthy = {d["daemonType"] for d in instance["daemonHealth"]["allDaemonStatuses"] if d["healthy"]}
    assert {"SCHEDULER", "QUEUED_RUN_COORDINATOR", "BACKFILL", "MONITORING"} <= healthy
    heartbeats = {row[0] for row in deployment.stack.query("dagster", "SELECT daemon_type FROM daemon_heartbeats")}
    assert {"SCHEDULER", "QUEUED_RUN_COORDINATOR", "BACKFILL", "MONITORING"} <= heartbeats
    schedules = {s["name"]: s["scheduleState"]["status"] for s in data["schedulesOrError"]["results"]}
    assert schedules.get("weekly_retraining_schedule") == "RUNNING", schedules
    assert set(schedules.values()) == {"RUNNING"}, schedules


def test_the_backfill_ran_once_over_the_range_and_is_recorded_in_postgres(deployment: Deployment) -> None:
    stack, run = deployment.stack, deployment.market_run
    assert deployment.backfill_status == "COMPLETED_SUCCESS"
    assert run["tags"]["dagster/backfill"] == deployment.backfill_id
    assert (run["tags"]["dagster/asset_partition_range_start"], run["tags"]["dagster/asset_partition_range_end"]) == (
        MARKET_START,
        MARKET_END,
    )
    [(status, backfill_body)] = stack.query(
        "dagster", "SELECT status, body FROM bulk_actions WHERE key = %s", (deployment.backfill_id,)
    )
    assert status == "COMPLETED_SUCCESS" and deployment.backfill_id in backfill_body
    assert stack.query("dagster", "SELECT status FROM runs WHERE run_id = %s", (run["run_id"],)) == [("SUCCESS",)]
    materialized = stack.query(
        "dagster",
        "SELECT asset_key, count(DISTINCT partition) FROM event_logs "
        "WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION' GROUP BY asset_key ORDER BY asset_key",
        (run["run_id"],),
    )
    assert materialized == [(f'["{name}"]', MARKET_DAYS) for name in deployment.market_assets]
    for name in deployment.market_assets:
        assert len(list((stack.storage / name).iterdir())) == MARKET_DAYS, name


def test_weekly_retraining_is_recorded_in_postgres(deployment: Deployment) -> None:
    stack, run, assets = deployment.stack, deployment.training_run, deployment.training_assets
    [(status, job)] = stack.query(
        "dagster", "SELECT status, pipeline_name FROM runs WHERE run_id = %s", (run["run_id"],)
    )
    assert (status, job) == ("SUCCESS", TRAINING_JOB)
    materialized = stack.query(
        "dagster",
        "SELECT asset_key FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
        (run["run_id"],),
    )
    assert sorted(key for (key,) in materialized) == sorted(f'["{name}"]' for name in assets)
    # Every step ended in success (a step retried after a transient error counts by its final outcome): the assets'
    # and the blocking promotion gate's.
    outcomes = stack.query(
        "dagster",
        "SELECT DISTINCT step_key, dagster_event_type FROM event_logs WHERE run_id = %s"
        " AND dagster_event_type IN ('STEP_SUCCESS', 'STEP_FAILURE')",
        (run["run_id"],),
    )
    assert {event for _, event in outcomes} == {"STEP_SUCCESS"}, outcomes
    assert {step for step, _ in outcomes} >= {*assets, "promoted_model_rmse_gate"}
    checks = stack.query(
        "dagster",
        "SELECT check_name, execution_status FROM asset_check_executions WHERE run_id = %s ORDER BY check_name",
        (run["run_id"],),
    )
    assert ("rmse_gate", "SUCCEEDED") in checks, checks
    # Every pool a trained asset declares (the LSTM's `gpu`) got deploy/dagster.yaml's one-slot limit when its step
    # claimed a slot: across all runs, one such step at a time.
    declared = {pool for pools in assets.values() for pool in pools}
    limits = dict(stack.query("dagster", 'SELECT concurrency_key, "limit" FROM concurrency_limits'))
    assert {pool: limits.get(pool) for pool in declared} == dict.fromkeys(declared, 1)


def test_the_champion_is_in_the_mlflow_servers_registry_with_server_side_artifacts(deployment: Deployment) -> None:
    from mlflow import MlflowClient

    stack = deployment.stack
    client = MlflowClient(stack.mlflow_url)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment.artifact_location.startswith("mlflow-artifacts:"), experiment.artifact_location
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.data.tags["model_family"] for r in runs) == sorted(FAMILIES)
    assert {r.data.tags["dagster_run_id"] for r in runs} == {deployment.training_run["run_id"]}
    champion = client.get_model_version_by_alias(MODEL_NAME, "champion")
    assert champion.run_id in {r.info.run_id for r in runs}
    assert champion.tags["dagster_run_id"] == deployment.training_run["run_id"]
    # Through the server's artifact proxy, and written by the server into its --artifacts-destination.
    metadata = Path(client.download_artifacts(champion.run_id, "bundle/metadata.json", str(stack.root)))
    assert metadata.read_text().strip().startswith("{")
    stored = list(stack.artifacts.glob(f"{experiment.experiment_id}/{champion.run_id}/artifacts/bundle/metadata.json"))
    assert stored and stored[0].read_bytes() == metadata.read_bytes()
    # Every artifact (bundles, the flavored models) goes through the server: none to a client's disk.
    locations = [r.info.artifact_uri for r in runs]
    locations += [m.artifact_location for m in client.search_logged_models([experiment.experiment_id])]
    assert len(locations) == 2 * len(FAMILIES), locations  # a run and a flavored model per family
    assert all(uri.startswith("mlflow-artifacts:") for uri in locations), locations
    # Tracking and registry live in PostgreSQL's mlflow database: the champion and the naive fallback versions.
    fallback = client.get_model_version_by_alias(MODEL_NAME, "fallback")
    assert fallback.run_id in {r.info.run_id for r in runs} and fallback.version != champion.version
    assert stack.query("mlflow", "SELECT count(*) FROM runs") == [(len(FAMILIES),)]
    assert stack.query("mlflow", "SELECT count(*) FROM model_versions WHERE name = %s", (MODEL_NAME,)) == [(2,)]
