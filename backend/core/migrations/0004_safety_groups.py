"""Coordinators and providers see the safety loop's records: responses, shared journal entries,
the inbox (which they may mark read) and flags (acknowledged on the clinician's flag page)."""

import importlib

from django.contrib.auth.management import create_permissions
from django.db import migrations

groups = importlib.import_module("backend.core.migrations.0003_groups")

SAFETY = {
    "measures": {"questionnaireresponse": ["view"], "journalentry": ["view"]},
    "safety": {"patientmessage": ["view", "change"], "flag": ["view"]},
}
COORDINATOR_PERMS = {**groups.COORDINATOR_PERMS, **SAFETY}
PROVIDER_PERMS = {**groups.PROVIDER_PERMS, **SAFETY}


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
    groups._grant(apps, "Coordinators", COORDINATOR_PERMS)
    groups._grant(apps, "Providers", PROVIDER_PERMS)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_groups"),
        ("measures", "0001_initial"),
        ("safety", "0001_initial"),
    ]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
