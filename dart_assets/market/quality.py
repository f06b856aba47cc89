"""Quality checks for market tables: what ERCOT data can show but should make a user look twice.

Impossible data (a price beyond floor/cap, a 26-hour day, text in a price) fails validation outright; these
checks are for the possible-but-suspicious: duplicates, days with more hours than the clock, days and hours that
are missing, prices near the cap.

Gaps are data: a day without rows is stored (as an empty partition) and `no_missing_days` names it, with the
partial days, the points and the source, in one message. A day still in progress is judged against the hours that
can exist when the source was read (`as_of`), by the publication rules of `features`: D's DAM once the day-ahead
results are posted (D-1, 13:30 Central), an RTM hour once it has ended plus RTM_PUBLICATION_LAG, an actual once it
has ended plus ACTUALS_PUBLICATION_LAG, D's driver forecasts once D's decision time has passed. Without `as_of`
every day is judged as settled.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from dart_assets import features
from dart_assets.market import schemas
from dart_assets.market.timeutil import (
    DEFAULT_DECISION_TIME,
    MARKET_TZ,
    day_ranges,
    decision_times_utc,
    hours_in_day,
    range_hours,
)

MAX_MISSING_SHARE = 0.02
NEAR_CAP_SHARE = 0.9
PRICE_COLUMNS = {"dam_prices": "dam_price", "rtm_prices": "rtm_price"}
# ERCOT posts the day-ahead market's results for D on D-1 by 13:30 Central (the market closes at 10:00).
DAM_PUBLISHED = pd.Timedelta(hours=13, minutes=30)
# Tables a source may not carry at all (the ercot_api source has no actual drivers, a price-only file no
# forecasts): without any of these value columns the table holds no data of its own and its gaps say nothing.
VALUE_COLUMNS = {"system_conditions": schemas.DRIVER_ACTUALS, "driver_forecasts": schemas.DRIVER_FORECASTS}
CARRIED = {"system_conditions": "actual drivers", "driver_forecasts": "forecast postings"}


def _descriptions(name: str) -> dict[str, str]:
    """What each check of table `name` asserts, as the UI shows it; the price tables are per settlement point."""
    per_point = " per point" if name in PRICE_COLUMNS else ""
    checks = {}
    if name != "driver_forecasts":  # several postings per hour: one row per hour does not apply
        checks["no_duplicate_hours"] = "No two rows share a UTC hour" + (" and settlement point." if per_point else ".")
        checks["hours_per_day"] = (
            f"No delivery day has more hours{per_point} than ERCOT's clock gives it (23 on the spring-forward day, "
            "25 on the fall-back day, else 24)."
        )
    if name == "driver_forecasts":
        checks["no_missing_days"] = (
            "Every hour of every delivery day whose decision time has passed has a posting (when the source posts "
            "forecasts at all); one message names the days without postings, as ranges, and the partial days."
        )
    else:
        checks["no_missing_days"] = (
            f"Every hour{per_point} that can be published when the source is read is there (a day in progress is "
            "judged against the hours published so far); one message names the days without rows, as ranges, "
            "the partial days with their hour counts, the points and the source."
        )
        checks["missing_hours"] = f"At most {MAX_MISSING_SHARE:.0%} of the hours due are missing."
    if per_point:
        checks["prices_near_cap"] = (
            f"No price at or above {NEAR_CAP_SHARE:.0%} of the offer cap (possible in scarcity; worth a look)."
        )
    return checks


CHECKS = {name: _descriptions(name) for name in schemas.MARKET_TABLES}


@dataclass
class QualityResult:
    check: str
    passed: bool
    description: str
    severe: bool = False
    metadata: dict = field(default_factory=dict)


def evaluate(
    name: str,
    frame: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    points: list[str] | None = None,
    source: str = "the source",
    as_of: pd.Timestamp | None = None,
    decision_time: dt.time = DEFAULT_DECISION_TIME,
) -> list[QualityResult]:
    """All of CHECKS[name] on a table covering delivery days start..end, in CHECKS order.

    `points`: the settlement points the table should have (default: those it has); `source`: its label, for the
    messages; `as_of`: when the source was read (UTC), None to judge every day as settled.
    """
    keys = schemas.UNIQUE_KEYS[name]
    if name in PRICE_COLUMNS and points is None:
        points = list(frame["settlement_point"].unique())
    elif name not in PRICE_COLUMNS:
        points = None  # system-wide tables have no series
    carried = name not in VALUE_COLUMNS or any(c in frame for c in VALUE_COLUMNS[name])
    coverage = _coverage(frame, due_hours(name, start, end, as_of, decision_time), points)
    gaps = Gaps(name, coverage, source, as_of, points, carried)
    results = []
    if "no_duplicate_hours" in CHECKS[name]:
        results += [no_duplicate_hours(frame, keys), hours_per_day(frame, keys)]
    results.append(gaps.no_missing_days())
    if "missing_hours" in CHECKS[name]:
        results.append(gaps.missing_hours())
    price = PRICE_COLUMNS.get(name)
    if price:
        results.append(prices_near_cap(frame, price))
    return results


def due_hours(
    name: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    as_of: pd.Timestamp | None = None,
    decision_time: dt.time = DEFAULT_DECISION_TIME,
) -> pd.DataFrame:
    """The hours of delivery days start..end (timeutil.range_hours) with `due`: whether table `name` can hold the
    hour when read at `as_of` (every hour when as_of is None)."""
    clock = range_hours(start, end)
    if as_of is None:
        return clock.assign(due=True)
    as_of = pd.Timestamp(as_of).tz_convert("UTC")
    day = clock["delivery_date"]
    if name == "dam_prices":
        posted = (day - pd.Timedelta(days=1) + DAM_PUBLISHED).dt.tz_localize(MARKET_TZ).dt.tz_convert("UTC")
        due = posted <= as_of
    elif name == "rtm_prices":
        due = features.rtm_published(clock["timestamp_utc"], as_of)
    elif name == "system_conditions":
        due = features.actual_published(clock["timestamp_utc"], as_of)
    else:
        due = decision_times_utc(day, decision_time) <= as_of
    return clock.assign(due=due.to_numpy())


def _coverage(frame: pd.DataFrame, clock: pd.DataFrame, points: list[str] | None) -> pd.DataFrame:
    """Per (series, delivery day): the clock's hours, the hours due and the due hours the table has. The series
    is the settlement point for prices, "" for system-wide tables."""
    if points is None:
        grid, keys = clock.assign(settlement_point=""), ["timestamp_utc"]
    else:
        grid = clock.merge(pd.DataFrame({"settlement_point": points}), how="cross")
        keys = ["timestamp_utc", "settlement_point"]
    grid = grid.merge(frame[keys].drop_duplicates().assign(present=True), on=keys, how="left")
    grid["present"] = grid["present"].notna() & grid["due"]
    coverage = grid.groupby(["settlement_point", "delivery_date"], sort=False).agg(
        hours=("due", "size"), due=("due", "sum"), present=("present", "sum")
    )
    return coverage.reset_index()


def _central(ts: pd.Timestamp) -> str:
    return f"{pd.Timestamp(ts).tz_convert(MARKET_TZ):%Y-%m-%d %H:%M %Z}"


@dataclass
class Gaps:
    """Which due hours a table lacks, per series and day, and the two checks that report them."""

    name: str
    coverage: pd.DataFrame
    source: str
    as_of: pd.Timestamp | None
    points: list[str] | None
    carried: bool

    def _who(self, series: list[str]) -> str:
        return ", ".join(series) if self.points is not None else "system-wide"

    def _in_progress(self) -> str:
        """'; judged as of ...' naming the days not fully due yet, or ''."""
        days = self.coverage.drop_duplicates("delivery_date")
        open_days = days[days["due"] < days["hours"]]
        if self.as_of is None or open_days.empty:
            return ""
        notes = [
            f"{day.date()} " + ("not due yet" if due == 0 else f"in progress ({due} of {hours} h due)")
            for day, due, hours in zip(open_days["delivery_date"], open_days["due"], open_days["hours"], strict=True)
        ]
        return f"; judged as of {_central(self.as_of)}: {', '.join(notes)}"

    def no_missing_days(self) -> QualityResult:
        head = f"{self.name} from {self.source}"
        if not self.carried:
            return QualityResult(
                "no_missing_days", True, f"{head}: the source has no {CARRIED[self.name]}; nothing to check"
            )
        cov = self.coverage[self.coverage["due"] > 0]
        empty = cov[cov["present"] == 0]
        partial = cov[(cov["present"] > 0) & (cov["present"] < cov["due"])]
        # One clause per group of series with the same gaps (usually every point shares a source's gap).
        patterns: dict[tuple, list[str]] = {}
        for series in self.coverage["settlement_point"].unique():
            days = tuple(empty.loc[empty["settlement_point"] == series, "delivery_date"])
            parts = partial[partial["settlement_point"] == series]
            counts = tuple(zip(parts["delivery_date"], parts["present"], parts["due"], strict=True))
            if days or counts:
                patterns.setdefault((days, counts), []).append(series)
        clauses = []
        for (days, counts), series in patterns.items():
            what = []
            if days:
                noun = "postings" if self.name == "driver_forecasts" else "rows"
                what.append(f"no {noun} for {', '.join(day_ranges(days))} ({len(days)} day{'s' * (len(days) > 1)})")
            if counts:
                what.append("partial: " + ", ".join(f"{d.date()} ({p} of {n} h)" for d, p, n in counts))
            clauses.append(f"{self._who(series)}: {'; '.join(what)}")
        first, last = self.coverage["delivery_date"].min(), self.coverage["delivery_date"].max()
        span = f"{first.date()}..{last.date()}" if first != last else f"{first.date()}"
        if clauses:
            description = f"{head}: " + ". ".join(clauses) + self._in_progress()
        else:
            points = f" for {', '.join(self.points)}" if self.points else ""
            description = f"{head}: every due hour of {span} is there{points}{self._in_progress()}"
        return QualityResult(
            "no_missing_days",
            not clauses,
            description,
            severe=True,
            metadata={
                "days_without_rows": int(empty["delivery_date"].nunique()),
                "partial_days": int(partial["delivery_date"].nunique()),
                "days_without_rows_list": day_ranges(sorted(set(empty["delivery_date"]))),
                "judged_as_of": _central(self.as_of) if self.as_of is not None else "settled (every hour due)",
            },
        )

    def missing_hours(self) -> QualityResult:
        """At most MAX_MISSING_SHARE of the due hours, over every series, are missing."""
        if not self.carried:
            return QualityResult("missing_hours", True, f"the source has no {CARRIED[self.name]}; nothing to check")
        expected = int(self.coverage["due"].sum())
        missing = 1 - int(self.coverage["present"].sum()) / expected if expected else 0.0
        return QualityResult(
            "missing_hours",
            missing <= MAX_MISSING_SHARE,
            f"{missing:.2%} of {expected} due hours missing (threshold {MAX_MISSING_SHARE:.0%})",
            metadata={"missing_share": float(missing), "expected_rows": expected},
        )


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


def hours_per_day(frame: pd.DataFrame, keys: list[str]) -> QualityResult:
    """No series has more distinct hours on a day than ERCOT's clock gives it: a mislabelled day (e.g. a DST day's
    hours filed under its neighbour). Fewer hours are no_missing_days' concern."""
    groups = [k for k in keys if k != "timestamp_utc"]
    counted = frame.drop_duplicates(keys).groupby([*groups, "delivery_date"]).size().rename("hours").reset_index()
    counted["expected"] = [hours_in_day(d) for d in counted["delivery_date"]]
    wrong = counted[counted["hours"] > counted["expected"]]
    if wrong.empty:
        description = "no day has more hours than ERCOT's clock gives it"
    else:
        examples = "; ".join(
            " ".join([str(r["delivery_date"].date()), *(str(r[g]) for g in groups), f"{r['hours']}h"])
            + f" (the clock has {r['expected']})"
            for r in wrong.head(3).to_dict("records")
        )
        description = f"{len(wrong)} day(s) with more hours than the clock, e.g. {examples}"
    return QualityResult("hours_per_day", wrong.empty, description, metadata={"wrong_days": len(wrong)})


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
