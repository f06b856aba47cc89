"""The Parquet IO manager on non-local storage: fsspec's in-memory filesystem, and abfss:// on a fake account."""

import uuid

import dagster as dg
import fsspec
import pandas as pd
import pytest

from dart_assets.defs.resources.io_manager import ParquetIOManager
from dart_assets_tests.fakes.azure_fixtures import STORAGE, fake_account  # noqa: F401

DAYS = dg.DailyPartitionsDefinition(start_date="2025-01-01", end_date="2025-01-05")
PRICES = pd.DataFrame({"point": ["HB_NORTH", "HB_WEST", "HB_NORTH"], "dart": [1.5, -2.25, 4.0]})


@dg.asset
def prices() -> pd.DataFrame:
    return PRICES


@dg.asset
def run_info() -> dict:
    return {"points": 2, "source": "synthetic"}


@dg.asset
def north(prices: pd.DataFrame, run_info: dict) -> pd.DataFrame:
    return prices[prices["point"] == "HB_NORTH"].assign(points=run_info["points"])


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def daily(context: dg.AssetExecutionContext) -> pd.DataFrame:
    days = pd.date_range(*[pd.Timestamp(d) for d in context.partition_key_range], freq="D")
    return pd.DataFrame({"delivery_date": days.repeat(2), "value": range(2 * len(days))})


@dg.asset
def daily_total(daily: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"total": [int(daily["value"].sum())], "rows": [len(daily)]})


def _memory_base() -> str:
    return f"memory://dart-tests/{uuid.uuid4().hex}"


def _range(start: str, end: str) -> dict:
    return {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}


def test_tables_and_records_round_trip_in_memory():
    base = _memory_base()
    result = dg.materialize([prices, run_info, north], resources={"io_manager": ParquetIOManager(base_path=base)})

    assert result.success
    fs = fsspec.filesystem("memory")
    root = base.removeprefix("memory://")
    assert sorted(p.rsplit("/", 1)[1] for p in fs.find(root)) == ["north.parquet", "prices.parquet", "run_info.json"]
    expected = PRICES.iloc[[0, 2]].assign(points=2).reset_index(drop=True)
    pd.testing.assert_frame_equal(result.output_for_node("north").reset_index(drop=True), expected)
    with fs.open(f"{root}/north.parquet", "rb") as handle:
        pd.testing.assert_frame_equal(pd.read_parquet(handle), expected)
    assert result.asset_materializations_for_node("north")[0].metadata["dagster/row_count"].value == 2


def test_partition_range_splits_into_daily_files_in_memory():
    base = _memory_base()
    io_manager = ParquetIOManager(base_path=base)

    result = dg.materialize(
        [daily, daily_total], resources={"io_manager": io_manager}, tags=_range("2025-01-02", "2025-01-04")
    )

    assert result.success
    root = base.removeprefix("memory://")
    assert sorted(fsspec.filesystem("memory").ls(f"{root}/daily", detail=False)) == [
        f"/{root}/daily/2025-01-02.parquet",
        f"/{root}/daily/2025-01-03.parquet",
        f"/{root}/daily/2025-01-04.parquet",
    ]
    # Downstream got the three materialized days back: 6 rows, values 0..5.
    assert result.output_for_node("daily_total").to_dict("records") == [{"total": 15, "rows": 6}]


def test_unmaterialized_partitions_fail_with_the_command_that_makes_them():
    io_manager = ParquetIOManager(base_path=_memory_base())

    with pytest.raises(
        FileNotFoundError, match=r"no materialized partitions in 2025-01-01\.\.\.2025-01-04; .*--partition-range"
    ):
        dg.materialize([daily, daily_total], resources={"io_manager": io_manager}, selection=[daily_total])


def test_abfss_storage_lands_in_the_container(fake_account):  # noqa: F811
    io_manager = ParquetIOManager(base_path=STORAGE)

    result = dg.materialize([prices, run_info, north], resources={"io_manager": io_manager})

    assert result.success
    assert sorted(p.name for p in fake_account.iterdir()) == ["north.parquet", "prices.parquet", "run_info.json"]
    assert pd.read_parquet(fake_account / "prices.parquet").equals(PRICES)
