from django.apps import AppConfig
from django.core import checks


class CoreConfig(AppConfig):
    name = "backend.core"
    label = "core"
    verbose_name = "Aftercare core"

    def ready(self) -> None:
        from django.core.signals import request_finished

        from backend.core.checks import check_outbox_leases
        from backend.core.logging import end_request
        from backend.core.metrics import connect_task_signals

        checks.register(check_outbox_leases, checks.Tags.compatibility)
        connect_task_signals()
        request_finished.connect(end_request, dispatch_uid="aftercare-end-request-id")
