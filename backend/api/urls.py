"""Routes of the REST API, mounted at /api/v1/."""

from __future__ import annotations

from django.urls import include, path, re_path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)
from rest_framework.routers import DefaultRouter

from backend.api.views.auth import TokenView, not_found
from backend.api.views.items import ItemViewSet
from backend.api.views.me import MeView, MyScheduleView, UpcomingCheckInsView
from backend.api.views.people import ClinicViewSet, PatientViewSet, ProviderViewSet
from backend.api.views.plans import PlanViewSet
from backend.api.views.protocols import ProtocolViewSet
from backend.api.views.reminders import ReminderViewSet
from backend.api.views.safety import FlagViewSet, QuestionnaireResponseViewSet

router = DefaultRouter()
router.include_root_view = False
# No `.json` suffix routes: the API speaks JSON by content negotiation, and the suffix routes
# handed a `format` argument that the viewsets' actions do not take (a 500).
router.include_format_suffixes = False
router.register("clinics", ClinicViewSet, basename="clinic")
router.register("providers", ProviderViewSet, basename="provider")
router.register("patients", PatientViewSet, basename="patient")
router.register("protocols", ProtocolViewSet, basename="protocol")
router.register("plans", PlanViewSet, basename="plan")
router.register("items", ItemViewSet, basename="item")
router.register("reminders", ReminderViewSet, basename="reminder")
router.register("responses", QuestionnaireResponseViewSet, basename="response")
router.register("flags", FlagViewSet, basename="flag")

app_name = "api"
urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="token"),
    path("check-ins/upcoming/", UpcomingCheckInsView.as_view(), name="check-ins-upcoming"),
    path("me/", MeView.as_view(), name="me"),
    path("me/schedule/", MyScheduleView.as_view(), name="me-schedule"),
    path("schema/", SpectacularAPIView.as_view(permission_classes=[]), name="schema"),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="api:schema", permission_classes=[]),
        name="docs",
    ),
    # Both docs pages load their scripts from this service's static files
    # (drf-spectacular-sidecar, SPECTACULAR_SETTINGS "SIDECAR"), never from a CDN.
    path(
        "redoc/",
        SpectacularRedocView.as_view(
            url_name="api:schema", permission_classes=[], template_name="api/redoc.html"
        ),
        name="redoc",
    ),
    path("", include(router.urls)),
    # Anything else under /api/v1/ is a 404 in the API's error shape, not Django's HTML page.
    re_path(r"^[\s\S]*$", not_found, name="not-found"),
]
