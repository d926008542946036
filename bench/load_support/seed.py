"""Seed one realistic clinic for the load bench and write what the locust users need as JSON.

The clinic comes from the network seed (backend/core/network_seed.py: service-planned courses and
week-shifted copies, synthetic people only), sized like one busy clinic rather than a network.
Then each coordinator gets an API token (what an integration would hold), and the JSON names
them, the provider with the most plans (the dashboard's login, with the seed's password), a
sample of the clinic's plan ids and name fragments that match patients.

Run: python -m load_support.seed OUT.json CLINIC_PATIENTS CLINIC_REMINDERS
     (DATABASE_URL set, DJANGO_SETTINGS_MODULE, the database migrated and empty)
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db.models import Count  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from backend.clinics.models import Coordinator, Provider  # noqa: E402
from backend.core.network_seed import NETWORK_PASSWORD  # noqa: E402
from backend.patients.models import Patient  # noqa: E402
from backend.plans.models import TreatmentPlan  # noqa: E402


def main(out: str, patients: int, reminders: int) -> None:
    call_command("seed_network", clinics=1, patients=patients, reminders=reminders, verbosity=1)
    tokens = [
        Token.objects.get_or_create(user=c.user)[0].key
        for c in Coordinator.objects.select_related("user").order_by("id")
    ]
    provider = (
        Provider.objects.annotate(n=Count("plans")).order_by("-n", "id").select_related("user")
    ).first()
    plans = list(TreatmentPlan.objects.order_by("?").values_list("id", flat=True)[:200])
    names = sorted({p.last_name[:4] for p in Patient.objects.order_by("?")[:200]})
    data = {
        "coordinator_tokens": tokens,
        "provider_username": provider.user.username,
        "provider_password": NETWORK_PASSWORD,
        "provider_plans": provider.n,
        "plan_ids": plans,
        "name_fragments": names,
        "patients": Patient.objects.count(),
        "plans": TreatmentPlan.objects.count(),
    }
    with open(out, "w") as fh:
        json.dump(data, fh)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
