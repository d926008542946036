"""Load the built-in protocol library (scheduler/protocols/*.yaml) as version rows."""

from django.db import migrations


def load_library(apps, schema_editor):
    from scheduler import load_library as read_files

    Protocol = apps.get_model("protocols", "Protocol")
    for slug, protocol in read_files().items():
        Protocol.objects.get_or_create(
            slug=slug,
            version=protocol.version,
            defaults={"name": protocol.name, "definition": protocol.to_dict()},
        )


class Migration(migrations.Migration):
    dependencies = [("protocols", "0001_initial")]
    operations = [migrations.RunPython(load_library, migrations.RunPython.noop)]
