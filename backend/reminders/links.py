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
    return absolute(reverse("patient-schedule", args=[_patient_token(patient_id, dt.date.today())]))


def patient_item_url(patient_id: int, item_id: int) -> str:
    token = _patient_token(patient_id, dt.date.today())
    return absolute(reverse("patient-item", args=[token, item_id]))


# Signing is a noticeable part of rendering a batch; a patient's token is signed at most once a
# day per process (the day is part of the cache key, so a cached token is never stale), and the
# schedule and item links of one message share it.
@functools.lru_cache(maxsize=4096)
def _patient_token(patient_id: int, _day: dt.date) -> str:
    return make_token("patient", {"p": patient_id})


def unsubscribe_url(patient_id: int, channel: str = "email") -> str:
    return _unsubscribe_url(patient_id, channel, dt.date.today())


@functools.lru_cache(maxsize=4096)
def _unsubscribe_url(patient_id: int, channel: str, _day: dt.date) -> str:
    token = make_token("unsubscribe", {"p": patient_id, "c": channel})
    return absolute(reverse("unsubscribe", args=[token]))
