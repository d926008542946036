from django.apps import AppConfig


class RemindersConfig(AppConfig):
    name = "backend.reminders"
    label = "reminders"

    def ready(self) -> None:
        from backend.reminders import worker_db  # noqa: F401 - connects its signal receivers
