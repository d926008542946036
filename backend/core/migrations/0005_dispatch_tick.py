"""Ticks on the database's clock: a PeriodicTick table, and no expiry on the periodic tasks.

`expire_seconds` was judged on the worker's clock: a worker more than 30 s ahead of beat dropped
every dispatcher tick, logged at INFO only. A late tick is harmless (a claim is a conditional
UPDATE with SKIP LOCKED, so a tick that runs late or twice claims nothing twice), so the ticks no
longer expire; /health/ reports the last tick by the database's clock instead.
"""

from django.db import migrations, models

TASKS = ["reminders.dispatch_due", "core.heartbeat"]


def drop_expiry(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task__in=TASKS).update(expire_seconds=None, expires=None)
    # DatabaseScheduler reloads when this row changes; bump it as the admin would.
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def restore_expiry(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for task in PeriodicTask.objects.filter(task__in=TASKS).select_related("interval"):
        task.expire_seconds = task.interval.every if task.interval else None
        task.save(update_fields=["expire_seconds"])


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0004_safety_groups"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.CreateModel(
            name="PeriodicTick",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("task", models.CharField(max_length=100, unique=True)),
                ("ran_at", models.DateTimeField()),
            ],
        ),
        migrations.RunPython(drop_expiry, restore_expiry),
    ]
