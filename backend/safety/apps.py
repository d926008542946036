from django.apps import AppConfig


class SafetyConfig(AppConfig):
    name = "backend.safety"
    label = "safety"
    verbose_name = "Safety: flags and patient messages"
