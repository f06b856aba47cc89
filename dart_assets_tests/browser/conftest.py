"""A real dagster-webserver and a real headless Chromium for the browser tests, one of each per module.

The server runs on a free port with its own DAGSTER_HOME, DART_STORAGE and MLflow store in a temp folder, in its
own process group; teardown stops the whole group (TERM, then KILL) and fails if any process is left.
Chromium is the Debian package: when it is missing, the first browser test installs `chromium chromium-driver` with
apt-get (as root), or the browser tests skip with the reason (see chromium.py); Playwright only drives it,
`playwright install` is never needed.

Screenshots and the webserver log go to test-artifacts/browser/ at the repo root.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
from dataclasses import dataclass
from pathlib import Path

import pytest

from dart_assets_tests.processes import free_port, get_json, log_tail, stop_groups

from . import chromium

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
READY_TIMEOUT_S = 90
STOP_GRACE_S = 20
# The run coordinator the webserver uses when launching from the UI: without a daemon the default (queued)
# coordinator would leave the run "Queued" forever; DefaultRunCoordinator hands it straight to the run launcher.
DAGSTER_YAML = """\
run_coordinator:
  module: dagster._core.run_coordinator.default_run_coordinator
  class: DefaultRunCoordinator
telemetry:
  enabled: false
"""
LOCATION_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


@dataclass
class DagsterUI:
    url: str
    home: Path
    storage: Path
    log: Path
    process: subprocess.Popen


def pytest_runtest_makereport(item, call):
    """Remember each phase's outcome on the item so the page fixture can screenshot failures."""
    if call.when == "call":
        item.browser_call_failed = call.excinfo is not None


def _wait_until_ready(ui: DagsterUI) -> None:
    """/server_info answers, then the code location has finished loading (its error if it failed to load)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    last = "no answer yet"
    while time.monotonic() < deadline:
        if ui.process.poll() is not None:
            pytest.fail(
                f"dagster-webserver exited with {ui.process.returncode} before it was ready:\n{log_tail(ui.log)}"
            )
        try:
            get_json(f"{ui.url}/server_info")
            # Read-only status query: is the code location loaded? (Runs are launched by clicking, never here.)
            answer = get_json(f"{ui.url}/graphql", {"query": LOCATION_QUERY})
            entries = answer["data"]["workspaceOrError"]["locationEntries"]
            last = repr(entries)
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                errors = [e for e in entries if e["locationOrLoadError"]["__typename"] == "PythonError"]
                if errors:
                    pytest.fail(f"the code location failed to load in the webserver: {errors}")
                return
        except (OSError, urllib.error.URLError, KeyError, TypeError, ValueError) as exc:
            last = repr(exc)
        time.sleep(1)
    pytest.fail(f"dagster-webserver not ready after {READY_TIMEOUT_S}s (last: {last}):\n{log_tail(ui.log)}")


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory) -> DagsterUI:
    """dagster-webserver on dart_assets.definitions, isolated in a temp folder, stopped (all of it) afterwards."""
    root = tmp_path_factory.mktemp("dagster_ui")
    home, storage = root / "dagster_home", root / "storage"
    home.mkdir()
    storage.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DART_", "TRANSFORMER_", "DAGSTER_"))}
    env.update(
        DAGSTER_HOME=str(home),
        DART_STORAGE=str(storage),
        MLFLOW_TRACKING_URI=f"sqlite:///{root / 'mlflow.db'}",
        PYTHONUNBUFFERED="1",
    )
    webserver = shutil.which("dagster-webserver", path=str(Path(sys.executable).parent)) or "dagster-webserver"
    port = free_port()
    log = root / "dagster-webserver.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [webserver, "-h", "127.0.0.1", "-p", str(port), "-m", "dart_assets.definitions"],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # own session and process group: teardown kills the group
        )
    ui = DagsterUI(url=f"http://127.0.0.1:{port}", home=home, storage=storage, log=log, process=process)
    try:
        _wait_until_ready(ui)
        yield ui
    finally:
        leftovers = stop_groups([[ui.process]], marker=f"DAGSTER_HOME={ui.home}", grace_s=STOP_GRACE_S)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, ARTIFACTS / "dagster-webserver.log")
        assert not leftovers, f"processes of the test webserver still running after teardown: {leftovers}"


@pytest.fixture(scope="session")
def chromium_executable(pytestconfig) -> str:
    """Debian's Chromium: already there, installed now with apt-get (one line says so), or a skip with the reason."""
    plan = chromium.machine_plan()
    if plan.action == "skip":
        pytest.skip(f"browser tests: {plan.reason}")
    if plan.action == "install":
        capture = pytestconfig.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():
            print(f"\nbrowser tests: {plan.reason}", flush=True)
        try:
            chromium.apt_install(shutil.which("apt-get"))
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
            pytest.fail(f"browser tests: could not install Chromium: {exc}")
    return chromium.CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium_executable):
    """Headless Debian Chromium through Playwright, one for the module."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' installs playwright")
    executable = chromium_executable
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(request, browser, dagster_ui):
    """A fresh browser context per test (1600x1100); screenshot to test-artifacts/browser/ if the test fails."""
    context = browser.new_context(base_url=dagster_ui.url, viewport={"width": 1600, "height": 1100})
    # The "Join the Dagster community" dialog pops up on localhost after 1 s and covers the page: mark it seen.
    context.add_init_script("window.localStorage.setItem('communityNux', JSON.stringify('1'))")
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        yield page
    finally:
        if getattr(request.node, "browser_call_failed", False):
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^\w.-]+", "_", request.node.name)
            try:
                page.screenshot(path=str(ARTIFACTS / f"FAILED-{name}.png"), full_page=True)
                print(f"failure screenshot: {ARTIFACTS / f'FAILED-{name}.png'} (url {page.url})")
            except Exception as exc:
                print(f"could not take the failure screenshot: {exc!r}")
        context.close()


@pytest.fixture
def shot():
    """shot(page, name) -> Path of a PNG saved under test-artifacts/browser/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str, full_page: bool = False) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take
