"""seed_network at a tiny scale: every copied course keeps the product's invariants (its clinic,
its patient, local times in its zone, reminders of its own items, one key per plan), reminders
already due carry a dispatcher's outcome, and a database with clinics is refused."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db.models import F
from django.utils import timezone

from backend.clinics.models import Clinic, Coordinator, Provider
from backend.core.network_seed import NetworkNotEmpty, NetworkSize, seed_network
from backend.patients.models import Patient
from backend.plans.models import PlanItem, TreatmentPlan
from backend.reminders.models import Reminder

SIZE = NetworkSize(
    clinics=2,
    patients=60,
    reminders=1500,
    providers_per_clinic=4,
    coordinators_per_clinic=1,
    session_times=("09:00",),
)


@pytest.mark.django_db
def test_a_tiny_network_keeps_the_products_invariants():
    now = timezone.now()
    result = seed_network(SIZE, now=now)

    # Its sizes, and its people in their roles.
    assert Clinic.objects.count() == result.clinics == 2
    assert len(set(Clinic.objects.values_list("time_zone", flat=True))) == 2
    assert Patient.objects.count() == result.patients == 60
    assert Provider.objects.count() == 8 and Coordinator.objects.count() == 2
    assert set(
        User.objects.filter(coordinator__isnull=False).values_list("groups__name", flat=True)
    ) == {"Coordinators"}
    assert User.objects.get(username="net-c01-provider-1").check_password("aftercare-network")
    assert Reminder.objects.count() == result.reminders >= SIZE.reminders
    assert TreatmentPlan.objects.count() == result.plans > result.planned == 2 * 4
    assert PlanItem.objects.count() == result.items

    # Copied courses keep the product's invariants.
    assert not TreatmentPlan.objects.exclude(clinic=F("patient__clinic")).exists()
    assert not TreatmentPlan.objects.exclude(provider__clinic=F("clinic")).exists()
    for item in PlanItem.objects.all():
        local = item.start.astimezone(ZoneInfo(item.time_zone))
        assert (local.date(), local.time()) == (item.local_date, item.local_time), item.pk
        assert item.end >= item.start
    assert not Reminder.objects.exclude(item__isnull=True).exclude(item__plan=F("plan")).exists()
    patients = Reminder.objects.filter(audience="patient")
    assert not patients.exclude(patient=F("plan__patient")).exists()
    assert not Reminder.objects.filter(audience="provider", provider__isnull=True).exists()
    # Courses are copied at the same wall-clock times the engine planned: a reminder of a copy
    # goes out at a local time some service-planned course of its clinic also uses.
    for clinic in Clinic.objects.all():
        zone = ZoneInfo(clinic.time_zone)
        rows = Reminder.objects.filter(plan__clinic=clinic).values_list("send_at", "plan__revision")
        planned = {at.astimezone(zone).time() for at, revision in rows if revision != 1}
        copied = {at.astimezone(zone).time() for at, revision in rows if revision == 1}
        assert copied and copied <= planned

    # Reminders already due have a dispatcher's outcome; the rest are still to go.
    assert not Reminder.objects.filter(send_at__lt=now, status="scheduled").exists()
    assert not Reminder.objects.filter(send_at__gte=now).exclude(status="scheduled").exists()
    assert Reminder.objects.filter(send_at__gte=now).exists()
    assert Reminder.objects.filter(status="sent", sent_at__isnull=False).exists()
    assert Reminder.objects.filter(status="failed").exclude(last_error="").exists()
    over = PlanItem.objects.filter(end__lt=now - dt.timedelta(days=8))
    assert not over.filter(status="scheduled").exists()
    assert TreatmentPlan.objects.filter(status="active").exists()


def test_a_database_with_clinics_is_refused(clinic):
    before = Patient.objects.count()
    with pytest.raises(NetworkNotEmpty):
        seed_network(SIZE, now=timezone.now())
    with pytest.raises(CommandError, match="empty database only"):
        call_command("seed_network", clinics=1, patients=5, reminders=10, verbosity=0)
    assert Patient.objects.count() == before
