"""Repeated items and their spacing: a series of phases (Spravato: twice weekly, then weekly).

Kept apart from ``protocol`` because spacing is its own small language: target gaps, elapsed
minimum gaps, calendar-day maximum gaps and a first-to-last span (see ``needs.gap_need``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Phase", "Series"]


@dataclass(frozen=True)
class Phase:
    """A run of ``count`` items with the same spacing (Spravato: twice weekly, then weekly)."""

    count: int
    gap_days: tuple[int, ...]
    min_gap_hours: float = 0
    max_gap_days: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"count": self.count, "gap_days": list(self.gap_days)}
        if self.min_gap_hours:
            out["min_gap_hours"] = self.min_gap_hours
        if self.max_gap_days is not None:
            out["max_gap_days"] = self.max_gap_days
        return out


@dataclass(frozen=True)
class Series:
    """Repeated items spaced from one another; the first is placed like any anchored item.

    ``gap_days`` in each phase is the *target* spacing between consecutive starts (cycled: [2, 2, 3]
    gives Mon/Wed/Fri); ``min_gap_hours`` is elapsed time, ``max_gap_days`` counts calendar days,
    ``max_span_days`` bounds first-to-last. ``min_count``/``max_count`` bound per-plan overrides.
    """

    phases: tuple[Phase, ...]
    min_count: int
    max_count: int
    max_span_days: int | None = None

    @property
    def count(self) -> int:
        return sum(p.count for p in self.phases)

    def with_count(self, total: int) -> Series:
        """The same series with ``total`` items: the last phase grows or shrinks first."""
        phases = list(self.phases)
        difference = total - self.count
        index = len(phases) - 1
        while difference and index >= 0:
            phase = phases[index]
            new_count = max(0, phase.count + difference)
            difference -= new_count - phase.count
            phases[index] = Phase(
                new_count, phase.gap_days, phase.min_gap_hours, phase.max_gap_days
            )
            index -= 1
        return Series(tuple(phases), self.min_count, self.max_count, self.max_span_days)

    def phase_for(self, index: int) -> Phase:
        """The phase governing the gap *before* item ``index`` (0-based)."""
        seen = 0
        for phase in self.phases:
            seen += phase.count
            if index < seen:
                return phase
        return self.phases[-1]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "phases": [p.to_dict() for p in self.phases],
            "min_count": self.min_count,
            "max_count": self.max_count,
        }
        if self.max_span_days is not None:
            out["max_span_days"] = self.max_span_days
        return out
