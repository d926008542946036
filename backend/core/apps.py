from django.apps import AppConfig
from django.core import checks


class CoreConfig(AppConfig):
    name = "backend.core"
    label = "core"
    verbose_name = "Aftercare core"

    def ready(self) -> None:
        from backend.core.checks import check_outbox_leases

        checks.register(check_outbox_leases, checks.Tags.compatibility)
