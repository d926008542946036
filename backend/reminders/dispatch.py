"""Claiming due reminders for the broker: what the dispatcher tick calls.

The claim itself (a conditional UPDATE on the database's clock, SKIP LOCKED where the database has
it) is a status change, so it lives in backend.reminders.outbox; this module keeps the batch size
and the list-of-ids form that tests and the benchmark use.
"""

from __future__ import annotations

import datetime as dt

from backend.reminders import outbox

CLAIM_BATCH = 1000


def claim_due(*, now: dt.datetime, limit: int = CLAIM_BATCH) -> list[int]:
    """Claim up to `limit` rows due at `now`, oldest first; return their ids. One transaction."""
    return outbox.claim(now=now, limit=limit).ids
