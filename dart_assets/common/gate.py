"""The verdict of a promotion gate, whatever the domain computes it from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GateResult:
    """Whether a model may become champion, why in one sentence, and the numbers the decision used.

    Each domain's gate is one pure function returning this, evaluated before anything is registered and again by
    the blocking asset check, so the two can never disagree.
    """

    passed: bool
    description: str
    numbers: dict[str, float]
