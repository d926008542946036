"""The optional patient login (backend.patients.login): included from backend/urls.py."""

from django.urls import path

from backend.patients import login

urlpatterns = [
    path("patient/", login.patient_home, name="patient-home"),
    path("patient/login/", login.login_request, name="patient-login"),
    path("patient/login/<str:token>/", login.login_open, name="patient-login-open"),
]
