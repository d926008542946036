"""What a coordinator previewed, so that Confirm creates exactly that plan.

The preview page carries a signed digest of its inputs and of every item and reminder it showed.
Confirm plans again and compares: after a changed protocol or date (or a calendar that changed in
between) the coordinator sees the new preview and confirms that one instead.
"""

from __future__ import annotations

import hashlib

from django.core import signing

PREVIEW_SALT = "aftercare.plan-preview"
PREVIEW_MAX_AGE_S = 3600


def _preview_fingerprint(inputs: dict, engine_plan) -> str:
    """A digest of what a preview showed: its inputs and every item and reminder it planned."""
    shown = (
        sorted((name, str(getattr(value, "pk", value))) for name, value in inputs.items()),
        [(i.key, i.start.isoformat()) for i in engine_plan.items],
        [(r.key, r.send_at.isoformat(), r.channel) for r in engine_plan.reminders],
    )
    return hashlib.sha256(repr(shown).encode()).hexdigest()


def preview_token(inputs: dict, engine_plan) -> str:
    return signing.dumps(_preview_fingerprint(inputs, engine_plan), salt=PREVIEW_SALT)


def preview_matches(token: str, inputs: dict, engine_plan) -> bool:
    """Did the coordinator see exactly this plan? (A token from a preview within the hour.)"""
    try:
        seen = signing.loads(token, salt=PREVIEW_SALT, max_age=PREVIEW_MAX_AGE_S)
    except signing.BadSignature:
        return False
    return seen == _preview_fingerprint(inputs, engine_plan)
