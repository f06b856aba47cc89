"""A deterministic, ERCOT-like market generator: the default data source, so a fresh clone needs no account.

Every value is a function of (settlement point, delivery day) alone: weather and congestion are sums of slow
sinusoids of absolute time with fixed phases (persistent across days, yet computable for any single day), and
the noise of a day is drawn from a generator seeded by that day and point. Any partition reproduces exactly.

The price formation is what makes DART (DAM - RTM) partly learnable, as in the real market:
- DAM clears on the day-ahead *forecasts* of load, wind and solar; RTM on the *actuals*. The supply stack is
  convex, so the same forecast error costs more at high net load.
- Wind forecasts are biased high when high winds are forecast (curtailment, icing, ramps): windy days settle
  RTM above DAM. Solar forecasts are conservative: sunny middays settle RTM below DAM.
- DAM carries a risk premium that grows with forecast scarcity; RTM has fat-tailed scarcity spikes near the
  top of the stack and negative prices when wind floods the West.
- A slow congestion regime per point moves RTM; DAM only learns it with a lag, so recent DART carries signal.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dart_assets.market import schemas
from dart_assets.market.timeutil import MARKET_TZ, ercot_holidays, range_hours

SEED = 20240611
EPOCH = pd.Timestamp("2015-01-01", tz="UTC")


@dataclass(frozen=True)
class PointProfile:
    """How a settlement point's price departs from the system price (all in $/MWh)."""

    basis: float  # constant offset
    wind_basis: float  # per unit of wind capacity factor above 0.35 (West congestion)
    load_basis: float  # per GW of load above 50 GW (load-pocket congestion)
    congestion: float  # amplitude of the slow congestion regime


POINTS: dict[str, PointProfile] = {
    "HB_HOUSTON": PointProfile(1.5, -4.0, 0.25, 5.0),
    "HB_NORTH": PointProfile(0.0, -8.0, 0.10, 3.0),
    "HB_SOUTH": PointProfile(0.5, -6.0, 0.15, 4.0),
    "HB_WEST": PointProfile(-2.5, -45.0, 0.05, 8.0),
    "HB_PAN": PointProfile(-4.0, -60.0, 0.0, 10.0),
    "HB_BUSAVG": PointProfile(0.0, -10.0, 0.12, 3.0),
    "HB_HUBAVG": PointProfile(0.0, -12.0, 0.12, 3.0),
    "LZ_HOUSTON": PointProfile(2.0, -4.0, 0.30, 6.0),
    "LZ_NORTH": PointProfile(0.5, -8.0, 0.12, 3.5),
    "LZ_SOUTH": PointProfile(1.0, -6.0, 0.18, 4.5),
    "LZ_WEST": PointProfile(-2.0, -50.0, 0.05, 9.0),
    "LZ_AEN": PointProfile(0.8, -7.0, 0.15, 4.0),
    "LZ_CPS": PointProfile(0.8, -7.0, 0.15, 4.0),
    "LZ_LCRA": PointProfile(0.5, -9.0, 0.12, 4.0),
    "LZ_RAYBN": PointProfile(0.3, -8.0, 0.10, 3.5),
}


def _check_points(points: list[str] | tuple[str, ...]) -> None:
    unknown = [p for p in points if p not in POINTS]
    if unknown:
        raise schemas.MarketDataError(
            f"synthetic source: unknown settlement point(s) {', '.join(unknown)}; it generates: {', '.join(POINTS)}"
        )


def _smooth(t_hours: np.ndarray, key: str) -> np.ndarray:
    """A slow, persistent, unit-variance signal of absolute time: weather fronts, congestion regimes."""
    rng = np.random.default_rng([SEED, zlib.crc32(key.encode())])
    periods = np.array([1.7, 2.9, 4.3, 6.1, 9.7, 15.3, 26.0]) * 24.0
    weights = rng.normal(size=periods.size)
    phases = rng.uniform(0, 2 * np.pi, size=periods.size)
    waves = np.sin(2 * np.pi * t_hours[:, None] / periods[None, :] + phases[None, :]) @ weights
    return waves / np.sqrt((weights**2).sum() / 2)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _stack_price(net_load_mw: np.ndarray, gas: np.ndarray) -> np.ndarray:
    """Convex supply stack: cheap at low net load, steep near the top, scarcity pricing beyond it."""
    x = net_load_mw / 60_000.0
    return gas * (18.0 + 22.0 * np.exp(2.8 * (x - 0.6))) + 1800.0 * _sigmoid((net_load_mw - 80_000.0) / 2_000.0)


def _years_since_2024(t_hours: np.ndarray) -> np.ndarray:
    return t_hours / 8766.0 - 9.0


def _wind_capacity(t_hours: np.ndarray) -> np.ndarray:
    """Installed wind grows about 4% a year."""
    return 38_000 * (1 + 0.04 * _years_since_2024(t_hours))


class _DailyNoise:
    """Random draws made day by day, each day from a generator seeded by (seed parts, that day): a day's values
    do not depend on which other days are generated with it, yet all days are drawn in one vectorised pass."""

    def __init__(self, delivery_date: pd.Series, *seed: int):
        days, self.lengths = np.unique(delivery_date.to_numpy(), return_counts=True)
        self.rngs = [np.random.default_rng([SEED, *seed, pd.Timestamp(d).toordinal()]) for d in days]

    def draw(self, method: str, *args) -> np.ndarray:
        return np.concatenate(
            [getattr(rng, method)(*args, size=n) for rng, n in zip(self.rngs, self.lengths, strict=True)]
        )


def _clock(hours: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.Series]:
    """Hours since EPOCH, local hour (mid-hour), local day of year, local timestamps."""
    ts = hours["timestamp_utc"]
    local = ts.dt.tz_convert(MARKET_TZ)
    t = ((ts - EPOCH) / pd.Timedelta(hours=1)).to_numpy(dtype=float)
    return t, local.dt.hour.to_numpy() + 0.5, local.dt.dayofyear.to_numpy(), local


def _system(hours: pd.DataFrame, holiday: np.ndarray) -> pd.DataFrame:
    t, h, doy, local = _clock(hours)
    noise = _DailyNoise(hours["delivery_date"])

    season = np.cos(2 * np.pi * (doy - 200) / 365.25)  # +1 mid-July, -1 mid-January
    temp = 67 + 19 * season + 9 * np.cos(2 * np.pi * (h - 16) / 24) + 7 * _smooth(t, "temperature")
    temp_fc = temp + 1.5 * _smooth(t, "temperature-error") + noise.draw("normal", 0, 1.0)

    years = _years_since_2024(t)
    daily_shape = 0.5 - 0.5 * np.cos(2 * np.pi * (h - 4) / 24) + 0.15 * np.exp(-((h - 19) ** 2) / 6)
    weekend = local.dt.dayofweek.to_numpy() >= 5
    base = (36_000 + 9_000 * daily_shape) * (1 - 0.07 * weekend - 0.09 * holiday) * (1 + 0.03 * years)
    load = base + 1_150 * np.maximum(temp - 68, 0) + 750 * np.maximum(48 - temp, 0)
    load *= 1 + 0.012 * _smooth(t, "load-noise")
    load_fc = load * (1 + 0.018 * _smooth(t, "load-error") + noise.draw("normal", 0, 0.006))

    wind_cap = _wind_capacity(t)
    wind_cf_fc = np.clip(
        0.36
        + 0.12 * np.cos(2 * np.pi * (h - 2) / 24)
        + 0.07 * np.cos(2 * np.pi * (doy - 100) / 365.25)
        + 0.2 * _smooth(t, "wind"),
        0.02,
        0.92,
    )
    # Forecasts run high on windy days: actual output falls short of a high forecast.
    wind_cf = np.clip(
        wind_cf_fc
        - 0.35 * np.maximum(wind_cf_fc - 0.40, 0)
        + 0.05 * _smooth(t, "wind-error")
        + noise.draw("normal", 0, 0.015),
        0.01,
        0.95,
    )

    solar_cap = 24_000 * (1 + 0.15 * years)
    day_length = 12.2 + 1.9 * season
    sunrise = 13.0 - day_length / 2
    clear_sky = np.clip(np.sin(np.pi * (h - sunrise) / day_length), 0, None) ** 1.3
    clouds = np.clip(0.35 + 0.35 * _smooth(t, "clouds"), 0, 0.9)
    solar_fc = solar_cap * clear_sky * (1 - clouds)
    # Solar forecasts are conservative on clear days.
    solar = solar_fc * (1 + 0.14 * (1 - clouds) - 0.04 + 0.03 * _smooth(t, "solar-error")) + noise.draw(
        "normal", 0, 150
    ) * (clear_sky > 0)

    frame = hours.copy()
    frame["load_mw"] = load
    frame["load_forecast_mw"] = load_fc
    frame["wind_mw"] = wind_cap * wind_cf
    frame["wind_forecast_mw"] = wind_cap * wind_cf_fc
    frame["solar_mw"] = np.clip(solar, 0, None)
    frame["solar_forecast_mw"] = solar_fc
    frame["temperature_f"] = temp
    frame["temperature_forecast_f"] = temp_fc
    return frame


def _prices(system: pd.DataFrame, point: str) -> tuple[np.ndarray, np.ndarray]:
    profile = POINTS[point]
    t, h, doy, _ = _clock(system)
    noise = _DailyNoise(system["delivery_date"], zlib.crc32(point.encode()))

    gas = 1.0 + 0.22 * np.cos(2 * np.pi * (doy - 20) / 365.25) + 0.15 * _smooth(t / 6.0, "gas")

    def node_price(load, wind, solar, wind_cf):
        net = load - wind - solar
        renewables_share = (wind + solar) / load
        system_price = _stack_price(net, gas) - 70.0 * np.maximum(renewables_share - 0.6, 0)
        congestion = profile.wind_basis * np.maximum(wind_cf - 0.35, 0) + profile.load_basis * (load - 50_000) / 1_000
        return system_price + profile.basis + congestion, net

    wind_capacity = _wind_capacity(t)
    wind_fc = system["wind_forecast_mw"].to_numpy()
    wind = system["wind_mw"].to_numpy()
    dam_base, net_fc = node_price(
        system["load_forecast_mw"].to_numpy(), wind_fc, system["solar_forecast_mw"].to_numpy(), wind_fc / wind_capacity
    )
    rtm_base, net = node_price(system["load_mw"].to_numpy(), wind, system["solar_mw"].to_numpy(), wind / wind_capacity)

    regime = profile.congestion * _smooth(t, f"congestion-{point}")
    regime_seen = profile.congestion * _smooth(t - 48.0, f"congestion-{point}")  # DAM learns congestion late
    evening = np.exp(-((h - 19.5) ** 2) / 4.0)
    premium = 1.5 + 4.0 * evening + 45.0 * _sigmoid((net_fc - 74_000.0) / 3_000.0)
    dam = dam_base + 0.6 * regime_seen + premium + noise.draw("normal", 0, 1.2)

    spike_p = 0.003 + 0.2 * _sigmoid((net - 76_000.0) / 2_500.0)
    spikes = (noise.draw("random") < spike_p) * noise.draw("lognormal", np.log(180.0), 1.0)
    dumps = (
        (noise.draw("random") < 0.3 * np.maximum(wind / wind_capacity - 0.55, 0))
        * noise.draw("uniform", 20, 120)
        * (profile.wind_basis < -20)
    )
    rtm = rtm_base + regime + 2.5 * noise.draw("standard_t", 3) + spikes - dumps

    cap = schemas.offer_cap(system["delivery_date"]).to_numpy()
    return (np.round(np.clip(dam, schemas.PRICE_FLOOR, cap), 2), np.round(np.clip(rtm, schemas.PRICE_FLOOR, cap), 2))


def system_conditions(start: dt.date | str, end: dt.date | str) -> pd.DataFrame:
    """Load, wind, solar and temperature (actuals and day-ahead forecasts) for delivery days start..end inclusive."""
    first, last = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    if last < first:
        raise ValueError(f"synthetic source: empty date range {start}..{end}")
    hours = range_hours(first, last)
    holidays = ercot_holidays(first.date(), last.date())
    return _system(hours, hours["delivery_date"].dt.date.isin(holidays).to_numpy())


def generate(start: dt.date | str, end: dt.date | str, points: list[str] | tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """DAM, RTM and system conditions for delivery days start..end (inclusive), in the tidy market schema."""
    _check_points(points)
    system = system_conditions(start, end)
    keys = system[schemas.KEY_COLUMNS]
    dam, rtm = [], []
    for point in points:
        dam_price, rtm_price = _prices(system, point)
        dam.append(keys.assign(settlement_point=point, dam_price=dam_price))
        rtm.append(keys.assign(settlement_point=point, rtm_price=rtm_price))
    order = ["timestamp_utc", "settlement_point"]
    return {
        "dam_prices": pd.concat(dam, ignore_index=True).sort_values(order, ignore_index=True),
        "rtm_prices": pd.concat(rtm, ignore_index=True).sort_values(order, ignore_index=True),
        "system_conditions": system,
    }
