"""When and how often the forecast load exceeds the transformer's limit.

The point forecast answers "when, if the trend continues"; the band's upper edge gives the earliest date the
overload is plausible and its lower edge the date by which it is near-certain, which is the window in which
the upgrade has to land.
"""

from __future__ import annotations

import pandas as pd

from dart_assets.transformer.model import predict


def horizon_hours(history_end: pd.Timestamp, years: int) -> pd.DatetimeIndex:
    """Every hour from the one after the history ends up to (not including) the same hour `years` later."""
    start = pd.Timestamp(history_end) + pd.Timedelta(hours=1)
    return pd.date_range(start, start + pd.DateOffset(years=years), freq="h", inclusive="left")


def forecast(model: dict, history_end: pd.Timestamp, years: int, limit_kw: float) -> pd.DataFrame:
    """Hourly forecast with band over the horizon and an `overload` flag (point forecast strictly above limit)."""
    frame = predict(model, horizon_hours(history_end, years))
    frame["overload"] = frame["kw"] > limit_kw
    return frame


def _first_above(frame: pd.DataFrame, column: str, limit_kw: float) -> str | None:
    above = frame[column] > limit_kw
    return f"{frame['timestamp'].at[above.idxmax()]:%Y-%m-%d %H:%M}" if above.any() else None


def summarize(frame: pd.DataFrame, limit_kw: float) -> dict:
    """The answer in numbers; hours are "YYYY-MM-DD HH:MM" local, None when the limit is never crossed."""
    peak = frame["kw"].idxmax()
    by_year = frame.groupby(frame["timestamp"].dt.year)["overload"].sum()
    return {
        "limit_kw": float(limit_kw),
        "horizon": [f"{frame['timestamp'].iloc[0]:%Y-%m-%d %H:%M}", f"{frame['timestamp'].iloc[-1]:%Y-%m-%d %H:%M}"],
        "first_overload": _first_above(frame, "kw", limit_kw),
        "overload_hours": int(frame["overload"].sum()),
        "overload_hours_by_year": {str(year): int(hours) for year, hours in by_year.items()},
        "max_kw": float(frame["kw"].max()),
        "max_at": f"{frame['timestamp'].at[peak]:%Y-%m-%d %H:%M}",
        "earliest_first_overload": _first_above(frame, "kw_high", limit_kw),
        "latest_first_overload": _first_above(frame, "kw_low", limit_kw),
    }
