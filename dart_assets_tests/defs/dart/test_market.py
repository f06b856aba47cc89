"""market_data (one run per partition range, checks reported) and hourly_features, through dg.materialize on the
production definitions built from an explicit Settings."""

import datetime as dt
from pathlib import Path

import dagster as dg
import pandas as pd

from dart_assets.defs import build_defs
from dart_assets.defs.dart.market import MARKET_TABLES
from dart_assets.market import quality
from dart_assets.market.sources import SourceName
from dart_assets.settings import Settings
from dart_assets_tests.defs.dart.conftest import materialize
from dart_assets_tests.market import fixtures as fx

TABLES = list(MARKET_TABLES)


def source(
    storage: Path, points: list[str], data_source: SourceName = "synthetic", path: Path | None = None
) -> Settings:
    return Settings(
        data_source=data_source,
        data_path=None if path is None else str(path),
        settlement_points=tuple(points),
        storage=str(storage),
    )


def run_range(settings: Settings, first: str, last: str, instance=None) -> dg.ExecuteInProcessResult:
    return materialize(
        build_defs(settings),
        dg.AssetSelection.assets(*MARKET_TABLES),
        instance or dg.DagsterInstance.ephemeral(),
        tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
        raise_on_error=False,
    )


def run_features(settings: Settings) -> dg.ExecuteInProcessResult:
    return materialize(
        build_defs(settings), dg.AssetSelection.assets("hourly_features"), dg.DagsterInstance.ephemeral()
    )


def metadata_of(result: dg.ExecuteInProcessResult) -> dict:
    [event] = result.asset_materializations_for_node("hourly_features")
    return {k: v.value for k, v in event.metadata.items()}


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def error_of(result: dg.ExecuteInProcessResult) -> str:
    [failure] = result.get_step_failure_events()
    return failure.event_specific_data.error.to_string()


def test_a_partition_range_is_one_run_writing_a_file_per_day_with_passing_checks(tmp_path):
    settings = source(tmp_path, ["HB_NORTH", "HB_WEST"])
    instance = dg.DagsterInstance.ephemeral()
    result = run_range(settings, "2025-01-01", "2025-01-03", instance)
    assert result.success
    assert len(instance.get_runs()) == 1
    assert [e.step_key for e in result.get_step_success_events()] == ["market_data"]

    days = ["2025-01-01.parquet", "2025-01-02.parquet", "2025-01-03.parquet"]
    for name in TABLES:
        assert files(tmp_path / name) == days
    dam = pd.read_parquet(tmp_path / "dam_prices" / "2025-01-02.parquet")
    assert len(dam) == 48 and (dam.delivery_date == pd.Timestamp("2025-01-02")).all()
    assert sorted(dam.settlement_point.unique()) == ["HB_NORTH", "HB_WEST"]

    forecasts = pd.read_parquet(tmp_path / "driver_forecasts" / "2025-01-02.parquet")
    assert len(forecasts) == 3 * 24 and forecasts.posted_utc.nunique() == 3  # three postings per delivery hour
    materialized = {
        (m.asset_key.to_user_string(), m.partition) for m in result.asset_materializations_for_node("market_data")
    }
    assert materialized == {(name, day) for name in TABLES for day in ("2025-01-01", "2025-01-02", "2025-01-03")}

    checks = result.get_asset_check_evaluations()
    expected = {(name, check) for name in TABLES for check in quality.CHECKS.get(name, {})}
    assert {(c.asset_key.to_user_string(), c.check_name) for c in checks} == expected
    assert len(checks) == len(expected) == 15
    assert all(c.passed for c in checks), [(c.check_name, c.description) for c in checks if not c.passed]
    missing = next(c for c in checks if c.asset_key == dg.AssetKey("rtm_prices") and c.check_name == "missing_hours")
    assert missing.metadata["expected_rows"].value == 3 * 24 * 2

    # hourly_features joins every materialized day of the four tables and keeps the days with their key inputs:
    # day 3 sees day 1's settled DART; days 1 and 2 have no D-2 (or D-1) history and are left out, in metadata.
    result = run_features(settings)
    table = result.output_for_node("hourly_features")
    assert len(table) == 24 * 2
    assert table.delivery_date.dt.strftime("%Y-%m-%d").unique().tolist() == ["2025-01-03"]
    rtm = pd.concat(pd.read_parquet(p) for p in sorted((tmp_path / "rtm_prices").iterdir()))
    merged = table.merge(rtm, on=["timestamp_utc", "settlement_point"], suffixes=("", "_file"))
    assert len(merged) == len(table) and (merged.rtm_price == merged.rtm_price_file).all()
    assert (table.dart == table.dam_price - table.rtm_price).all()
    assert table.load_forecast_mw.notna().all() and table.dart_last_1d.notna().all()
    day3 = table.set_index(["settlement_point", "hour_ending"]).dart_lag_2d
    day1 = rtm[rtm.delivery_date == "2025-01-01"].merge(
        pd.read_parquet(tmp_path / "dam_prices" / "2025-01-01.parquet"), on=["timestamp_utc", "settlement_point"]
    )
    day1 = day1.set_index(["settlement_point", "hour_ending_x"]).eval("dam_price - rtm_price")
    pd.testing.assert_series_equal(day3.sort_index(), day1.sort_index(), check_names=False, check_index=False)
    meta = metadata_of(result)
    assert (meta["rows_missing_inputs"], meta["days_missing_inputs"], meta["days_without_target"]) == (96, 2, 0)
    assert meta["left_out"]["days_missing_inputs"]["2025-01-02"] == ["rtm_prices 2024-12-31"]
    assert meta["decision_time_central"] == "09:00"
    assert (tmp_path / "hourly_features.parquet").exists()


def test_table_source_from_a_csv(tmp_path):
    days = [dt.date(2025, 1, 1), dt.date(2025, 1, 2), dt.date(2025, 1, 3)]
    csv = tmp_path / "prices.csv"
    fx.tidy_table(days).to_csv(csv, index=False)
    storage = tmp_path / "storage"
    settings = source(storage, list(fx.POINTS), "table", csv)
    result = run_range(settings, "2025-01-01", "2025-01-03")
    assert result.success
    assert all(c.passed for c in result.get_asset_check_evaluations())
    for name in TABLES:
        assert files(storage / name) == [f"{d}.parquet" for d in days]
    assert len(pd.read_parquet(storage / "driver_forecasts" / "2025-01-02.parquet")) == 0  # the table has none
    system = pd.read_parquet(storage / "system_conditions" / "2025-01-03.parquet")
    # load_mw is system-wide: the mean over the points (LZ_HOUSTON reports 10 MW more).
    assert system.load_mw.iloc[0] == fx.ercot_load(days[2], 1, False) + 5.0

    table = run_features(settings).output_for_node("hourly_features")
    row = table[
        (table.delivery_date == "2025-01-03") & (table.hour_ending == 7) & (table.settlement_point == "HB_NORTH")
    ].iloc[0]
    assert row.dart == -4.0 and row.dam_price == fx.dam_price(days[2], 7, False, "HB_NORTH")
    assert row.load_mw_lag_2d == fx.ercot_load(days[0], 7, False) + 5.0
    assert "load_forecast_mw" not in table and len(table) == 24 * len(fx.POINTS)


def write_ercot(folder: Path, dam_rows: list[tuple], days: list[dt.date]) -> None:
    fx.dam_workbook(folder / "DAMLZHBSPP_2025.xlsx", dam_rows)
    fx.rtm_workbook(folder / "RTMLZHBSPP_2025.xlsx", fx.rtm_rows(days))


def test_ercot_source_on_report_files_across_spring_forward(tmp_path):
    days = [dt.date(2025, 3, 8), dt.date(2025, 3, 9), dt.date(2025, 3, 10)]
    reports = tmp_path / "reports"
    write_ercot(reports, fx.dam_rows(days), days)
    storage = tmp_path / "storage"
    result = run_range(source(storage, list(fx.POINTS), "ercot", reports), "2025-03-08", "2025-03-10")
    assert result.success, error_of(result)
    assert all(c.passed for c in result.get_asset_check_evaluations())
    dam = pd.read_parquet(storage / "dam_prices" / "2025-03-09.parquet")
    assert len(dam) == 2 * 23 and 3 not in set(dam.hour_ending)
    he4 = dam[(dam.settlement_point == "LZ_HOUSTON") & (dam.hour_ending == 4)].iloc[0]
    assert (he4.timestamp_utc, he4.dam_price) == (pd.Timestamp("2025-03-09 08:00", tz="UTC"), 194.0)
    rtm = pd.read_parquet(storage / "rtm_prices" / "2025-03-10.parquet")
    assert rtm[(rtm.settlement_point == "HB_NORTH") & (rtm.hour_ending == 1)].rtm_price.iloc[0] == 101.0 + 4.0
    system = pd.read_parquet(storage / "system_conditions" / "2025-03-09.parquet")
    assert len(system) == 23 and set(system.columns) == {
        "timestamp_utc",
        "delivery_date",
        "hour_ending",
        "repeated_hour",
    }


def test_a_malformed_file_fails_the_run_naming_it_and_leaves_earlier_files_untouched(tmp_path):
    days = [dt.date(2025, 3, 8), dt.date(2025, 3, 9), dt.date(2025, 3, 10)]
    reports, storage = tmp_path / "reports", tmp_path / "storage"
    write_ercot(reports, fx.dam_rows(days[:2]), days[:2])
    settings = source(storage, list(fx.POINTS), "ercot", reports)
    assert run_range(settings, "2025-03-08", "2025-03-09").success
    before = all_files(storage)
    assert len(before) == 8

    rows = fx.dam_rows(days)
    bad = 2 * 47 + 5  # a row of 2025-03-10
    rows[bad] = (*rows[bad][:4], "#VALUE!")
    write_ercot(reports, rows, days)
    result = run_range(settings, "2025-03-08", "2025-03-10")
    assert not result.success
    message = error_of(result)
    where = f"{reports / 'DAMLZHBSPP_2025.xlsx'}, sheet 'Mar', row {bad + 2}"
    assert f"{where}: settlement point price '#VALUE!' is not a number" in message
    assert all_files(storage) == before  # byte-identical, no 2025-03-10 file, no temp file
    assert not result.get_asset_check_evaluations()
