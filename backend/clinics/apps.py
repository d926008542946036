from django.apps import AppConfig


class ClinicsConfig(AppConfig):
    name = "backend.clinics"
    label = "clinics"
