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

CHECKS = {
    name: {
        "no_duplicate_hours": "No two rows share a UTC hour"
        + (" and settlement point." if name != "system_conditions" else "."),
        "hours_per_day": "Each delivery day has 23, 24 or 25 hours"
        + (" per point" if name != "system_conditions" else "")
        + ", as DST dictates.",
        "missing_hours": f"At most {MAX_MISSING_SHARE:.0%} of the expected hours are missing.",
        **(
            {
                "prices_near_cap": f"No price at or above {NEAR_CAP_SHARE:.0%} of the offer cap (possible in scarcity; worth a look)."
            }
            if name != "system_conditions"
            else {}
        ),
    }
    for name in ("dam_prices", "rtm_prices", "system_conditions")
}


@dataclass
class QualityResult:
    check: str
    passed: bool
    description: str
    severe: bool = False
    metadata: dict = field(default_factory=dict)


def evaluate(name: str, frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> list[QualityResult]:
    """All of CHECKS[name] on a table covering delivery days start..end."""
    keys = schemas.UNIQUE_KEYS[name]
    groups = [k for k in keys if k != "timestamp_utc"]
    duplicates = int(frame.duplicated(keys).sum())
    results = [
        QualityResult(
            "no_duplicate_hours",
            duplicates == 0,
            f"{duplicates} duplicate row(s) on {', '.join(keys)}",
            severe=True,
            metadata={"duplicate_rows": duplicates},
        )
    ]

    days = pd.date_range(start, end, freq="D")
    expected = pd.Series({d: hours_in_day(d) for d in days}, name="expected")
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
    results.append(
        QualityResult(
            "hours_per_day",
            wrong.empty,
            "every day has its DST hour count"
            if wrong.empty
            else f"{len(wrong)} day(s) with the wrong hour count, e.g. "
            + "; ".join(
                f"{r.delivery_date.date()} {'/'.join(str(getattr(r, g)) for g in groups)} {r.hours}h (expected {r.expected})"
                for r in wrong.head(3).itertuples()
            ),
            metadata={"wrong_days": len(wrong)},
        )
    )

    n_series = frame[groups].drop_duplicates().shape[0] if groups else 1
    expected_rows = int(expected.sum()) * max(n_series, 1)
    missing = 1 - frame.drop_duplicates(keys).shape[0] / expected_rows if expected_rows else 0.0
    results.append(
        QualityResult(
            "missing_hours",
            missing <= MAX_MISSING_SHARE,
            f"{missing:.2%} of {expected_rows} expected hours missing (threshold {MAX_MISSING_SHARE:.0%})",
            metadata={"missing_share": float(missing), "expected_rows": expected_rows},
        )
    )

    price = {"dam_prices": "dam_price", "rtm_prices": "rtm_price"}.get(name)
    if price:
        near = frame[frame[price] >= NEAR_CAP_SHARE * schemas.offer_cap(frame["delivery_date"])]
        results.append(
            QualityResult(
                "prices_near_cap",
                near.empty,
                "no price near the offer cap"
                if near.empty
                else f"{len(near)} hour(s) at or above {NEAR_CAP_SHARE:.0%} of the cap, max {near[price].max():.2f} $/MWh "
                f"(first {near['timestamp_utc'].min()})",
                metadata={"hours_near_cap": len(near), "max_price": float(frame[price].max()) if len(frame) else 0.0},
            )
        )
    return results
