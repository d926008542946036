from django.apps import AppConfig


class RemindersConfig(AppConfig):
    name = "backend.reminders"
    label = "reminders"

    def ready(self) -> None:
        from backend.reminders import (  # noqa: F401 - these connect their signal receivers
            receipts,
            worker_db,
        )
