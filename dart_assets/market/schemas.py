"""The tidy market tables every data source produces, and their validation.

One row per (UTC hour beginning, settlement point) for prices, one row per UTC hour for system conditions (actual
drivers), one row per (UTC hour, posting time) for driver forecasts.
Every source (synthetic generator, ERCOT report files, a tidy table) returns exactly these columns, so the
feature code never knows where the data came from.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:  # pandera is imported when a table is validated, not when the code location loads
    import pandera.pandas as pa

KEY_COLUMNS = ["timestamp_utc", "delivery_date", "hour_ending", "repeated_hour"]
PRICE_KEY_COLUMNS = [*KEY_COLUMNS, "settlement_point"]
DAM_COLUMNS = [*PRICE_KEY_COLUMNS, "dam_price"]
RTM_COLUMNS = [*PRICE_KEY_COLUMNS, "rtm_price"]

# Drivers a source may carry. Actuals (system_conditions) are known only after the hour.
DRIVER_ACTUALS = ["load_mw", "wind_mw", "solar_mw", "temperature_f"]
# Forecasts (driver_forecasts) are known from their posting time on: one row per (delivery hour, posting), so a
# feature for delivery day D can take the latest posting at or before D's decision time.
# ERCOT's regions: STWPF wind regions (NP4-742-CD), STPPF solar regions (NP4-745-CD), weather zones of the
# load forecast (NP3-565-CD) and forecast zones (NP3-560-CD).
WIND_REGIONS = ("panhandle", "coastal", "south", "west", "north")
SOLAR_REGIONS = ("centerwest", "northwest", "farwest", "fareast", "southeast", "centereast")
LOAD_WEATHER_ZONES = ("coast", "east", "farwest", "north", "northcentral", "southcentral", "southern", "west")
LOAD_FORECAST_ZONES = ("north", "south", "west", "houston")
SYSTEM_FORECASTS = ["load_forecast_mw", "wind_forecast_mw", "solar_forecast_mw", "temperature_forecast_f"]
REGIONAL_FORECASTS = [
    *(f"wind_forecast_{region}_mw" for region in WIND_REGIONS),
    *(f"solar_forecast_{region}_mw" for region in SOLAR_REGIONS),
    *(f"load_forecast_{zone}_mw" for zone in LOAD_WEATHER_ZONES),
    *(f"load_forecast_zone_{zone}_mw" for zone in LOAD_FORECAST_ZONES),
]
DRIVER_FORECASTS = SYSTEM_FORECASTS + REGIONAL_FORECASTS
POSTED_COLUMN = "posted_utc"
FORECAST_KEY_COLUMNS = [*KEY_COLUMNS, POSTED_COLUMN]
# The driver columns system_conditions may carry: actuals only (forecasts live in driver_forecasts, with their
# posting times, so a feature can tell which were public at the decision time).
DRIVER_COLUMNS = DRIVER_ACTUALS
MARKET_TABLES = ("dam_prices", "rtm_prices", "system_conditions", "driver_forecasts")

PRICE_FLOOR = -250.0  # ERCOT's offer floor, $/MWh
# Headroom beyond floor/cap for adders and congestion in hub and load-zone prices; beyond it is corrupt data.
PRICE_HEADROOM = 750.0


def offer_cap(delivery_date: pd.Series) -> pd.Series:
    """ERCOT's system-wide offer cap: $9,000/MWh before 2022, $5,000/MWh from 2022 on."""
    return pd.Series(
        (pd.to_datetime(delivery_date) < pd.Timestamp("2022-01-01")).map({True: 9000.0, False: 5000.0}).to_numpy(),
        index=delivery_date.index,
        dtype="float64",
    )


class MarketDataError(ValueError):
    """Malformed or impossible market data; the message names the source and the problem."""


def _driver_column(name: str) -> pa.Column:
    import pandera.pandas as pa

    check = pa.Check.in_range(-200.0, 200.0) if name.startswith("temperature") else pa.Check.in_range(0.0, 200_000.0)
    return pa.Column("float64", check, required=False, nullable=True)


def _price_schema(price: str) -> pa.DataFrameSchema:
    import pandera.pandas as pa

    return pa.DataFrameSchema(
        {
            "timestamp_utc": pa.Column("datetime64[ns, UTC]"),
            "delivery_date": pa.Column("datetime64[ns]"),
            "hour_ending": pa.Column("int64", pa.Check.in_range(1, 24)),
            "repeated_hour": pa.Column(bool),
            "settlement_point": pa.Column(str, pa.Check.str_length(min_value=1)),
            price: pa.Column(
                "float64",
                checks=[
                    pa.Check.ge(PRICE_FLOOR - PRICE_HEADROOM, error=f"{price} below floor {PRICE_FLOOR} minus headroom")
                ],
                nullable=False,
            ),
        },
        checks=[
            pa.Check(
                lambda df: df[price] <= offer_cap(df["delivery_date"]) + PRICE_HEADROOM,
                name=f"{price} at or below the offer cap (9000 before 2022, 5000 after) plus headroom {PRICE_HEADROOM}",
            )
        ],
        strict=True,
        ordered=False,
        coerce=False,
    )


@functools.cache
def _schemas() -> dict[str, pa.DataFrameSchema]:
    """The pandera schema of each market table, built on first use."""
    import pandera.pandas as pa

    system = pa.DataFrameSchema(
        {
            "timestamp_utc": pa.Column("datetime64[ns, UTC]"),
            "delivery_date": pa.Column("datetime64[ns]"),
            "hour_ending": pa.Column("int64", pa.Check.in_range(1, 24)),
            "repeated_hour": pa.Column(bool),
            **{col: _driver_column(col) for col in DRIVER_COLUMNS},
        },
        strict=True,
        ordered=False,
    )
    forecasts = pa.DataFrameSchema(
        {
            "timestamp_utc": pa.Column("datetime64[ns, UTC]"),
            "delivery_date": pa.Column("datetime64[ns]"),
            "hour_ending": pa.Column("int64", pa.Check.in_range(1, 24)),
            "repeated_hour": pa.Column(bool),
            POSTED_COLUMN: pa.Column("datetime64[ns, UTC]"),
            **{col: _driver_column(col) for col in DRIVER_FORECASTS},
        },
        strict=True,
        ordered=False,
        # One row per delivery hour and posting: two rows for the same pair would make "the latest posting"
        # ambiguous.
        unique=["timestamp_utc", POSTED_COLUMN],
        report_duplicates="exclude_first",
    )
    return {
        "dam_prices": _price_schema("dam_price"),
        "rtm_prices": _price_schema("rtm_price"),
        "system_conditions": system,
        "driver_forecasts": forecasts,
    }


UNIQUE_KEYS = {
    "dam_prices": ["timestamp_utc", "settlement_point"],
    "rtm_prices": ["timestamp_utc", "settlement_point"],
    "system_conditions": ["timestamp_utc"],
    "driver_forecasts": ["timestamp_utc", POSTED_COLUMN],
}
_BASE_COLUMNS = {
    "dam_prices": DAM_COLUMNS,
    "rtm_prices": RTM_COLUMNS,
    "system_conditions": KEY_COLUMNS,
    "driver_forecasts": FORECAST_KEY_COLUMNS,
}
_DTYPES: dict[str, Any] = {
    "timestamp_utc": "datetime64[ns, UTC]",
    POSTED_COLUMN: "datetime64[ns, UTC]",
    "delivery_date": "datetime64[ns]",
    "hour_ending": "int64",
    "repeated_hour": bool,
    "settlement_point": object,
}


def empty(kind: str, extra: list[str] | tuple[str, ...] = ()) -> pd.DataFrame:
    """A table of `kind` with no rows (a day a source has no data for), with its key columns plus `extra`."""
    columns = [*_BASE_COLUMNS[kind], *extra]
    return pd.DataFrame({c: pd.Series(dtype=_DTYPES.get(c, "float64")) for c in columns})


def validate(kind: str, frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Validate a market table; raise MarketDataError naming the source, the column and the first bad rows."""
    import pandera.pandas as pa

    try:
        return _schemas()[kind].validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases.drop_duplicates(["index", "check"])
        lines = []
        for row in cases.head(8).itertuples():
            located = row.index is not None and row.index == row.index
            # Readers index rows by where they came from ("<file>, row 7"); others by position.
            at = (row.index if isinstance(row.index, str) else f"row {row.index}") if located else "table"
            what = f"column {row.column!r}: " if row.schema_context == "Column" else ""
            if row.schema_context == "Column":
                value = f", value {row.failure_case!r}"
            elif located:
                value = _checked_value(frame, row.index, str(row.check))
            else:
                value = f" {row.failure_case!r}"
            check = (
                "duplicate " + "/".join(UNIQUE_KEYS[kind]) if row.check == "multiple_fields_uniqueness" else row.check
            )
            lines.append(f"{at}: {what}{check}{value}")
        raise MarketDataError(
            f"{source}: {kind} failed validation ({len(cases)} problem(s)):\n  " + "\n  ".join(lines)
        ) from None


def _checked_value(frame: pd.DataFrame, index, check: str) -> str:
    """', value <v>' for a table-wide check named after the column it tests (e.g. the offer-cap check)."""
    column = next((c for c in frame.columns if check.startswith(f"{c} ")), None)
    if column is None or index not in frame.index:
        return ""
    value = frame.loc[[index], column].iloc[0]
    return f", value {value.item() if hasattr(value, 'item') else value!r}"
