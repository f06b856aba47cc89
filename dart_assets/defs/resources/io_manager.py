"""Parquet (tables) and JSON (small records) storage for every asset, on a local folder or ADLS Gen2 (abfss://).

One file per asset partition, written to a temporary name and renamed into place, so a failed run never leaves
a half-written file or clobbers what an earlier run produced. A run covering a range of partitions (a single-run
backfill) hands over one table; it is split by `delivery_date` into one file per partition (an empty file for a
partition without rows).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
from upath import UPath

from dart_assets.common.files import write_atomically

PARTITION_COLUMN = "delivery_date"


def _storage_options(base: str) -> dict[str, Any]:
    """abfss:// paths authenticate with Azure identity (managed identity in Azure, developer login locally)."""
    if base.startswith("abfss://"):
        return {"anon": False}  # adlfs falls back to DefaultAzureCredential
    return {}


def table_metadata(frame: pd.DataFrame) -> dict[str, dg.MetadataValue]:
    """Row count, time range, null counts and a preview: what a user checks before trusting a table."""
    meta: dict[str, Any] = {"dagster/row_count": dg.MetadataValue.int(len(frame))}
    if "timestamp_utc" in frame and len(frame):
        meta["first_hour_utc"] = dg.MetadataValue.text(str(frame["timestamp_utc"].min()))
        meta["last_hour_utc"] = dg.MetadataValue.text(str(frame["timestamp_utc"].max()))
    if PARTITION_COLUMN in frame and len(frame):
        meta["delivery_days"] = dg.MetadataValue.int(int(frame[PARTITION_COLUMN].nunique()))
    nulls = frame.isna().sum()
    nulls = nulls[nulls > 0]
    meta["null_counts"] = dg.MetadataValue.json({str(k): int(v) for k, v in nulls.items()})
    preview = frame.head(10)
    meta["preview"] = dg.MetadataValue.md(preview.to_markdown(index=False, floatfmt=".2f"))
    return meta


class ParquetIOManager(dg.ConfigurableIOManager):
    """Stores DataFrames as Parquet and dicts as JSON under `base_path` (a folder or an abfss:// URI)."""

    base_path: str

    def _root(self) -> UPath:
        if "://" not in self.base_path:
            return UPath(Path(self.base_path).resolve())
        return UPath(self.base_path, **_storage_options(self.base_path))

    def _dir(self, asset_key: dg.AssetKey) -> UPath:
        return self._root().joinpath(*asset_key.path)

    def _file(self, asset_key: dg.AssetKey, partition: str | None, suffix: str) -> UPath:
        if partition is None:
            return self._root().joinpath(*asset_key.path[:-1], asset_key.path[-1] + suffix)
        return self._dir(asset_key) / f"{partition}{suffix}"

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        if isinstance(obj, dict):
            if context.has_asset_partitions:  # partitions are read back as tables only
                raise TypeError(
                    f"{context.asset_key.to_user_string()}: a partitioned asset must return a DataFrame, not a dict"
                )
            write_atomically(
                self._file(context.asset_key, None, ".json"), json.dumps(obj, indent=2, default=str).encode()
            )
            return
        if not isinstance(obj, pd.DataFrame):
            raise TypeError(
                f"{context.asset_key.to_user_string()}: ParquetIOManager stores DataFrames and dicts, "
                f"got {type(obj).__name__}"
            )
        if context.has_asset_partitions:
            for key, part in self._split(context, obj).items():
                write_atomically(self._file(context.asset_key, key, ".parquet"), part.to_parquet(index=False))
        else:
            write_atomically(self._file(context.asset_key, None, ".parquet"), obj.to_parquet(index=False))
        context.add_output_metadata(table_metadata(obj))

    @staticmethod
    def _split(context: dg.OutputContext, frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
        """One frame per partition key: the rows whose delivery date falls in the partition's time window (a day,
        or a month for the backtest)."""
        keys = list(context.asset_partition_keys)
        if len(keys) == 1:
            return {keys[0]: frame}
        if PARTITION_COLUMN not in frame:
            raise ValueError(
                f"{context.asset_key.to_user_string()}: a multi-partition output needs a {PARTITION_COLUMN} column"
            )
        partitions = context.asset_partitions_def
        if not isinstance(partitions, dg.TimeWindowPartitionsDefinition):
            raise TypeError(f"{context.asset_key.to_user_string()}: only time-window partitions can be split by date")
        windows = [partitions.time_window_for_partition_key(key) for key in keys]
        starts = np.array([np.datetime64(w.start.date()) for w in windows], dtype="datetime64[ns]")
        ends = np.array([np.datetime64(w.end.date()) for w in windows], dtype="datetime64[ns]")
        days = pd.to_datetime(frame[PARTITION_COLUMN]).to_numpy(dtype="datetime64[ns]")
        position = np.searchsorted(starts, days, side="right") - 1
        inside = (position >= 0) & (days < ends[np.clip(position, 0, None)])
        # A partition without rows (no data from the source, e.g. no forecast postings) is empty: gaps are data.
        return {key: frame[inside & (position == i)].reset_index(drop=True) for i, key in enumerate(keys)}

    def load_input(self, context: dg.InputContext) -> Any:
        key = context.asset_key
        if not context.has_asset_partitions:
            table = self._file(key, None, ".parquet")
            record = self._file(key, None, ".json")
            if record.exists():
                return json.loads(record.read_text())
            if not table.exists():
                raise FileNotFoundError(f"{key.to_user_string()} has not been materialized yet ({table})")
            with table.open("rb") as handle:
                return pd.read_parquet(handle)
        wanted = list(context.asset_partition_keys)
        folder = self._dir(key)
        present = (
            {p.name[: -len(".parquet")] for p in folder.iterdir() if p.name.endswith(".parquet")}
            if folder.exists()
            else set()
        )
        found = [k for k in wanted if k in present]
        if not found:
            span = f"{wanted[0]}...{wanted[-1]}" if wanted else "(none)"
            raise FileNotFoundError(
                f"{key.to_user_string()}: no materialized partitions in {span}; materialize them first, e.g. "
                f"dagster asset materialize -m dart_assets.definitions --select {key.to_user_string()} "
                f"--partition-range {span}"
            )
        if len(found) < len(wanted):
            context.log.info(
                f"{key.to_user_string()}: loading {len(found)} of {len(wanted)} partitions "
                "(the rest are not materialized)"
            )
        frames = []
        for k in found:
            with (folder / f"{k}.parquet").open("rb") as handle:
                frames.append(pd.read_parquet(handle))
        return pd.concat(frames, ignore_index=True)
