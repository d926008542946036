"""Reminder rules no longer carry a priority (#13): one order by message kind, in
scheduler/priorities.py, for every protocol.

Stored definitions were written by ``Protocol.to_dict()`` when every rule had a ``priority``, and
plans may hold per-rule ``reminder_overrides`` that set one; the engine now refuses that field
(rule protocol.priority_fixed), so it is removed from both. This changes no date: a priority only
ranked texts inside the SMS budget, and the new order applies from the next re-plan on. Clinic
versions are cleaned too, in place: the field means nothing any more, so there is no new version.
Depends on the plans app for ``TreatmentPlan.options``.
"""

from django.db import migrations


def _strip(rules) -> bool:
    changed = False
    for rule in rules or []:
        if isinstance(rule, dict) and "priority" in rule:
            del rule["priority"]
            changed = True
    return changed


def strip_priorities(apps, schema_editor):
    Protocol = apps.get_model("protocols", "Protocol")
    for row in Protocol.objects.all():
        definition = row.definition if isinstance(row.definition, dict) else {}
        if _strip(definition.get("reminder_rules")):
            row.save(update_fields=["definition"])
    TreatmentPlan = apps.get_model("plans", "TreatmentPlan")
    for plan in TreatmentPlan.objects.only("id", "options").iterator():
        overrides = (plan.options or {}).get("reminder_overrides") or {}
        if isinstance(overrides, dict) and _strip(list(overrides.values())):
            plan.save(update_fields=["options"])


class Migration(migrations.Migration):
    dependencies = [
        ("protocols", "0004_library_instruments"),
        ("plans", "0003_notified_sequence"),
    ]
    operations = [migrations.RunPython(strip_priorities, migrations.RunPython.noop)]
