"""What each bad-input source reports: cases tried, server errors (with the input and traceback
of the first few, so a finding can be reproduced), and source-specific counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

KEEP_FINDINGS = 5  # the first few of each kind, in full; the rest are counted


@dataclass
class Source:
    name: str
    cases: int = 0
    errors: int = 0
    counts: Counter = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def error(self, kind: str, detail: str) -> None:
        """One server error (or unexpected exception): counted by kind, the first few kept."""
        self.errors += 1
        self.counts[f"error {kind}"] += 1
        if self.counts[f"error {kind}"] <= KEEP_FINDINGS:
            self.findings.append(f"[{kind}] {detail}")


def seeded(test, seed: int | None):
    """The hypothesis test with a fixed seed (--seed: a search that repeats), else as it is."""
    from hypothesis import seed as fixed_seed

    return fixed_seed(seed)(test) if seed is not None else test
