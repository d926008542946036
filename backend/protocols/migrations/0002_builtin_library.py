"""Load the built-in protocol library (scheduler/protocols/*.yaml) as version rows."""

from django.db import migrations


def load_library(apps, schema_editor):
    from backend.protocols.library import install_builtin_protocols

    install_builtin_protocols(apps.get_model("protocols", "Protocol"))


class Migration(migrations.Migration):
    dependencies = [("protocols", "0001_initial")]
    operations = [migrations.RunPython(load_library, migrations.RunPython.noop)]
