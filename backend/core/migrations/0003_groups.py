"""The Coordinators and Providers groups with exactly the permissions each role needs."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

COORDINATOR_PERMS = {
    "clinics": {
        "clinic": ["view"],
        "closeddate": ["view", "add", "change", "delete"],
        "provider": ["view"],
        "coordinator": ["view"],
    },
    "patients": {"patient": ["view", "add", "change"]},
    "protocols": {"protocol": ["view", "add", "change"]},
    "plans": {"treatmentplan": ["view", "add", "change"], "planitem": ["view", "change"]},
    "reminders": {"reminder": ["view", "change"], "deliveryattempt": ["view"]},
}
PROVIDER_PERMS = {
    "patients": {"patient": ["view"]},
    "protocols": {"protocol": ["view"]},
    "plans": {"treatmentplan": ["view"], "planitem": ["view"]},
    "reminders": {"reminder": ["view"]},
}


def _grant(apps, group_name, spec):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=group_name)
    codenames = [
        (app, f"{action}_{model}")
        for app, models in spec.items()
        for model, actions in models.items()
        for action in actions
    ]
    perms = [Permission.objects.get(content_type__app_label=a, codename=c) for a, c in codenames]
    group.permissions.set(perms)


def create_groups(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
    _grant(apps, "Coordinators", COORDINATOR_PERMS)
    _grant(apps, "Providers", PROVIDER_PERMS)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_periodic_tasks"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("clinics", "0001_initial"),
        ("patients", "0001_initial"),
        ("protocols", "0001_initial"),
        ("plans", "0001_initial"),
        ("reminders", "0001_initial"),
    ]
    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
