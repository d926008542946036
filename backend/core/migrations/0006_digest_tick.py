"""Register the providers' daily-digest tick (reminders.create_digests) in django-celery-beat.

Every 15 minutes: each run creates the digests whose 07:00 clinic time has come and that do not
exist yet (backend.reminders.digest), so a digest is created within 15 minutes of 07:00 in every
clinic's zone, a doubled or late tick creates nothing twice, and a missed one is caught up by the
next. No expiry, like the dispatcher's tick (0005): a late tick is harmless.
"""

from django.db import migrations

NAME = "Create providers' daily digests"
TASK = "reminders.create_digests"
EVERY_S = 15 * 60


def create_digest_tick(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    schedule, _ = IntervalSchedule.objects.get_or_create(every=EVERY_S, period="seconds")
    PeriodicTask.objects.update_or_create(
        name=NAME,
        defaults={
            "task": TASK,
            "interval": schedule,
            "queue": "dispatch",
            "kwargs": "{}",
            "enabled": True,
            "expire_seconds": None,
        },
    )
    # DatabaseScheduler reloads when this row changes; bump it as the admin would.
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_digest_tick(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0005_dispatch_tick"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(create_digest_tick, remove_digest_tick)]
