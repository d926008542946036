"""Demo data for `make run`: synthetic people only, idempotent, refused outside demo mode."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from backend.clinics.models import Clinic, Coordinator, Provider
from backend.patients.models import ConsentMethod, Patient
from backend.plans import services
from backend.plans.models import TreatmentPlan
from backend.protocols.models import Protocol
from backend.reminders.models import Reminder
from backend.reminders.services import reminder_send_now

DEMO_PASSWORD = "aftercare-demo"
PATIENTS = [
    # username, first, last, zone, protocol slug, email, mobile
    (
        "patient",
        "Avery",
        "Quinlan",
        "America/New_York",
        "iv-ketamine-induction-trd",
        "avery.quinlan@example.com",
        "+12025550143",
    ),
    (
        None,
        "Rowan",
        "Ellery",
        "America/Chicago",
        "esketamine-nasal-spray",
        "rowan.ellery@example.com",
        "+13125550178",
    ),
    (
        None,
        "Sage",
        "Marlowe",
        "America/Los_Angeles",
        "ketamine-assisted-psychotherapy",
        "sage.marlowe@example.com",
        "+14155550112",
    ),
]


class Command(BaseCommand):
    help = "Load demo data (demo mode only). Running it again changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Allow outside demo mode.")

    def _user(self, username, first, last, email, *, staff=False, group=None) -> User:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "email": email, "is_staff": staff},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        if group:
            user.groups.add(Group.objects.get(name=group))
        return user

    @transaction.atomic
    def handle(self, *args, force=False, **options):
        if not (settings.DEMO_MODE or force):
            raise CommandError(
                "seed_demo runs only in demo mode (AFTERCARE_DEMO=1): it creates logins."
            )
        now = timezone.now()
        clinic, _ = Clinic.objects.get_or_create(
            name="Harbor Light Clinic",
            defaults={
                "time_zone": "America/New_York",
                "holiday_country": "US",
                "sender_name": "Harbor Light Clinic",
                "sms_sender_name": "Harbor Light",
                "sender_email": "care@harborlight.example",
                "phone": "+12025550100",
                "opening_hours": {str(d): [["08:00", "18:00"]] for d in range(6)},
            },
        )
        coordinator = self._user(
            "coordinator",
            "Casey",
            "Nguyen",
            "casey@harborlight.example",
            staff=True,
            group="Coordinators",
        )
        Coordinator.objects.get_or_create(user=coordinator, defaults={"clinic": clinic})
        prescriber_user = self._user(
            "provider",
            "Jordan",
            "Patel",
            "jordan@harborlight.example",
            staff=True,
            group="Providers",
        )
        prescriber, _ = Provider.objects.get_or_create(
            user=prescriber_user,
            defaults={
                "clinic": clinic,
                "role": Provider.Role.PRESCRIBER,
                "mobile": "+12025550161",
            },
        )
        therapist_user = self._user(
            "therapist",
            "Morgan",
            "Reyes",
            "morgan@harborlight.example",
            staff=True,
            group="Providers",
        )
        therapist, _ = Provider.objects.get_or_create(
            user=therapist_user,
            defaults={"clinic": clinic, "role": Provider.Role.THERAPIST, "mobile": "+12025550162"},
        )
        if clinic.on_call_contact_id is None:
            # Urgent flags reach the prescriber at once and the therapist if nobody acknowledges.
            clinic.on_call_contact, clinic.backup_contact = prescriber, therapist
            clinic.save(update_fields=["on_call_contact", "backup_contact"])
        start = now.astimezone(ZoneInfo(clinic.time_zone)).date() + dt.timedelta(days=2)
        for username, first, last, zone, slug, email, mobile in PATIENTS:
            user = self._user(username, first, last, email) if username else None
            patient, _ = Patient.objects.get_or_create(
                clinic=clinic,
                email=email,
                defaults={
                    "user": user,
                    "first_name": first,
                    "last_name": last,
                    "date_of_birth": dt.date(1985, 4, 12),
                    "mobile": mobile,
                    "time_zone": zone,
                    "email_consent": True,
                    "email_consent_at": now,
                    "email_consent_method": ConsentMethod.WRITTEN,
                    "sms_consent": True,
                    "sms_consent_at": now,
                    "sms_consent_method": ConsentMethod.WRITTEN,
                },
            )
            if patient.plans.exists():
                continue
            protocol = Protocol.objects.filter(slug=slug).order_by("-version").first()
            if protocol is None:
                continue
            services.plan_create(
                patient=patient,
                protocol=protocol,
                start_date=start,
                provider=prescriber,
                created_by=coordinator,
                now=now,
            )
        first_plan = TreatmentPlan.objects.filter(patient__user__username="patient").first()
        if (
            first_plan
            and not first_plan.reminders.filter(status_reason="sent now by staff").exists()
            and not first_plan.reminders.filter(status=Reminder.Status.SENT).exists()
        ):
            # A provider email: no patient quiet hours apply, so it goes out whatever the hour.
            first = first_plan.reminders.filter(
                status=Reminder.Status.SCHEDULED, audience="provider", channel="email"
            ).first()
            if first:
                reminder_send_now(reminder=first, now=now + dt.timedelta(seconds=20))
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {Patient.objects.count()} patients, "
                f"{TreatmentPlan.objects.count()} plans, {Reminder.objects.count()} reminders."
            )
        )
        # The "patient" login has no password page: it signs in by an emailed link
        # (backend.patients.login), which the file email backend of `make run` writes to disk.
        login_url = settings.PUBLIC_BASE_URL.rstrip("/") + reverse("patient-login")
        email_dir = Path(settings.OUTBOX_DIR) / "email"
        self.stdout.write(
            f'Patient login ("patient"): open {login_url}, enter {PATIENTS[0][5]}, then open '
            f"the link in the newest file in {email_dir}/ (it works once, for 15 minutes)."
        )
