"""Hourly peak load history of the data-centre transformer: a reproducible generator and the sensor CSV reader.

Both return the same tidy frame, one row per hour in local wall-clock time with no gaps:
`timestamp` (naive datetime64, hour beginning) and `kw` (float, peak load in kW). The sensors' clock does not
follow daylight saving, so the series is a plain hourly grid; a clock that did would show up as a gap or a
repeated hour and is rejected rather than silently patched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M"
REQUIRED_COLUMNS = ("timestamp", "kw")
HOURS_PER_YEAR = 365.25 * 24
MAX_LISTED_GAPS = 5


class TransformerDataError(ValueError):
    """A load history that cannot be used; the message names the file, the row and the problem."""


@dataclass(frozen=True)
class LoadGenerator:
    """The built-in history's known truth: linear growth plus daily, weekly and yearly cycles and Gaussian noise.

    The defaults put the noise-free daily peaks above 85 kW for the first time in spring 2028, about two and
    a half years into a five-year horizon starting 2026, so the overload question has a non-trivial answer.
    Cycles are sinusoids peaking at the stated hour/day so the generator's mean curve can be computed exactly
    (`mean_kw`) and compared with what the model recovers from the noisy history.
    """

    start: str = "2023-01-01 00:00"
    end: str = "2025-12-31 23:00"
    base_kw: float = 50.0  # load at `start`, before seasonality
    growth_kw_per_year: float = 4.0
    daily_amplitude_kw: float = 5.0
    daily_peak_hour: float = 15.0  # cooling load peaks mid-afternoon
    weekly_amplitude_kw: float = 1.5
    weekly_peak_day: float = 2.5  # days after Monday 00:00: mid-week busiest, weekend lightest
    yearly_amplitude_kw: float = 8.0
    yearly_peak_day: float = 200.0  # day of year ~ 19 July
    noise_sd_kw: float = 1.2
    seed: int = 20251231

    def mean_kw(self, timestamps: pd.DatetimeIndex | pd.Series) -> np.ndarray:
        """The noise-free load the generator draws around, at any hours (history or future)."""
        ts = pd.DatetimeIndex(timestamps)
        years = (ts - pd.Timestamp(self.start)) / pd.Timedelta(hours=1) / HOURS_PER_YEAR
        hour_of_day = ts.hour + ts.minute / 60
        day_of_week = ts.dayofweek + hour_of_day / 24
        day_of_year = ts.dayofyear - 1 + hour_of_day / 24
        return np.asarray(
            self.base_kw
            + self.growth_kw_per_year * years
            + self.daily_amplitude_kw * np.cos(2 * np.pi * (hour_of_day - self.daily_peak_hour) / 24)
            + self.weekly_amplitude_kw * np.cos(2 * np.pi * (day_of_week - self.weekly_peak_day) / 7)
            + self.yearly_amplitude_kw * np.cos(2 * np.pi * (day_of_year - self.yearly_peak_day) / 365.25),
            dtype="float64",
        )

    def history(self) -> pd.DataFrame:
        """The hourly history from `start` to `end` inclusive; same seed, same numbers."""
        timestamps = pd.date_range(self.start, self.end, freq="h")
        noise = np.random.default_rng(self.seed).normal(0.0, self.noise_sd_kw, len(timestamps))
        kw = np.clip(self.mean_kw(timestamps) + noise, 0.0, None)
        return pd.DataFrame({"timestamp": timestamps, "kw": kw})


def read_sensor_csv(path: str | Path) -> pd.DataFrame:
    """Read a sensor export (`timestamp` "YYYY-MM-DD HH:MM" local, `kw`; other columns ignored) into the tidy frame.

    Raises TransformerDataError on the first problem, naming the file and the row as a spreadsheet shows it
    (the header is row 1, so the first reading is row 2).
    """
    path = Path(path)

    def fail(problem: str, position: int | None = None) -> TransformerDataError:
        where = f", row {position + 2}" if position is not None else ""
        return TransformerDataError(f"{path}{where}: {problem}")

    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise fail("file not found") from None
    except pd.errors.EmptyDataError:
        raise fail("empty file: no header and no readings") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise fail(f"not a readable CSV ({exc})") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise fail(f"missing column(s) {', '.join(missing)}; found {', '.join(raw.columns) or 'none'}")
    if raw.empty:
        raise fail("no readings below the header")

    text_ts = raw["timestamp"].str.strip()
    timestamps = pd.to_datetime(text_ts, format=TIMESTAMP_FORMAT, errors="coerce")
    if timestamps.isna().any():
        i = int(timestamps.isna().to_numpy().argmax())
        raise fail(f"timestamp {text_ts.iloc[i]!r} is not 'YYYY-MM-DD HH:MM'", i)
    off_hour = timestamps.dt.minute != 0
    if off_hour.any():
        i = int(off_hour.to_numpy().argmax())
        raise fail(f"timestamp {text_ts.iloc[i]!r} is not on the hour (hourly peaks expected)", i)

    text_kw = raw["kw"].str.strip()
    kw = pd.to_numeric(text_kw, errors="coerce")
    not_numeric = kw.isna() | ~np.isfinite(kw.fillna(0.0))
    if not_numeric.any():
        i = int(not_numeric.to_numpy().argmax())
        raise fail(f"kw {text_kw.iloc[i]!r} is not a number", i)
    negative = kw < 0
    if negative.any():
        i = int(negative.to_numpy().argmax())
        raise fail(f"kw {kw.iloc[i]} is negative; a load cannot be below zero", i)

    _check_hourly_grid(timestamps.reset_index(drop=True), fail)
    return pd.DataFrame({"timestamp": timestamps.to_numpy(), "kw": kw.astype("float64").to_numpy()})


def _check_hourly_grid(timestamps: pd.Series, fail) -> None:
    """Every hour exactly once, in order: the model's Fourier terms and the forecast start assume it."""
    repeated = timestamps.duplicated()
    if repeated.any():
        i = int(repeated.to_numpy().argmax())
        first = int((timestamps == timestamps.iloc[i]).to_numpy().argmax())
        raise fail(f"hour {timestamps.iloc[i]:%Y-%m-%d %H:%M} repeats row {first + 2}", i)
    backwards = timestamps.diff() < pd.Timedelta(0)
    if backwards.any():
        i = int(backwards.to_numpy().argmax())
        raise fail(
            f"hour {timestamps.iloc[i]:%Y-%m-%d %H:%M} comes after {timestamps.iloc[i - 1]:%Y-%m-%d %H:%M}; "
            "rows must be sorted by time",
            i,
        )
    expected = pd.date_range(timestamps.iloc[0], timestamps.iloc[-1], freq="h")
    if len(expected) != len(timestamps):
        gaps = expected.difference(pd.DatetimeIndex(timestamps))
        listed = ", ".join(f"{t:%Y-%m-%d %H:%M}" for t in gaps[:MAX_LISTED_GAPS])
        more = f" and {len(gaps) - MAX_LISTED_GAPS} more" if len(gaps) > MAX_LISTED_GAPS else ""
        after = int(np.searchsorted(timestamps.to_numpy(), gaps[0].to_datetime64()))
        raise fail(f"{len(gaps)} missing hour(s), the first right after this row: {listed}{more}", after - 1)
