"""A provider's daily digest (backend.reminders.digest) is an outbox row of no plan: `plan` may be
empty for provider messages, and such rows are unique per (provider, key)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reminders", "0005_sending_until_help"),
    ]

    operations = [
        migrations.AlterField(
            model_name="reminder",
            name="plan",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="reminders",
                to="plans.treatmentplan",
            ),
        ),
        migrations.AlterField(
            model_name="reminder",
            name="key",
            field=models.CharField(
                help_text="Engine key, unique within the plan; a digest's is digest:<date>, "
                "unique per provider.",
                max_length=120,
            ),
        ),
        migrations.AlterField(
            model_name="historicalreminder",
            name="key",
            field=models.CharField(
                help_text="Engine key, unique within the plan; a digest's is digest:<date>, "
                "unique per provider.",
                max_length=120,
            ),
        ),
        migrations.AddConstraint(
            model_name="reminder",
            constraint=models.UniqueConstraint(
                condition=models.Q(("plan__isnull", True)),
                fields=("provider", "key"),
                name="reminder_key_unique_per_provider_without_plan",
            ),
        ),
        migrations.AddConstraint(
            model_name="reminder",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("plan__isnull", False), ("audience", "provider"), _connector="OR"
                ),
                name="reminder_planless_only_for_provider",
            ),
        ),
    ]
