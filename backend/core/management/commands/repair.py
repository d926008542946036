"""`manage.py repair [--dry-run]`: report stuck states and repair them (backend.core.repair)."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from backend.core import repair


class Command(BaseCommand):
    help = (
        "Report and repair stuck states: reminders queued past their lease, due reminders past "
        "their not-after time, active plans whose items all have their outcome. Safe to run "
        "twice and beside a running service. --dry-run only reports."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Report only; change nothing.")

    def handle(self, *args, dry_run: bool = False, **options):
        findings = repair.run(now=timezone.now(), apply=not dry_run)
        width = max(len(f.check) for f in findings)
        for f in findings:
            done = f"{f.repaired} {f.action}" if not dry_run and f.repaired else f.action
            if f.found == 0:
                done = "-"
            self.stdout.write(f"{f.check:<{width}}  found {f.found:>6}  {done}")
        left = sum(f.found - f.repaired for f in findings if f.action != "reported only")
        if dry_run and left:
            self.stdout.write(self.style.WARNING("Dry run: nothing changed."))
