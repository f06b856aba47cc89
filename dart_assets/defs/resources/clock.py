"""The clock the market checks and the forecast sensor read: now, or a fixed time for tests and replays."""

from __future__ import annotations

import dagster as dg
import pandas as pd
from pydantic import Field, field_validator


class Clock(dg.ConfigurableResource):
    """What time it is. A market run judges a day in progress against the hours published by the time it read its
    source; the forecast sensor decides whether tomorrow's inputs are in. Both ask this resource, so a test (or a
    replay of a past morning) can fix the time."""

    fixed_utc: str | None = Field(
        default=None, description="An ISO 8601 time (UTC unless it has an offset) to use instead of now; unset: now."
    )

    @field_validator("fixed_utc")
    @classmethod
    def _parses(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                pd.Timestamp(value)
            except ValueError:
                raise ValueError(f"fixed_utc={value!r} is not an ISO 8601 time, e.g. 2025-03-09T14:05:00Z") from None
        return value

    def now(self) -> pd.Timestamp:
        """The current (or fixed) time, tz-aware UTC."""
        if self.fixed_utc is None:
            return pd.Timestamp.now(tz="UTC")
        at = pd.Timestamp(self.fixed_utc)
        return at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")
