"""Baseline, change and the two outcomes measurement-based care reports for a questionnaire.

Response: a drop of at least half from baseline. Remission (PHQ-9 only): a latest score below 5.
Conventional definitions, e.g. Kroenke K, Spitzer RL. The PHQ-9: a new depression diagnostic and
severity measure. Psychiatric Annals 2002;32(9):509-515; the same thresholds apply to the GAD-7
response (remission is not defined for it here).
"""

from __future__ import annotations

from dataclasses import dataclass

RESPONSE_DROP = 0.5
REMISSION_BELOW = {"phq9": 5}


@dataclass(frozen=True)
class Outcome:
    instrument: str
    baseline: int
    latest: int
    count: int

    @property
    def change(self) -> int:
        return self.latest - self.baseline

    @property
    def change_percent(self) -> int | None:
        return round(100 * self.change / self.baseline) if self.baseline else None

    @property
    def response(self) -> bool:
        return (
            self.count > 1
            and self.baseline > 0
            and self.latest <= self.baseline * (1 - RESPONSE_DROP)
        )

    @property
    def remission(self) -> bool:
        below = REMISSION_BELOW.get(self.instrument)
        return self.count > 1 and below is not None and self.latest < below


def outcomes(responses) -> list[Outcome]:
    """One outcome per questionnaire, from its first (baseline) and latest responses."""
    by_instrument: dict[str, list] = {}
    for response in sorted(responses, key=lambda r: (r.submitted_at, r.pk)):
        by_instrument.setdefault(response.instrument, []).append(response)
    return [
        Outcome(code, rows[0].total, rows[-1].total, len(rows))
        for code, rows in sorted(by_instrument.items())
    ]
