"""Quality checks for market tables: what ERCOT data can show but should make a user look twice.

Impossible data (a price beyond floor/cap, a 26-hour day, text in a price) fails validation outright; these
checks are for the possible-but-suspicious: duplicates, DST-inconsistent or missing hours, prices near the cap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from dart_assets.market import schemas
from dart_assets.market.timeutil import hours_in_day

MAX_MISSING_SHARE = 0.02
NEAR_CAP_SHARE = 0.9
PRICE_COLUMNS = {"dam_prices": "dam_price", "rtm_prices": "rtm_price"}


def _descriptions(name: str) -> dict[str, str]:
    """What each check of table `name` asserts, as the UI shows it; the price tables are per settlement point."""
    per_point = name in PRICE_COLUMNS
    checks = {
        "no_duplicate_hours": "No two rows share a UTC hour" + (" and settlement point." if per_point else "."),
        "hours_per_day": "Each delivery day has 23, 24 or 25 hours"
        + (" per point" if per_point else "")
        + ", as DST dictates.",
        "missing_hours": f"At most {MAX_MISSING_SHARE:.0%} of the expected hours are missing.",
    }
    if per_point:
        checks["prices_near_cap"] = (
            f"No price at or above {NEAR_CAP_SHARE:.0%} of the offer cap (possible in scarcity; worth a look)."
        )
    return checks


CHECKS = {name: _descriptions(name) for name in ("dam_prices", "rtm_prices", "system_conditions")}


@dataclass
class QualityResult:
    check: str
    passed: bool
    description: str
    severe: bool = False
    metadata: dict = field(default_factory=dict)


def evaluate(name: str, frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> list[QualityResult]:
    """All of CHECKS[name] on a table covering delivery days start..end, in CHECKS order."""
    keys = schemas.UNIQUE_KEYS[name]
    days = pd.date_range(start, end, freq="D")
    expected = pd.Series({d: hours_in_day(d) for d in days}, name="expected")
    results = [
        no_duplicate_hours(frame, keys),
        hours_per_day(frame, keys, expected),
        missing_hours(frame, keys, expected),
    ]
    price = PRICE_COLUMNS.get(name)
    if price:
        results.append(prices_near_cap(frame, price))
    return results


def no_duplicate_hours(frame: pd.DataFrame, keys: list[str]) -> QualityResult:
    """Severe: two rows for one hour (and point) mean the source double-counted something."""
    duplicates = int(frame.duplicated(keys).sum())
    return QualityResult(
        "no_duplicate_hours",
        duplicates == 0,
        f"{duplicates} duplicate row(s) on {', '.join(keys)}",
        severe=True,
        metadata={"duplicate_rows": duplicates},
    )


def hours_per_day(frame: pd.DataFrame, keys: list[str], expected: pd.Series) -> QualityResult:
    """Each series has, every day of the range, the 23, 24 or 25 hours ERCOT's clock gives it (0 if absent)."""
    groups = _series_columns(keys)
    days = expected.index
    counted = frame.drop_duplicates(keys).groupby([*groups, "delivery_date"]).size()
    # Every (series, day) of the range, so a day with no rows at all shows up as 0 hours.
    full = (
        pd.MultiIndex.from_product([*(frame[g].unique() for g in groups), days], names=[*groups, "delivery_date"])
        if groups
        else pd.Index(days, name="delivery_date")
    )
    counts = counted.reindex(counted.index.union(full), fill_value=0).rename("hours").reset_index()
    counts = counts.join(expected, on="delivery_date")
    wrong = counts[counts["hours"] != counts["expected"]]
    if wrong.empty:
        description = "every day has its DST hour count"
    else:
        examples = "; ".join(
            f"{r['delivery_date'].date()} {'/'.join(str(r[g]) for g in groups)} {r['hours']}h "
            f"(expected {r['expected']})"
            for r in wrong.head(3).to_dict("records")
        )
        description = f"{len(wrong)} day(s) with the wrong hour count, e.g. {examples}"
    return QualityResult("hours_per_day", wrong.empty, description, metadata={"wrong_days": len(wrong)})


def missing_hours(frame: pd.DataFrame, keys: list[str], expected: pd.Series) -> QualityResult:
    """At most MAX_MISSING_SHARE of the hours the range should have, over every series the table has."""
    groups = _series_columns(keys)
    n_series = frame[groups].drop_duplicates().shape[0] if groups else 1
    expected_rows = int(expected.sum()) * max(n_series, 1)
    missing = 1 - frame.drop_duplicates(keys).shape[0] / expected_rows if expected_rows else 0.0
    return QualityResult(
        "missing_hours",
        missing <= MAX_MISSING_SHARE,
        f"{missing:.2%} of {expected_rows} expected hours missing (threshold {MAX_MISSING_SHARE:.0%})",
        metadata={"missing_share": float(missing), "expected_rows": expected_rows},
    )


def prices_near_cap(frame: pd.DataFrame, price: str) -> QualityResult:
    """Hours at or above NEAR_CAP_SHARE of the day's offer cap: possible in scarcity, worth a look."""
    near = frame[frame[price] >= NEAR_CAP_SHARE * schemas.offer_cap(frame["delivery_date"])]
    if near.empty:
        description = "no price near the offer cap"
    else:
        description = (
            f"{len(near)} hour(s) at or above {NEAR_CAP_SHARE:.0%} of the cap, max {near[price].max():.2f} $/MWh "
            f"(first {near['timestamp_utc'].min()})"
        )
    return QualityResult(
        "prices_near_cap",
        near.empty,
        description,
        metadata={"hours_near_cap": len(near), "max_price": float(frame[price].max()) if len(frame) else 0.0},
    )


def _series_columns(keys: list[str]) -> list[str]:
    """The key columns that name a series (the settlement point), i.e. all but the hour."""
    return [k for k in keys if k != "timestamp_utc"]
