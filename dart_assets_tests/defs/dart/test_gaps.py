"""Gaps are data, not crashes, on real ERCOT data: a range backfill over the March 2024 gap stores every day (an
empty partition where the source has no rows), one check per table names exactly the missing and partial days,
hourly_features says which days it left out and why, a later load with data replaces an empty partition, and a
day in progress is judged against the hours published by the time of the run.

Runs on the committed cut of the real file (data/README.md), in process; test_cli_gaps.py runs the CLI."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from dart_assets import features
from dart_assets.defs import build_defs
from dart_assets.defs.dart.market import AS_OF, MARKET_TABLES
from dart_assets.defs.resources.clock import Clock
from dart_assets.market import schemas
from dart_assets.settings import Settings
from dart_assets_tests.defs.dart.conftest import materialize, metadata_of

CUT = Path(__file__).parent / "data" / "ercot_hubs_2024-03-05_2024-03-20.csv"
HUBS = ("HB_WEST", "HB_NORTH", "HB_HOUSTON")
FIRST, LAST = "2024-03-05", "2024-03-20"
GAP_DAYS = [f"2024-03-{d}" for d in range(11, 17)]
SELECTION = dg.AssetSelection.assets(*MARKET_TABLES)


def gap_message(table: str, source: Path) -> str:
    """The one message a table's no_missing_days check gives for the real file's March gap."""
    who = "HB_WEST, HB_NORTH, HB_HOUSTON" if table in ("dam_prices", "rtm_prices") else "system-wide"
    rows = "postings" if table == "driver_forecasts" else "rows"
    return (
        f"{table} from table:{source}: {who}: no {rows} for 2024-03-11..2024-03-16 (6 days); "
        "partial: 2024-03-10 (1 of 23 h), 2024-03-17 (21 of 24 h)"
    )


def settings(storage: Path, source: Path = CUT) -> Settings:
    return Settings(
        data_source="table",
        data_path=str(source),
        settlement_points=HUBS,
        start_date="2024-01-01",
        storage=str(storage),
        decision_time=dt.time(9, 55),  # the real forecasts were posted at 09:55
    )


def run(
    storage: Path, first: str, last: str, source: Path = CUT, clock: Clock | None = None
) -> dg.ExecuteInProcessResult:
    resources = {"clock": clock} if clock else {}
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    result = materialize(
        build_defs(settings(storage, source)), SELECTION, dg.DagsterInstance.ephemeral(), resources, tags=tags
    )
    assert result.success  # failed checks do not fail the run: the rest of the range is stored
    return result


def checks_of(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    return {(c.asset_key.to_user_string(), c.check_name): c for c in result.get_asset_check_evaluations()}


@pytest.fixture(scope="module")
def backfill(tmp_path_factory) -> tuple[Path, dg.ExecuteInProcessResult]:
    storage = tmp_path_factory.mktemp("gaps") / "storage"
    return storage, run(storage, FIRST, LAST)


def test_every_day_is_stored_and_gap_days_are_empty_partitions(backfill):
    storage, result = backfill
    days = [d.date().isoformat() for d in pd.date_range(FIRST, LAST)]
    for name in MARKET_TABLES:
        assert sorted(p.name for p in (storage / name).iterdir()) == [f"{d}.parquet" for d in days], name
        for day in GAP_DAYS:
            empty = pd.read_parquet(storage / name / f"{day}.parquet")
            assert len(empty) == 0 and set(schemas.empty(name).columns) <= set(empty.columns), (name, day)
    per_day = {d: len(pd.read_parquet(storage / "dam_prices" / f"{d}.parquet")) for d in days}
    assert (per_day["2024-03-09"], per_day["2024-03-10"], per_day["2024-03-17"]) == (72, 3, 63)
    materialized = result.asset_materializations_for_node("market_data")
    assert len(materialized) == 4 * len(days)
    assert all(AS_OF in m.metadata for m in materialized)


def test_one_failed_check_per_table_names_exactly_the_gap(backfill):
    _, result = backfill
    checks = checks_of(result)
    for name in MARKET_TABLES:
        gaps = checks[(name, "no_missing_days")]
        assert not gaps.passed and gaps.severity == dg.AssetCheckSeverity.ERROR, name
        assert gaps.description == gap_message(name, CUT)
        assert gaps.metadata["days_without_rows_list"].value == ["2024-03-11..2024-03-16"]
    failed = {key for key, check in checks.items() if not check.passed}
    assert failed == {
        *((name, "no_missing_days") for name in MARKET_TABLES),
        # The share of missing hours, a warning: 169 of 383 hours are missing.
        *((name, "missing_hours") for name in ("dam_prices", "rtm_prices", "system_conditions")),
    }
    assert checks[("rtm_prices", "missing_hours")].severity == dg.AssetCheckSeverity.WARN
    assert checks[("rtm_prices", "missing_hours")].metadata["expected_rows"].value == 3 * (16 * 24 - 1)


def test_hourly_features_lists_the_left_out_days_and_the_training_counts(backfill):
    storage, _ = backfill
    result = materialize(
        build_defs(settings(storage)), dg.AssetSelection.assets("hourly_features"), dg.DagsterInstance.ephemeral()
    )
    table = result.output_for_node("hourly_features")
    kept = ["2024-03-07", "2024-03-08", "2024-03-09", "2024-03-20"]
    assert sorted(table.delivery_date.dt.strftime("%Y-%m-%d").unique()) == kept
    meta = metadata_of(result, "hourly_features")
    assert (meta["training_rows"], meta["training_days"], meta["first_day"], meta["last_day"]) == (
        len(table),
        4,
        "2024-03-07",
        "2024-03-20",
    )
    assert len(table) == 4 * 24 * 3
    lines = meta["left_out_days"].splitlines()
    assert [c.strip() for c in lines[0].split("|")[1:4]] == ["delivery days", "rows left out", "why"]
    rows = {line.split("|")[1].strip(): (line.split("|")[2].strip(), line.split("|")[3].strip()) for line in lines[2:]}
    assert list(rows) == [
        "2024-03-05",
        "2024-03-06",
        "2024-03-10",
        "2024-03-11..2024-03-16",
        "2024-03-17",
        "2024-03-18",
        "2024-03-19",
    ]
    assert rows["2024-03-11..2024-03-16"] == ("432", "no target: no DAM and no RTM prices")
    assert rows["2024-03-10"] == (
        "69",
        "66 of 69 rows without a target (DAM or RTM price absent); "
        "D's driver forecasts posted by 09:55 Central: driver_forecasts 2024-03-10 has 1 of 23 h",
    )
    assert rows["2024-03-19"] == ("72", "D-2's settled RTM: rtm_prices 2024-03-17 has 21 of 24 h")
    assert meta["rows_without_target"] + meta["rows_missing_inputs"] == sum(int(n) for n, _ in rows.values())


def test_a_later_load_with_data_replaces_an_empty_partition(tmp_path):
    storage = tmp_path / "storage"
    run(storage, "2024-03-11", "2024-03-13")
    before = {p: p.read_bytes() for p in storage.rglob("*.parquet") if "2024-03-12" not in p.name}
    assert len(pd.read_parquet(storage / "dam_prices" / "2024-03-12.parquet")) == 0

    # The source later has 2024-03-12 (here: 2024-03-19's rows a week earlier, stamps moved along).
    cut = pd.read_csv(CUT)
    day = pd.to_datetime(cut.timestamp_utc).dt.tz_convert("America/Chicago").dt.strftime("%Y-%m-%d")
    week = cut[day == "2024-03-19"].copy()
    for column in ("timestamp_utc", "forecast_posted_utc"):
        moved = pd.to_datetime(week[column]) - pd.Timedelta(days=7)
        week[column] = moved.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    filled = tmp_path / "hubs_filled.csv"
    pd.concat([cut, week]).to_csv(filled, index=False)

    result = materialize(
        build_defs(settings(storage, filled)), SELECTION, dg.DagsterInstance.ephemeral(), partition_key="2024-03-12"
    )
    assert result.success
    dam = pd.read_parquet(storage / "dam_prices" / "2024-03-12.parquet")
    assert len(dam) == 72 and (dam.delivery_date == "2024-03-12").all()
    assert len(pd.read_parquet(storage / "driver_forecasts" / "2024-03-12.parquet")) == 24
    gaps = checks_of(result)[("dam_prices", "no_missing_days")]
    assert gaps.passed and gaps.description == (
        f"dam_prices from table:{filled}: every due hour of 2024-03-12 is there for HB_WEST, HB_NORTH, HB_HOUSTON"
    )
    # The other days' files are untouched and no temporary file is left.
    assert {p: p.read_bytes() for p in storage.rglob("*.parquet") if "2024-03-12" not in p.name} == before
    assert not [p for p in storage.rglob("*") if p.name.startswith(".")]


def test_the_day_in_progress_is_judged_against_the_hours_published_by_the_run(tmp_path):
    """A morning source on 2024-03-09 at 09:05 CST: that day's RTM has only HE01-08 (published by then)."""
    cut = pd.read_csv(CUT)
    stamps = pd.to_datetime(cut.timestamp_utc)
    day = stamps.dt.tz_convert("America/Chicago").dt.strftime("%Y-%m-%d")
    morning = pd.Timestamp("2024-03-09 09:05", tz="America/Chicago")
    live = cut[day.between("2024-03-07", "2024-03-09")].copy()
    live.loc[~features.rtm_published(stamps[live.index], morning), "rtm_price"] = None  # not published yet
    source = tmp_path / "hubs_morning.csv"
    live.to_csv(source, index=False)

    result = run(tmp_path / "storage", "2024-03-08", "2024-03-09", source, Clock(fixed_utc=morning.isoformat()))
    checks = checks_of(result)
    assert all(c.passed for c in checks.values()), [c.description for c in checks.values() if not c.passed]
    assert checks[("rtm_prices", "no_missing_days")].description.endswith(
        "; judged as of 2024-03-09 09:05 CST: 2024-03-09 in progress (8 of 24 h due)"
    )
    assert len(pd.read_parquet(tmp_path / "storage" / "rtm_prices" / "2024-03-09.parquet")) == 8 * 3

    # The next morning the day has settled: the same data is now a partial day.
    next_morning = Clock(fixed_utc="2024-03-10T15:05:00Z")
    later = checks_of(run(tmp_path / "storage2", "2024-03-08", "2024-03-09", source, next_morning))
    assert not later[("rtm_prices", "no_missing_days")].passed
    assert later[("rtm_prices", "no_missing_days")].description == (
        f"rtm_prices from table:{source}: HB_WEST, HB_NORTH, HB_HOUSTON: partial: 2024-03-09 (8 of 24 h)"
    )
