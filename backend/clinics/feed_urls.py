"""URL routes of providers' calendar feeds (included from backend/urls.py): the feed calendar
apps subscribe to, and the provider's page to create or revoke their link."""

from __future__ import annotations

from django.urls import path

from backend.clinics import feed_views

urlpatterns = [
    path("calendar/<str:key>.ics", feed_views.calendar_feed_view, name="provider-calendar-feed"),
    path("provider/calendar/", feed_views.provider_calendar, name="provider-calendar"),
]
