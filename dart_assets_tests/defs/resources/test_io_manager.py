"""ParquetIOManager: one file per partition, atomic writes, and loads of whatever has been materialized."""

import json
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from upath.implementations.local import PosixUPath

from dart_assets.defs.resources.io_manager import ParquetIOManager

DAYS = dg.DailyPartitionsDefinition(start_date="2025-01-01", end_date="2025-01-11", timezone="America/Chicago")
KEY = dg.AssetKey(["market", "prices"])


@pytest.fixture
def manager(tmp_path) -> ParquetIOManager:
    return ParquetIOManager(base_path=str(tmp_path / "store"))


def table(first: str = "2025-01-01", days: int = 3, offset: float = 0.0) -> pd.DataFrame:
    stamps = pd.date_range(pd.Timestamp(first, tz="America/Chicago"), periods=24 * days, freq="h").tz_convert("UTC")
    frame = pd.DataFrame(
        {
            "timestamp_utc": stamps,
            "delivery_date": stamps.tz_convert("America/Chicago").tz_localize(None).normalize(),
            "repeated_hour": False,
            "settlement_point": "HB_NORTH",
            "price": np.arange(len(stamps), dtype="float64") + offset,
        }
    )
    frame.loc[5, "price"] = np.nan
    return frame


def write(manager, obj, key=KEY, **partitions) -> dg.OutputContext:
    context = dg.build_output_context(asset_key=key, asset_partitions_def=DAYS if partitions else None, **partitions)
    manager.handle_output(context, obj)
    return context


def read(manager, key=KEY, **partitions):
    return manager.load_input(
        dg.build_input_context(asset_key=key, asset_partitions_def=DAYS if partitions else None, **partitions)
    )


def key_range(first: str, last: str) -> dict:
    return {"asset_partition_key_range": dg.PartitionKeyRange(first, last)}


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_unpartitioned_table_round_trip_with_metadata(manager, tmp_path):
    frame = table()
    context = write(manager, frame)
    assert files(tmp_path / "store") == ["market/prices.parquet"]
    pd.testing.assert_frame_equal(read(manager), frame)  # tz-aware UTC, naive dates, bools and NaN survive

    meta = context.get_logged_metadata()
    assert meta["dagster/row_count"].value == 72
    assert meta["delivery_days"].value == 3
    assert meta["first_hour_utc"].value == "2025-01-01 06:00:00+00:00"
    assert meta["last_hour_utc"].value == "2025-01-04 05:00:00+00:00"
    assert meta["null_counts"].value == {"price": 1}
    header = meta["preview"].value.splitlines()[0]
    assert [c.strip() for c in header.strip("|").split("|")] == list(frame.columns)
    assert meta["preview"].value.count("HB_NORTH") == 10


def test_dict_round_trip_as_json(manager, tmp_path):
    record = {"model": "lgbm", "metrics": {"test_mae": 12.5}, "points": ["HB_NORTH"], "at": pd.Timestamp("2025-01-02")}
    write(manager, record, key=dg.AssetKey("promoted"))
    path = tmp_path / "store" / "promoted.json"
    assert json.loads(path.read_text())["at"] == "2025-01-02 00:00:00"
    assert read(manager, key=dg.AssetKey("promoted")) == {**record, "at": "2025-01-02 00:00:00"}


def test_one_partition_round_trip(manager, tmp_path):
    day = table("2025-01-02", days=1)
    write(manager, day, partition_key="2025-01-02")
    assert files(tmp_path / "store") == ["market/prices/2025-01-02.parquet"]
    pd.testing.assert_frame_equal(read(manager, partition_key="2025-01-02"), day)


def test_a_partition_range_is_split_into_one_file_per_day(manager, tmp_path):
    frame = table("2025-01-01", days=3)
    context = write(manager, frame, **key_range("2025-01-01", "2025-01-03"))
    folder = tmp_path / "store" / "market" / "prices"
    assert files(folder) == ["2025-01-01.parquet", "2025-01-02.parquet", "2025-01-03.parquet"]
    for day in ("2025-01-01", "2025-01-02", "2025-01-03"):
        part = pd.read_parquet(folder / f"{day}.parquet")
        assert len(part) == 24 and (part.delivery_date == pd.Timestamp(day)).all()
    pd.testing.assert_frame_equal(read(manager, **key_range("2025-01-01", "2025-01-03")), frame)
    pd.testing.assert_frame_equal(read(manager, partition_key="2025-01-02"), frame[24:48].reset_index(drop=True))
    assert context.get_logged_metadata()["dagster/row_count"].value == 72


def test_a_range_of_months_is_split_by_delivery_month(manager, tmp_path):
    months = dg.MonthlyPartitionsDefinition(start_date="2024-10", fmt="%Y-%m", timezone="America/Chicago")
    frame = table("2024-10-30", days=5)  # 10-30..11-03: the fall-back day is in November
    context = dg.build_output_context(asset_key=KEY, asset_partitions_def=months, **key_range("2024-10", "2024-12"))
    manager.handle_output(context, frame)
    folder = tmp_path / "store" / "market" / "prices"
    assert files(folder) == ["2024-10.parquet", "2024-11.parquet", "2024-12.parquet"]
    october, november = (pd.read_parquet(folder / f"{m}.parquet") for m in ("2024-10", "2024-11"))
    assert sorted(october.delivery_date.dt.day.unique()) == [30, 31] and len(october) == 48
    assert sorted(november.delivery_date.dt.day.unique()) == [1, 2, 3] and len(november) == 72
    assert len(pd.read_parquet(folder / "2024-12.parquet")) == 0


def test_a_day_without_rows_is_stored_as_an_empty_partition(manager, tmp_path):
    frame = table("2025-01-01", days=3)
    frame = frame[frame.delivery_date != "2025-01-02"]
    write(manager, frame, **key_range("2025-01-01", "2025-01-03"))
    folder = tmp_path / "store" / "market" / "prices"
    assert files(folder) == ["2025-01-01.parquet", "2025-01-02.parquet", "2025-01-03.parquet"]
    empty = pd.read_parquet(folder / "2025-01-02.parquet")
    assert len(empty) == 0 and list(empty.columns) == list(frame.columns)
    pd.testing.assert_frame_equal(
        read(manager, **key_range("2025-01-01", "2025-01-03")), frame.reset_index(drop=True), check_index_type=False
    )


def test_a_partition_range_needs_delivery_date(manager):
    with pytest.raises(ValueError, match="multi-partition output needs a delivery_date column"):
        write(manager, table().drop(columns="delivery_date"), **key_range("2025-01-01", "2025-01-03"))


def half_write_then_fail(monkeypatch):
    real_open = PosixUPath.open

    class Failing:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, payload):
            self.handle.write(payload[: len(payload) // 2])
            raise OSError("No space left on device")

    def open_(self, mode="r", *args, **kwargs):
        handle = real_open(self, mode, *args, **kwargs)
        return Failing(handle) if "w" in mode else handle

    monkeypatch.setattr(PosixUPath, "open", open_)


def fail_rename(monkeypatch):
    from fsspec.implementations.local import LocalFileSystem

    def mv(self, *args, **kwargs):
        raise OSError("rename failed")

    monkeypatch.setattr(LocalFileSystem, "mv", mv)


@pytest.mark.parametrize("failure", [half_write_then_fail, fail_rename], ids=["write", "rename"])
@pytest.mark.parametrize("partitioned", [True, False], ids=["partitioned", "unpartitioned"])
def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temp_file(
    manager, tmp_path, monkeypatch, failure, partitioned
):
    where = {"partition_key": "2025-01-02"} if partitioned else {}
    path = tmp_path / "store" / "market" / ("prices/2025-01-02.parquet" if partitioned else "prices.parquet")
    old = table("2025-01-02", days=1)
    write(manager, old, **where)
    before = path.read_bytes()

    failure(monkeypatch)
    with pytest.raises(OSError, match=r"No space left on device|rename failed"):
        write(manager, table("2025-01-02", days=1, offset=1000.0), **where)
    monkeypatch.undo()

    assert path.read_bytes() == before
    assert files(tmp_path / "store") == [str(path.relative_to(tmp_path / "store"))]  # no .tmp left behind
    pd.testing.assert_frame_equal(read(manager, **where), old)


def test_a_range_load_reads_only_materialized_partitions(manager):
    write(manager, table("2025-01-01", days=1), partition_key="2025-01-01")
    write(manager, table("2025-01-03", days=1, offset=7.0), partition_key="2025-01-03")
    loaded = read(manager, **key_range("2025-01-01", "2025-01-10"))
    assert len(loaded) == 48
    assert sorted(loaded.delivery_date.dt.strftime("%Y-%m-%d").unique()) == ["2025-01-01", "2025-01-03"]
    assert loaded.price.iloc[24] == 7.0


def test_nothing_materialized_is_a_clear_error(manager, tmp_path):
    with pytest.raises(
        FileNotFoundError,
        match=r"market/prices: no materialized partitions in 2025-01-04\.\.\.2025-01-06; "
        r"materialize them first, e\.g\. dagster asset materialize .*--partition-range 2025-01-04\.\.\.2025-01-06",
    ):
        read(manager, **key_range("2025-01-04", "2025-01-06"))
    write(manager, table("2025-01-01", days=1), partition_key="2025-01-01")
    with pytest.raises(FileNotFoundError, match="no materialized partitions in 2025-01-04"):
        read(manager, **key_range("2025-01-04", "2025-01-06"))
    with pytest.raises(FileNotFoundError, match=r"features has not been materialized yet"):
        read(manager, key=dg.AssetKey("features"))


def test_other_objects_are_refused_and_none_writes_nothing(manager, tmp_path):
    with pytest.raises(TypeError, match="market/prices: ParquetIOManager stores DataFrames and dicts, got list"):
        write(manager, [1, 2])
    write(manager, None)
    assert not (tmp_path / "store").exists()


def test_a_partitioned_dict_is_refused_because_partitions_load_as_tables(manager, tmp_path):
    with pytest.raises(TypeError, match="market/prices: a partitioned asset must return a DataFrame, not a dict"):
        write(manager, {"a": 1}, partition_key="2025-01-02")
    assert not (tmp_path / "store").exists()


def test_unpartitioned_downstream_of_daily_assets_loads_what_exists(tmp_path):
    """The hourly_features shape: an unpartitioned asset reading every materialized day of a daily asset."""

    @dg.asset(partitions_def=DAYS)
    def daily(context: dg.AssetExecutionContext) -> pd.DataFrame:
        return table(context.partition_key, days=1)

    @dg.asset
    def combined(daily: pd.DataFrame) -> pd.DataFrame:
        return daily.groupby("delivery_date", as_index=False).size()

    resources = {"io_manager": ParquetIOManager(base_path=str(tmp_path / "store"))}
    instance = dg.DagsterInstance.ephemeral()
    for day in ("2025-01-02", "2025-01-05"):
        assert dg.materialize([daily], partition_key=day, resources=resources, instance=instance).success
    result = dg.materialize([daily, combined], selection=[combined], resources=resources, instance=instance)
    out = result.output_for_node("combined")
    assert out.delivery_date.dt.strftime("%Y-%m-%d").tolist() == ["2025-01-02", "2025-01-05"]
    assert out["size"].tolist() == [24, 24]
    assert (tmp_path / "store" / "combined.parquet").exists()
