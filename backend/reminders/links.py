"""Signed, expiring, revocable links for patients: schedule, check-ins and one-click unsubscribe.

Tokens are Django signatures (HMAC with SECRET_KEY and a per-purpose salt) of ids only, so a
link never carries patient data and one purpose's token cannot be replayed as another's.

A patient link also carries the patient's ``link_generation``: raising it (patients.services.
patient_revoke_links: staff ask for it, or the patient's last plan ends) makes every link sent
before it fail, with a page that says how to get a new one. Unsubscribe links are not revoked:
they can only ever stop messages, and must keep working for a while after the last one.

An SMS carries a short link (``/l/<code>``, ``short_url``) instead of the signed one: a signed
link is about 112 characters, most of a 160-character segment. The short link redirects to the
signed link, expires with it and is revoked with the patient's other links.
"""

from __future__ import annotations

import datetime as dt
import functools

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import get_random_string, salted_hmac

# A patient link is for the weeks a message is about; an older one gets a "ask for a new link"
# page. An unsubscribe link works for well over the 30 days US rules (CAN-SPAM) require.
PATIENT_LINK_MAX_AGE = dt.timedelta(days=30)
UNSUBSCRIBE_MAX_AGE = dt.timedelta(days=90)

_SALTS = {
    "patient": "aftercare.patient-link",
    "unsubscribe": "aftercare.unsubscribe",
}


class LinkRefused(Exception):
    """A link that does not open: ``patient_id`` is known when the link was genuine but expired
    or revoked (so the page can name the clinic to ask), None when it was never ours."""

    def __init__(self, reason: str, patient_id: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.patient_id = patient_id


def make_token(purpose: str, payload: dict) -> str:
    return signing.dumps(payload, salt=_SALTS[purpose], compress=True)


def read_token(purpose: str, token: str, *, max_age: dt.timedelta) -> dict:
    """The payload, or LinkRefused ("expired" with the patient, or "invalid")."""
    salt = _SALTS[purpose]
    try:
        return signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired:
        genuine = signing.loads(token, salt=salt)  # signature checked, age not
        raise LinkRefused("expired", genuine.get("p")) from None
    except signing.BadSignature:
        raise LinkRefused("invalid") from None


def read_patient_token(token: str, *, current_generation) -> int:
    """The patient id of a live patient link; LinkRefused otherwise.

    ``current_generation(patient_id)`` returns the patient's link generation, or None if there is
    no such patient.
    """
    payload = read_token("patient", token, max_age=PATIENT_LINK_MAX_AGE)
    patient_id = payload["p"]
    generation = current_generation(patient_id)
    if generation is None:
        raise LinkRefused("invalid")
    if payload.get("g", 0) != generation:
        raise LinkRefused("revoked", patient_id)
    return patient_id


def absolute(path: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def patient_schedule_url(patient) -> str:
    token = _patient_token(patient.pk, patient.link_generation, dt.date.today())
    return absolute(reverse("patient-schedule", args=[token]))


def patient_item_url(patient, item_id: int) -> str:
    token = _patient_token(patient.pk, patient.link_generation, dt.date.today())
    return absolute(reverse("patient-item", args=[token, item_id]))


def patient_journal_url(patient, item_id: int | None = None) -> str:
    token = _patient_token(patient.pk, patient.link_generation, dt.date.today())
    query = f"?item={item_id}" if item_id else ""
    return absolute(reverse("patient-journal", args=[token])) + query


# Signing is a noticeable part of rendering a batch; a patient's token is signed at most once a
# day per process and generation (both are part of the cache key, so a cached token is never
# stale or revoked), and the schedule and item links of one message share it.
@functools.lru_cache(maxsize=4096)
def _patient_token(patient_id: int, generation: int, _day: dt.date) -> str:
    return make_token("patient", {"p": patient_id, "g": generation})


def unsubscribe_url(patient_id: int, channel: str = "email") -> str:
    # Only the signed token is cached: the base URL is read at every call, so a changed
    # PUBLIC_BASE_URL (another port, a proxy) is never served from the cache.
    token = _unsubscribe_token(patient_id, channel, dt.date.today())
    return absolute(reverse("unsubscribe", args=[token]))


@functools.lru_cache(maxsize=4096)
def _unsubscribe_token(patient_id: int, channel: str, _day: dt.date) -> str:
    return make_token("unsubscribe", {"p": patient_id, "c": channel})


# No 0/O/o, 1/I/l: a code is sometimes read aloud or typed from another screen. 8 characters of
# 56 are 46 bits: guessing one live code among a million takes about 10^8 tries on average.
SHORT_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz"
SHORT_CODE_LENGTH = 8
# Shown in staff previews: the real length, and never a code (not in the alphabet).
PREVIEW_CODE = "-" * SHORT_CODE_LENGTH


def short_path(code: str) -> str:
    return reverse("short-link", args=[code])


def short_url_length() -> int:
    """How long every short link is on this site (what an SMS budget is measured with)."""
    return len(absolute(short_path("x" * SHORT_CODE_LENGTH)))


def short_url(patient, url: str, *, now: dt.datetime | None = None) -> str:
    """The short link for ``url`` (a patient's signed link on this site), for an SMS.

    The code is derived from the patient and the target (an HMAC with SECRET_KEY, so it cannot
    be guessed from either), so the same SMS rendered twice, by a retry or by two workers, gives
    the same code and reuses its row. The row expires with the signed link.
    """
    from backend.reminders.models import ShortLink

    now = now or timezone.now()
    target = url.removeprefix(settings.PUBLIC_BASE_URL.rstrip("/"))
    if not target.startswith("/"):
        raise ValueError(f"short_url: {url!r} is not a link on this site")
    code = _code_for(patient.pk, target)
    defaults = {
        "patient_id": patient.pk,
        "target": target,
        "created_at": now,
        "expires_at": now + PATIENT_LINK_MAX_AGE,
    }
    try:
        with transaction.atomic():
            link, _ = ShortLink.objects.get_or_create(code=code, defaults=defaults)
    except IntegrityError:  # created by another worker between our read and our write
        link = ShortLink.objects.get(code=code)
    if link.target != target or link.patient_id != patient.pk:
        # A collision of two 46-bit codes: vanishingly rare, and never a reason to send the
        # patient someone else's page.
        link = ShortLink.objects.create(
            code=get_random_string(SHORT_CODE_LENGTH, SHORT_CODE_ALPHABET), **defaults
        )
    return absolute(short_path(link.code))


def _code_for(patient_id: int, target: str) -> str:
    digest = int.from_bytes(
        salted_hmac("aftercare.short-link", f"{patient_id}:{target}", algorithm="sha256").digest()
    )
    letters = []
    for _ in range(SHORT_CODE_LENGTH):
        digest, index = divmod(digest, len(SHORT_CODE_ALPHABET))
        letters.append(SHORT_CODE_ALPHABET[index])
    return "".join(letters)


def read_short_link(code: str, *, now: dt.datetime):
    """The live ShortLink for ``code``; LinkRefused ("invalid", or "revoked" / "expired" with the
    patient) otherwise."""
    from backend.reminders.models import ShortLink

    link = ShortLink.objects.filter(code=code).first()
    if link is None:
        raise LinkRefused("invalid")
    if link.revoked_at is not None:
        raise LinkRefused("revoked", link.patient_id)
    if link.expires_at <= now:
        raise LinkRefused("expired", link.patient_id)
    return link
