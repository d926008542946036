"""Register the periodic tasks in django-celery-beat's tables: code, not admin clicks, owns them."""

from django.db import migrations

PERIODIC_TASKS = [
    # (name, task, every seconds, queue, kwargs as JSON)
    # The dispatcher follows newly due rows for 25 s of its 30 s interval (see its docstring).
    ("Dispatch due reminders", "reminders.dispatch_due", 30, "dispatch", '{"follow_seconds": 25}'),
    ("Worker heartbeat", "core.heartbeat", 60, "dispatch", "{}"),
]


def create_periodic_tasks(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, every, queue, kwargs in PERIODIC_TASKS:
        schedule, _ = IntervalSchedule.objects.get_or_create(every=every, period="seconds")
        PeriodicTask.objects.update_or_create(
            name=name,
            defaults={
                "task": task,
                "interval": schedule,
                "queue": queue,
                "kwargs": kwargs,
                "enabled": True,
                # A tick that could not run in time is dropped, not queued up behind the next.
                "expire_seconds": every,
            },
        )
    # DatabaseScheduler reloads when this row changes; bump it as the admin would.
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_periodic_tasks(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[n for n, *_ in PERIODIC_TASKS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(create_periodic_tasks, remove_periodic_tasks)]
