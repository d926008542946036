import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.utils import timezone

from backend.clinics.models import Clinic, Provider
from backend.patients.models import Patient
from backend.plans.models import PlanItem, TreatmentPlan
from backend.reminders import delivery, dispatch
from backend.reminders.models import Reminder


def _snapshot() -> dict:
    return {
        "users": sorted(User.objects.values_list("username", flat=True)),
        "clinics": Clinic.objects.count(),
        "providers": Provider.objects.count(),
        "patients": sorted(Patient.objects.values_list("email", flat=True)),
        "plans": TreatmentPlan.objects.count(),
        "items": PlanItem.objects.count(),
        "reminders": sorted(Reminder.objects.values_list("key", "status", "send_at")),
    }


@pytest.mark.django_db
def test_seed_demo_twice_leaves_the_same_data(settings):
    settings.DEMO_MODE = True
    call_command("seed_demo", verbosity=0)
    first = _snapshot()
    call_command("seed_demo", verbosity=0)
    assert _snapshot() == first
    assert {"coordinator", "provider", "patient"} <= set(first["users"])
    assert first["plans"] >= 3 and first["providers"] == 2
    for username in ("coordinator", "provider", "patient"):
        assert User.objects.get(username=username).check_password("aftercare-demo")


@pytest.mark.django_db
def test_seed_demo_refuses_outside_demo_mode(settings):
    settings.DEMO_MODE = False
    with pytest.raises(CommandError, match="demo mode"):
        call_command("seed_demo", verbosity=0)
    assert not User.objects.filter(username="coordinator").exists()


@pytest.mark.django_db
def test_the_demo_has_a_reminder_due_within_a_minute_that_goes_out(settings, mailoutbox):
    settings.DEMO_MODE = True
    call_command("seed_demo", verbosity=0)
    now = timezone.now()
    demo = Reminder.objects.get(status="scheduled", status_reason="sent now by staff")
    assert demo.send_at <= now + dt.timedelta(minutes=1)
    later = now + dt.timedelta(minutes=1)
    claimed = dispatch.claim_due(now=later)
    outcomes = delivery.deliver_many(claimed, now=later)
    assert outcomes[demo.pk].status == "sent"
    assert any(demo.provider.user.email in m.to for m in mailoutbox)
