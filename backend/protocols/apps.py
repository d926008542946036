from django.apps import AppConfig


class ProtocolsConfig(AppConfig):
    name = "backend.protocols"
    label = "protocols"
