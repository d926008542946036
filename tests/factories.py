"""factory_boy factories for the people and places of a clinic, and a helper that builds a plan.

Plans are never built by a factory: `make_plan` goes through `backend.plans.services.plan_create`,
the one way the admin, the API and the tasks create a plan, so a test's plan has exactly the
items and reminders the planning engine would give it.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import factory
from django.apps import apps as django_apps
from django.contrib.auth.models import Group, User
from django.utils import timezone

from backend.clinics.models import Clinic, Coordinator, Provider
from backend.patients.models import ConsentMethod, Patient
from backend.plans import services
from backend.protocols.models import Protocol
from tests.support import role_groups

PASSWORD = "test-pass-1234"  # every factory user gets it, so tests can log in through the form

IV_INDUCTION = "iv-ketamine-induction-trd"
ESKETAMINE = "esketamine-nasal-spray"

# The shared clinic and patient of tests/backend/conftest.py, for assertions to look for.
SHARED_CLINIC_NAME = "Harbor Light Clinic"
SHARED_CLINIC_PHONE = "+12025550100"
SHARED_CLINIC_EMAIL = "care@harborlight.example"
SHARED_PATIENT_MOBILE = "+12025550143"
SHARED_PATIENT_EMAIL = "avery.quinlan@example.com"


class ClinicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clinic

    name = factory.Sequence(lambda n: f"Clinic {n}")
    time_zone = "America/New_York"
    holiday_country = "US"
    phone = "+12025550100"
    sender_email = factory.Sequence(lambda n: f"care{n}@clinic.example")
    sender_name = factory.SelfAttribute("name")
    # Monday to Saturday, 08:00-18:00: a plan can always find room within a fortnight.
    opening_hours = factory.LazyFunction(lambda: {str(d): [["08:00", "18:00"]] for d in range(6)})


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@staff.example")
    is_staff = False

    @factory.post_generation
    def password(user, create, extracted, **kwargs):
        user.set_password(extracted or PASSWORD)
        if create:
            user.save()

    @factory.post_generation
    def groups(user, create, extracted, **kwargs):
        """`groups=["Coordinators"]`: the role groups the data migration creates."""
        if create and extracted:
            user.groups.add(*(role_group(name) for name in extracted))


def role_group(name: str) -> Group:
    """A role group the data migration creates, made again the same way if a transactional test
    flushed it."""
    group = Group.objects.filter(name=name).first()
    if group is None:
        role_groups.restore(django_apps)
        group = Group.objects.get(name=name)
    return group


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Provider

    user = factory.SubFactory(UserFactory, is_staff=True, groups=["Providers"])
    clinic = factory.SubFactory(ClinicFactory)
    role = Provider.Role.PRESCRIBER
    active = True


class CoordinatorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Coordinator

    user = factory.SubFactory(UserFactory, is_staff=True, groups=["Coordinators"])
    clinic = factory.SubFactory(ClinicFactory)


class PatientFactory(factory.django.DjangoModelFactory):
    """A patient who consented to email and SMS (in writing), in the clinic's time zone."""

    class Meta:
        model = Patient

    clinic = factory.SubFactory(ClinicFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    date_of_birth = dt.date(1984, 6, 15)
    email = factory.Sequence(lambda n: f"patient{n}@example.com")
    mobile = factory.Sequence(lambda n: f"+1202555{n % 10000:04d}")
    time_zone = factory.SelfAttribute("clinic.time_zone")
    email_consent = True
    email_consent_at = factory.LazyFunction(timezone.now)
    email_consent_method = ConsentMethod.WRITTEN
    sms_consent = True
    sms_consent_at = factory.LazyFunction(timezone.now)
    sms_consent_method = ConsentMethod.WRITTEN


def protocol(slug: str = IV_INDUCTION) -> Protocol:
    """The newest version of a built-in protocol (loaded by protocols' data migration)."""
    found = Protocol.objects.filter(slug=slug, is_active=True).order_by("-version").first()
    if found is None:
        raise LookupError(f"protocol {slug!r} is not in the database (was the test DB flushed?)")
    return found


def next_weekday(clinic: Clinic, days_ahead: int = 3, *, now: dt.datetime | None = None) -> dt.date:
    """The first Monday-to-Friday date at least `days_ahead` days after today at the clinic."""
    today = (now or timezone.now()).astimezone(ZoneInfo(clinic.time_zone)).date()
    day = today + dt.timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def make_plan(
    *,
    patient: Patient | None = None,
    provider: Provider | None = None,
    protocol_slug: str = IV_INDUCTION,
    protocol_version: Protocol | None = None,
    start_date: dt.date | None = None,
    now: dt.datetime | None = None,
    **kwargs,
):
    """Create a plan the way the admin does (services.plan_create) and return the service result.

    Missing people are made in one clinic: the patient's, the provider's, or a new one. The
    protocol is the newest version of ``protocol_slug`` unless ``protocol_version`` names one.
    """
    clinic = (patient and patient.clinic) or (provider and provider.clinic) or ClinicFactory()
    patient = patient or PatientFactory(clinic=clinic)
    provider = provider or ProviderFactory(clinic=clinic)
    return services.plan_create(
        patient=patient,
        provider=provider,
        protocol=protocol_version or protocol(protocol_slug),
        start_date=start_date or next_weekday(clinic, now=now),
        now=now,
        **kwargs,
    )


def plan_a_week_ahead(patient: Patient, provider: Provider, **kwargs):
    """A plan whose first weekday is a week from now, so its preparation reminders are to come."""
    start = next_weekday(patient.clinic, days_ahead=7)
    return make_plan(patient=patient, provider=provider, start_date=start, **kwargs).plan
