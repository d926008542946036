"""Coordinators read and answer patients' session requests (the plans admin); providers read them.

Added to what the groups already hold (``permissions.add``), never set: other migrations grant the
rest of each role's permissions.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

COORDINATOR_PERMS = {"plans": {"sessionrequest": ["view", "change"]}}
PROVIDER_PERMS = {"plans": {"sessionrequest": ["view"]}}


def _add(apps, group_name, spec):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=group_name)
    for app, models in spec.items():
        for model, actions in models.items():
            for action in actions:
                group.permissions.add(
                    Permission.objects.get(
                        content_type__app_label=app, codename=f"{action}_{model}"
                    )
                )


def grant(apps, schema_editor=None):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
    _add(apps, "Coordinators", COORDINATOR_PERMS)
    _add(apps, "Providers", PROVIDER_PERMS)


class Migration(migrations.Migration):
    dependencies = [
        ("plans", "0005_session_request"),
        ("core", "0004_safety_groups"),
    ]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
