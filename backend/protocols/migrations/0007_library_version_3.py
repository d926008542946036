"""Version 3 of the built-in protocols (#15): the per-check-in "check-ins tomorrow" notice to the
provider (rule ``provider_checkins``) is gone; the provider's daily digest
(backend.reminders.digest) lists the day's sessions, check-ins and tasks instead.

Installed the way 0006 installed version 2: new content is a new version; older library versions
are retired (``is_active = False``) so new plans are built from version 3, and plans keep the
version they were built from. Their pending notices are held back at send time
(backend.reminders.eligibility: "replaced by the daily digest"). Clinic-owned versions are left
alone: a clinic reviews its own copy.
"""

from django.db import migrations


def install_and_retire(apps, schema_editor):
    from backend.protocols.library import install_builtin_protocols
    from scheduler import load_library

    Protocol = apps.get_model("protocols", "Protocol")
    install_builtin_protocols(Protocol)
    for slug, current in load_library().items():
        Protocol.objects.filter(clinic__isnull=True, slug=slug, version__lt=current.version).update(
            is_active=False
        )


class Migration(migrations.Migration):
    dependencies = [("protocols", "0006_library_version_2")]
    operations = [migrations.RunPython(install_and_retire, migrations.RunPython.noop)]
