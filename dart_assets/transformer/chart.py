"""The overload picture: daily peak history, forecast and band against the limit, as PNG bytes.

Hourly points over eight years are an unreadable smear, so every series is reduced to its daily maximum: the
question is whether the day's peak crosses the limit.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd


def _daily_max(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return frame.set_index("timestamp")[columns].resample("D").max()


def overload_chart(history: pd.DataFrame, forecast: pd.DataFrame, summary: dict, dpi: int = 80) -> bytes:
    """PNG of daily peaks: history, forecast, P05-P95 band, limit line and the first predicted overload."""
    past = _daily_max(history, ["kw"])
    future = _daily_max(forecast, ["kw", "kw_low", "kw_high"])
    fig, ax = plt.subplots(figsize=(11, 4.5))
    try:
        ax.plot(past.index, past["kw"], color="0.35", linewidth=0.8, label="history (daily peak)")
        ax.fill_between(
            future.index, future["kw_low"], future["kw_high"], color="tab:blue", alpha=0.2, label="P05-P95 band"
        )
        ax.plot(future.index, future["kw"], color="tab:blue", linewidth=0.8, label="forecast (daily peak)")
        ax.axhline(
            summary["limit_kw"],
            color="tab:red",
            linestyle="--",
            linewidth=1.2,
            label=f"limit {summary['limit_kw']:g} kW",
        )
        if summary["first_overload"]:
            first = pd.Timestamp(summary["first_overload"])
            ax.axvline(float(mdates.date2num(first)), color="tab:red", linewidth=0.8, alpha=0.6)
            ax.annotate(
                f"first overload {first:%Y-%m-%d}",
                (first, summary["limit_kw"]),
                xytext=(-8, 12),
                textcoords="offset points",
                ha="right",
                color="tab:red",
            )
        ax.set_ylabel("kW")
        ax.set_title(f"Transformer peak load: {summary['overload_hours']} overload hours forecast")
        ax.legend(loc="upper left", fontsize="small")
        ax.grid(alpha=0.3)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return buffer.getvalue()
