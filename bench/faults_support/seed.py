"""Seed the fault bench's template database: one clinic, provider, patient (no quiet hours, both
consents, written SMS consent and clinic limits high enough that the SMS budget never skips a
bench text), one plan, and N reminders keyed `fault-<i>` copied from the plan's own patient
reminders (so they render with real templates), scheduled far in the future. bench/faults.py
makes them due per scenario with one UPDATE.

Run: python -m faults_support.seed N SMS_SHARE   (DATABASE_URL set, DJANGO_SETTINGS_MODULE)
"""

from __future__ import annotations

import datetime as dt
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.db import transaction  # noqa: E402

from backend.clinics.models import Clinic, Provider  # noqa: E402
from backend.patients.models import Patient  # noqa: E402
from backend.plans import services  # noqa: E402
from backend.protocols.models import Protocol  # noqa: E402
from backend.reminders.models import Reminder  # noqa: E402


def main(n: int, sms_share: float) -> None:
    now = dt.datetime.now(dt.UTC)
    with transaction.atomic():
        clinic = Clinic.objects.create(
            name="Fault Bench Clinic",
            time_zone="America/New_York",
            phone="+12025550100",
            opening_hours={str(d): [["00:00", "23:59"]] for d in range(7)},
            holiday_country="",
            sms_daily_limit=32767,
            sms_weekly_limit=32767,
        )
        user = User.objects.create_user("faults-provider", email="p@faults.example")
        provider = Provider.objects.create(user=user, clinic=clinic, role="prescriber")
        patient = Patient.objects.create(
            clinic=clinic,
            first_name="Fault",
            last_name="Bench",
            date_of_birth=dt.date(1980, 1, 1),
            email="faults@example.com",
            mobile="+12025550123",
            time_zone="America/New_York",
            quiet_start=None,
            quiet_end=None,
            email_consent=True,
            sms_consent=True,
            sms_written_consent=True,
        )
        protocol = Protocol.objects.get(slug="iv-ketamine-induction-trd")
        plan = services.plan_create(
            patient=patient,
            protocol=protocol,
            provider=provider,
            start_date=(now + dt.timedelta(days=3)).date(),
            now=now,
        ).plan
        own = plan.reminders.filter(audience="patient", status="scheduled")
        templates = {
            channel: own.filter(channel=channel, flag__isnull=True).order_by("id").first()
            for channel in ("email", "sms")
        }
        plan.reminders.update(status="cancelled")  # only the bench's rows are ever due
        far = now + dt.timedelta(days=30)
        sms_every = round(1 / sms_share) if sms_share > 0 and templates["sms"] else 0
        rows = []
        for i in range(n):
            channel = "sms" if sms_every and i % sms_every == sms_every - 1 else "email"
            row = Reminder.objects.get(pk=templates[channel].pk)
            row.pk = None
            row.id = None
            row.key = f"fault-{i}"
            row.status = "scheduled"
            row.send_at = far
            row.not_after = far + dt.timedelta(hours=2)
            for field in ("lease_expires_at", "sending_until", "sent_at"):
                if hasattr(row, field):
                    setattr(row, field, None)
            for field in ("lease_token", "provider_message_id", "last_error", "status_reason"):
                if hasattr(row, field):
                    setattr(row, field, "")
            if hasattr(row, "attempts"):
                row.attempts = 0
            rows.append(row)
        Reminder.objects.bulk_create(rows, batch_size=1000)
    print(
        f"seeded {n} reminders "
        f"({sum(r.channel == 'sms' for r in rows)} sms, {sum(r.channel == 'email' for r in rows)} "
        "email)"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]))
