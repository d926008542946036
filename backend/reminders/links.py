"""Signed, expiring links for patients: schedule, check-ins and one-click unsubscribe.

Tokens are Django signatures (HMAC with SECRET_KEY and a per-purpose salt) of ids only, so a
link never carries patient data and one purpose's token cannot be replayed as another's.
"""

from __future__ import annotations

import datetime as dt
import functools

from django.conf import settings
from django.core import signing
from django.urls import reverse

PATIENT_LINK_MAX_AGE = dt.timedelta(days=120)
UNSUBSCRIBE_MAX_AGE = dt.timedelta(days=365)

_SALTS = {
    "patient": "aftercare.patient-link",
    "unsubscribe": "aftercare.unsubscribe",
}


def make_token(purpose: str, payload: dict) -> str:
    return signing.dumps(payload, salt=_SALTS[purpose], compress=True)


def read_token(purpose: str, token: str, *, max_age: dt.timedelta) -> dict:
    """The payload, or signing.BadSignature / signing.SignatureExpired."""
    return signing.loads(token, salt=_SALTS[purpose], max_age=max_age)


def absolute(path: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def patient_schedule_url(patient_id: int) -> str:
    return _patient_schedule_url(patient_id, dt.date.today())


# Signing is a noticeable part of rendering a batch; links are signed at most once a day per
# patient and process (the day is part of the cache key, so a cached link is never stale).
@functools.lru_cache(maxsize=4096)
def _patient_schedule_url(patient_id: int, _day: dt.date) -> str:
    token = make_token("patient", {"p": patient_id})
    return absolute(reverse("patient-schedule", args=[token]))


def patient_item_url(patient_id: int, item_id: int) -> str:
    token = make_token("patient", {"p": patient_id})
    return absolute(reverse("patient-item", args=[token, item_id]))


def unsubscribe_url(patient_id: int, channel: str = "email") -> str:
    return _unsubscribe_url(patient_id, channel, dt.date.today())


@functools.lru_cache(maxsize=4096)
def _unsubscribe_url(patient_id: int, channel: str, _day: dt.date) -> str:
    token = make_token("unsubscribe", {"p": patient_id, "c": channel})
    return absolute(reverse("unsubscribe", args=[token]))
