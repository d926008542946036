"""Patients' session requests behind their signed link (backend.plans.request_views): included
from backend/urls.py."""

from django.urls import path

from backend.plans import request_views

urlpatterns = [
    path(
        "p/<str:token>/sessions/<int:item_id>/confirm/",
        request_views.session_confirm,
        name="patient-session-confirm",
    ),
    path(
        "p/<str:token>/sessions/<int:item_id>/move/",
        request_views.session_move,
        name="patient-session-move",
    ),
]
