"""Version 2 of the built-in protocols (#13): preparation in numbers, vital-signs and REMS tasks,
a review finished before the next session, the evening-before and what-to-expect messages,
missed-session follow-up, neutral patient titles.

New content is a new version: plans record the version they were built from and keep it. The
older library versions are retired (``is_active = False``), so a coordinator creating a plan is
offered the current one only; plans built from them re-plan as before. Clinic-owned versions are
left alone: a clinic reviews its own copy.
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
    dependencies = [("protocols", "0005_rules_without_priority")]
    operations = [migrations.RunPython(install_and_retire, migrations.RunPython.noop)]
