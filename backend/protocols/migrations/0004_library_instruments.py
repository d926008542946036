"""The built-in library's assessments name their questionnaires (`instruments:`).

Rows loaded by 0002 were written before the field existed. The annotation changes no date or
reminder (the engine only carries it), so it is added to those rows in place instead of as a new
version that every live plan would have to move to. Clinic-owned versions are left as they are.
"""

from django.db import migrations


def annotate(apps, schema_editor):
    from scheduler import load_library

    Protocol = apps.get_model("protocols", "Protocol")
    library = load_library()
    for row in Protocol.objects.filter(clinic__isnull=True):
        current = library.get(row.slug)
        if current is None or current.version != row.version:
            continue
        wanted = {s.key: list(s.instruments) for s in current.items if s.instruments}
        changed = False
        for item in row.definition.get("items", []):
            if item.get("key") in wanted and item.get("instruments") != wanted[item["key"]]:
                item["instruments"] = wanted[item["key"]]
                changed = True
        if changed:
            row.save(update_fields=["definition"])


class Migration(migrations.Migration):
    dependencies = [("protocols", "0003_protocol_clinic")]
    operations = [migrations.RunPython(annotate, migrations.RunPython.noop)]
