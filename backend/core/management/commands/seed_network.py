"""Seed a synthetic clinic network for the scale benchmarks (backend/core/network_seed.py)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from backend.core.network_seed import NETWORK_PASSWORD, NetworkNotEmpty, NetworkSize, seed_network


class Command(BaseCommand):
    help = (
        "Seed a synthetic clinic network (50 clinics, 100,000 patients, 1,000,000 reminders by "
        "default) into an empty, migrated database; refuses a database that has clinics."
    )

    def add_arguments(self, parser):
        defaults = NetworkSize()
        parser.add_argument("--clinics", type=int, default=defaults.clinics)
        parser.add_argument("--patients", type=int, default=defaults.patients)
        parser.add_argument("--reminders", type=int, default=defaults.reminders)
        parser.add_argument(
            "--providers-per-clinic", type=int, default=defaults.providers_per_clinic
        )
        parser.add_argument(
            "--coordinators-per-clinic", type=int, default=defaults.coordinators_per_clinic
        )
        parser.add_argument(
            "--templates-per-protocol",
            type=int,
            default=defaults.templates_per_protocol,
            help="Courses each clinic plans through the service layer per protocol and session "
            "time; the rest "
            "are copies of them.",
        )

    def handle(self, *args, **options):
        size = NetworkSize(
            clinics=options["clinics"],
            patients=options["patients"],
            reminders=options["reminders"],
            providers_per_clinic=options["providers_per_clinic"],
            coordinators_per_clinic=options["coordinators_per_clinic"],
            templates_per_protocol=options["templates_per_protocol"],
        )
        began = time.perf_counter()
        try:
            seeded = seed_network(
                size,
                now=timezone.now(),
                report=lambda line: self.stdout.write(line) if options["verbosity"] > 1 else None,
            )
        except NetworkNotEmpty as error:
            raise CommandError(str(error)) from error
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")  # plans with statistics, as autovacuum keeps them
        self.stdout.write(
            f"Seeded in {time.perf_counter() - began:.0f} s: {seeded.clinics} clinics, "
            f"{seeded.providers} providers, {seeded.coordinators} coordinators, "
            f"{seeded.patients} patients, {seeded.plans} plans ({seeded.planned} planned by the "
            f"service layer, the rest copies), {seeded.items} items, {seeded.reminders} reminders "
            f"({', '.join(f'{k} {v}' for k, v in seeded.reminder_statuses.items() if v)}). "
            f"Logins: net-cNN-provider-N, net-cNN-coordinator-N, password {NETWORK_PASSWORD!r}."
        )
