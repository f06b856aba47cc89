"""The Dagster UI in a real browser: the whole graph is there, the promotion gate is visible, and a run launched by
clicking "Materialize" succeeds.

Screenshots: test-artifacts/browser/*.png at the repo root (a FAILED-<test>.png too when a test fails).
"""

from __future__ import annotations

import re
import time

import pytest

pytestmark = pytest.mark.slow

GROUPS = {
    "market_data": ["dam_prices", "rtm_prices", "system_conditions", "driver_forecasts", "hourly_features"],
    "training": ["lgbm_model", "xgb_model", "lstm_model", "ensemble_model", "naive_model", "promoted_model"],
    "forecasting": ["dart_forecast", "forecast_accuracy"],
    "backtest": ["dart_backtest", "backtest_report"],
    "transformer": [
        "transformer_load_history",
        "transformer_load_model",
        "promoted_transformer_model",
        "transformer_overload_forecast",
    ],
}
ALL_ASSETS = [name for names in GROUPS.values() for name in names]
RUN_TIMEOUT_S = 120


def _inside_viewport(page, locator) -> bool:
    box = locator.bounding_box()
    size = page.viewport_size
    return (
        bool(box)
        and box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= size["width"]
        and box["y"] + box["height"] <= size["height"]
    )


def test_asset_graph_shows_every_asset_of_every_group(page, shot):
    """Global asset lineage with all groups expanded: each asset's node carries its full name, inside the view."""
    # Tall viewport so the expanded graph fits at a zoom where nodes show full names, not the minimal "transform…".
    page.set_viewport_size({"width": 2400, "height": 2800})
    page.goto("/asset-groups")
    for group in GROUPS:  # collapsed group boxes first (the graph has too many assets to open expanded)
        page.get_by_text(group, exact=True).first.wait_for(timeout=90_000)
    page.get_by_role("button", name=re.compile(r"Materialize all")).wait_for()
    # "Expand all groups" (⌥E in the graph's menu); reloading re-fits the view around the expanded graph.
    page.keyboard.press("Alt+e")
    page.get_by_text(ALL_ASSETS[0], exact=True).first.wait_for()
    page.reload()
    nodes = page.locator("foreignObject")
    missing = []
    for name in ALL_ASSETS:
        node = nodes.get_by_text(name, exact=True).first
        try:
            node.wait_for(state="visible", timeout=30_000)
        except Exception:
            missing.append(name)
            continue
        if not _inside_viewport(page, node):
            missing.append(f"{name} (outside the view)")
    for group in GROUPS:
        if not _inside_viewport(page, nodes.get_by_text(group, exact=True).first):
            missing.append(f"group {group}")
    time.sleep(1)  # let the node status rows ("Loading...") settle for the picture
    path = shot(page, "01-asset-graph")
    assert not missing, f"not on the asset graph by visible name: {missing}; screenshot {path}"


def test_catalog_lists_every_asset_in_its_group(page, shot):
    """Asset catalog: a link per asset, and on its row the link to its own group."""
    page.set_viewport_size({"width": 1600, "height": 2000})  # all 14 rows of the virtualised table rendered
    page.goto("/assets")
    page.get_by_role("link", name=re.compile(rf"\b{ALL_ASSETS[0]}\b")).first.wait_for(timeout=90_000)
    wrong = []
    for group, names in GROUPS.items():
        for name in names:
            asset_link = page.locator(f'a[href="/assets/{name}"]')
            # The group link on the asset's row points at that asset inside the group: /asset-groups~group:"g"/name
            group_link = page.get_by_role("link", name=re.compile(rf"\b{group}$")).and_(
                page.locator(f'a[href$="/{name}"]')
            )
            if not asset_link.first.is_visible():
                wrong.append(f"{name} not listed")
            elif group_link.count() != 1 or not group_link.is_visible():
                wrong.append(f"{name} not shown in group {group}")
    path = shot(page, "02-asset-catalog")
    assert not wrong, f"asset catalog: {wrong}; screenshot {path}"


def test_promoted_model_page_shows_the_rmse_gate_check(page, shot):
    """promoted_model -> Checks tab: the blocking rmse_gate check with its description."""
    page.goto("/assets/promoted_model")
    page.get_by_role("tab", name="Checks").click(timeout=90_000)
    page.wait_for_url(re.compile(r"view=checks"))
    page.get_by_text(re.compile(r"Checks \(\d+\)")).wait_for()
    gate = page.get_by_text("rmse_gate", exact=True)
    gate.first.wait_for()
    blocking = page.get_by_text(re.compile(r"This is a\s+blocking\s+asset check"))
    description = page.get_by_text(re.compile(r"Test RMSE under the threshold"))
    blocking.wait_for(timeout=30_000)
    path = shot(page, "03-promoted-model-checks")
    assert gate.first.is_visible(), f"rmse_gate not visible on promoted_model's Checks tab; screenshot {path}"
    assert blocking.is_visible(), f"rmse_gate is not shown as a blocking check; screenshot {path}"
    assert description.is_visible(), f"rmse_gate's description is missing; screenshot {path}"


def test_materialize_from_the_ui_runs_to_success(page, shot, dagster_ui):
    """transformer_load_history -> Materialize -> toast "View" -> the run page shows Success, and the asset page
    shows the materialization from that run; the file is in the fixture's DART_STORAGE."""
    page.goto("/assets/transformer_load_history")
    page.get_by_text("Never materialized").first.wait_for(timeout=90_000)
    page.get_by_role("button", name=re.compile(r"\bMaterialize$")).click()

    toast = page.get_by_text(re.compile(r"Launched run [0-9a-f]{8}")).first
    try:
        toast.wait_for(timeout=30_000)
    except Exception:
        path = shot(page, "04-materialize-no-launch")
        pytest.fail(f"no 'Launched run' notification after clicking Materialize; screenshot {path}")
    run_prefix = re.search(r"Launched run ([0-9a-f]{8})", toast.inner_text()).group(1)
    view = page.get_by_role("region", name=re.compile("Notifications")).get_by_role("link", name="View")
    try:
        view.first.click(timeout=5_000)  # the notification closes itself after a few seconds
    except Exception:
        page.get_by_role("link", name=re.compile(r"\bRuns$")).first.click()
        page.get_by_role("link", name=re.compile(run_prefix)).first.click()
    page.wait_for_url(re.compile(rf"/runs/{run_prefix}[0-9a-f-]{{28}}"), timeout=30_000)
    run_url = page.url

    # The run header's status: "Success" next to the run_success icon; fail early on failure/cancel.
    success = page.get_by_role("img", name="run_success").first
    failed = page.get_by_role("img", name=re.compile(r"run_(failure|canceled)")).first
    deadline = time.monotonic() + RUN_TIMEOUT_S
    status = "not finished"
    while time.monotonic() < deadline:
        if success.is_visible() and page.get_by_text("RUN_SUCCESS").first.is_visible():
            status = "success"
            break
        if failed.is_visible():
            status = "failed"
            break
        page.wait_for_timeout(2_000)
    if status == "success":
        page.get_by_text("Succeeded (1)").first.wait_for(timeout=10_000)  # the step list has caught up too
    path = shot(page, "04-materialize-run")
    queued = page.get_by_text("Run queued").first.is_visible()
    assert status == "success", (
        f"run {run_url} {status} after {RUN_TIMEOUT_S}s"
        + (" (still queued: is the run coordinator DefaultRunCoordinator?)" if queued else "")
        + f"; screenshot {path}"
    )

    # The asset page: its latest materialization links to this run.
    page.goto("/assets/transformer_load_history")
    latest = page.locator(f'a[href^="/runs/{run_prefix}"]').first
    latest.wait_for(timeout=30_000)
    path = shot(page, "05-asset-materialized")
    assert not page.get_by_text("Never materialized").first.is_visible(), (
        f"asset page still says 'Never materialized' after run {run_url}; screenshot {path}"
    )
    stored = dagster_ui.storage / "transformer_load_history.parquet"
    assert stored.is_file(), f"run {run_url} succeeded but {stored} is missing; screenshot {path}"
