"""URL routes: admin, health, API, patient links and provider pages."""

from django.contrib import admin
from django.urls import include, path

from backend.core.views import health

urlpatterns = [
    path("health/", health, name="health"),
    path("admin/", admin.site.urls),
]
