"""Changes to clinics and their providers. Every writer (admin, API, management commands) goes
through here, so the rules hold whichever door a change comes in by:

- a clinic's sender names never name a drug or diagnosis (Clinic.clean, rule sender.private_word);
- a clinic's on-call and backup contacts are its own active providers (rule
  clinic.safety_contact): an urgent answer never alerts someone at another clinic or someone who
  has left;
- a provider and their login account are made together, in one transaction, or not at all; the
  account has no usable password until its owner sets one through the password reset flow;
- a provider who is a clinic's on-call or backup contact is not deactivated until someone else
  is named (rule provider.safety_contact);
- a clinic is closed at most once on a date; a user coordinates at most one clinic;
- a provider has at most one calendar feed: issuing a new URL revokes the old one at once, and
  only a hash of its secret is kept (backend/clinics/calendar_feed.py).
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction

from backend.clinics import calendar_feed
from backend.clinics.models import Clinic, ClosedDate, Coordinator, Provider

SAFETY_CONTACTS = ("on_call_contact", "backup_contact")
CONTACT_LABELS = {"on_call_contact": "on-call contact", "backup_contact": "backup contact"}
CLINIC_FIELDS = frozenset(
    f.name for f in Clinic._meta.concrete_fields if f.editable and not f.primary_key
)
PROVIDER_FIELDS = frozenset({"role", "active", "mobile"})
ACCOUNT_FIELDS = ("email", "first_name", "last_name")


def _refuse_unknown(values: dict, allowed: frozenset, what: str) -> None:
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ValidationError(
            {
                name: ValidationError(
                    f"{name}: not a {what} field that may be set here.", code="unknown_field"
                )
                for name in unknown
            }
        )


def _check_safety_contacts(clinic: Clinic) -> None:
    """Each safety contact is one of the clinic's own active providers, or empty."""
    errors = {}
    for field in SAFETY_CONTACTS:
        contact_id = getattr(clinic, f"{field}_id")
        if contact_id is None:
            continue
        contact = Provider.objects.filter(pk=contact_id).first()
        if contact is None or clinic.pk is None or contact.clinic_id != clinic.pk:
            reason = "is not one of this clinic's providers"
        elif not contact.active:
            reason = "is no longer active"
        else:
            continue
        errors[field] = ValidationError(
            f"{field}: provider {contact_id} {reason}; choose one of this clinic's active "
            "providers or leave it empty (rule: clinic.safety_contact).",
            code="clinic.safety_contact",
        )
    if errors:
        raise ValidationError(errors)


def _save_clinic(clinic: Clinic) -> Clinic:
    clinic.full_clean()
    _check_safety_contacts(clinic)
    clinic.save()
    return clinic


@transaction.atomic
def clinic_create(*, values: dict) -> Clinic:
    """A new clinic from ``values`` (field -> value). It has no providers yet, so no safety
    contact can be named until they are added."""
    _refuse_unknown(values, CLINIC_FIELDS, "clinic")
    return _save_clinic(Clinic(**values))


@transaction.atomic
def clinic_update(*, clinic: Clinic, changes: dict) -> Clinic:
    """Apply ``changes`` (field -> value) to ``clinic``; returns the saved clinic."""
    _refuse_unknown(changes, CLINIC_FIELDS, "clinic")
    clinic = Clinic.objects.select_for_update().get(pk=clinic.pk)
    for field, value in changes.items():
        setattr(clinic, field, value)
    return _save_clinic(clinic)


@transaction.atomic
def clinic_delete(*, clinic: Clinic) -> None:
    """Delete a clinic nothing refers to; raises ProtectedError while it has providers,
    coordinators, patients, plans or protocols of its own."""
    Clinic.objects.select_for_update().get(pk=clinic.pk).delete()


def _check_provider(provider: Provider) -> None:
    provider.full_clean(exclude=["user"] if provider.user_id is None else None)


@transaction.atomic
def provider_create(
    *,
    clinic: Clinic,
    username: str,
    role: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    mobile: str = "",
    active: bool = True,
) -> Provider:
    """A provider of ``clinic`` with a new login account named ``username``.

    The account and the provider are saved together or not at all. The account has no usable
    password: its owner sets one through the password reset flow.
    """
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise ValidationError(
            {"username": ValidationError("username: this username is taken.", code="unique")}
        )
    provider = Provider(clinic=clinic, role=role, mobile=mobile, active=active)
    _check_provider(provider)  # before the account exists: a bad role makes nothing
    user = User(username=username, email=email, first_name=first_name, last_name=last_name)
    user.set_unusable_password()
    user.full_clean(exclude=["password"])
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # the same name taken by a request running alongside
        raise ValidationError(
            {"username": ValidationError("username: this username is taken.", code="unique")}
        ) from exc
    provider.user = user
    provider.save()
    return provider


def _safety_contact_duty(provider: Provider) -> str:
    """ "the on-call contact of <clinic>" when the provider is one, else ""."""
    for field in SAFETY_CONTACTS:
        named = Clinic.objects.filter(**{field: provider}).first()
        if named is not None:
            return f"the {CONTACT_LABELS[field]} of {named}"
    return ""


def validate_deactivation(provider: Provider, *, field: str = "active") -> None:
    """Raise ValidationError (keyed ``field``) while ``provider`` is a clinic's on-call or backup
    contact: an urgent answer must never alert only someone who has left. Forms call it to show
    the error on the field; the services call it before every deactivation or deletion."""
    duty = _safety_contact_duty(provider)
    if duty:
        raise ValidationError(
            {
                field: ValidationError(
                    f"{field}: {provider} is {duty}; name someone else there first "
                    "(rule: provider.safety_contact).",
                    code="provider.safety_contact",
                )
            }
        )


@transaction.atomic
def provider_update(*, provider: Provider, changes: dict) -> Provider:
    """Change a provider's role, mobile or ``active`` flag; returns the saved provider.

    Setting ``active`` to false is a deactivation (see provider_deactivate).
    """
    _refuse_unknown(changes, PROVIDER_FIELDS, "provider")
    provider = Provider.objects.select_for_update().select_related("user").get(pk=provider.pk)
    if provider.active and changes.get("active") is False:
        validate_deactivation(provider, field="active")
    for field, value in changes.items():
        setattr(provider, field, value)
    _check_provider(provider)
    provider.save()
    return provider


def provider_deactivate(*, provider: Provider) -> Provider:
    """A provider who has left: no more access (backend/core/scope.py gives an inactive provider
    no role) and no more reminders addressed to them (reminders/eligibility.py skips them). Their
    plans, history and account stay. Refused while they are a clinic's safety contact."""
    return provider_update(provider=provider, changes={"active": False})


@transaction.atomic
def provider_delete(*, provider: Provider) -> None:
    """Delete a provider nothing refers to (their account stays); raises ProtectedError while
    plans name them, and refuses a clinic's safety contact as deactivation does."""
    provider = Provider.objects.select_for_update().get(pk=provider.pk)
    validate_deactivation(provider, field=NON_FIELD_ERRORS)
    provider.delete()


@transaction.atomic
def closed_date_save(
    *, clinic: Clinic, date, reason: str = "", closed_date: ClosedDate | None = None
) -> ClosedDate:
    """Close ``clinic`` on ``date`` (or move or re-word ``closed_date``, one of its own): no
    session is planned that day from now on. One row per clinic and date (rule:
    closed_date_unique_per_clinic); plans already made keep their times."""
    if closed_date is not None:
        closed_date = ClosedDate.objects.select_for_update().get(pk=closed_date.pk, clinic=clinic)
    else:
        closed_date = ClosedDate(clinic=clinic)
    taken = ClosedDate.objects.filter(clinic=clinic, date=date).exclude(pk=closed_date.pk)
    if taken.exists():
        raise ValidationError(
            {
                "date": ValidationError(
                    f"date: {clinic} is already closed on {date} "
                    "(rule: closed_date_unique_per_clinic).",
                    code="closed_date_unique_per_clinic",
                )
            }
        )
    closed_date.date, closed_date.reason = date, reason
    closed_date.full_clean()
    closed_date.save()
    return closed_date


@transaction.atomic
def closed_date_delete(*, closed_date: ClosedDate) -> None:
    """Open the clinic again on that date."""
    ClosedDate.objects.filter(pk=closed_date.pk).delete()


@transaction.atomic
def coordinator_save(
    *, user, clinic: Clinic, coordinator: Coordinator | None = None
) -> Coordinator:
    """Make ``user`` a coordinator of ``clinic`` (or move ``coordinator`` to ``clinic``). A user
    coordinates at most one clinic (Coordinator.user is one-to-one)."""
    if coordinator is not None:
        coordinator = Coordinator.objects.select_for_update().get(pk=coordinator.pk)
    else:
        coordinator = Coordinator()
    coordinator.user, coordinator.clinic = user, clinic
    coordinator.full_clean()
    coordinator.save()
    return coordinator


@transaction.atomic
def coordinator_remove(*, coordinator: Coordinator) -> None:
    """The user no longer coordinates the clinic; their account stays."""
    Coordinator.objects.filter(pk=coordinator.pk).delete()


@transaction.atomic
def provider_feed_issue(*, provider: Provider, now: dt.datetime) -> str:
    """A new private calendar feed URL for ``provider``, returned this once: only its hash is
    stored, so nobody can read it back. Any earlier URL stops working at once (rotation is
    revocation). Refused for a provider who has left (rule provider.inactive)."""
    provider = Provider.objects.select_for_update().get(pk=provider.pk)
    if not provider.active:
        raise ValidationError(
            {
                "active": ValidationError(
                    f"active: {provider} is no longer active; a provider who has left gets no "
                    "calendar feed (rule: provider.inactive).",
                    code="provider.inactive",
                )
            }
        )
    secret = calendar_feed.new_secret()
    provider.calendar_feed_key_hash = calendar_feed.key_hash(secret)
    provider.calendar_feed_issued_at = now
    provider.save(update_fields=["calendar_feed_key_hash", "calendar_feed_issued_at"])
    return calendar_feed.feed_url(secret)


@transaction.atomic
def provider_feed_revoke(*, provider: Provider) -> Provider:
    """``provider``'s calendar feed URL answers 404 from now on (subscribed calendars keep what
    they last fetched, and fetch nothing new). Revoking when there is no feed changes nothing."""
    provider = Provider.objects.select_for_update().get(pk=provider.pk)
    if provider.calendar_feed_key_hash:
        provider.calendar_feed_key_hash = ""
        provider.calendar_feed_issued_at = None
        provider.save(update_fields=["calendar_feed_key_hash", "calendar_feed_issued_at"])
    return provider
