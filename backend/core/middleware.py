"""Staff read times on their clinic's clock.

Django renders every aware datetime in the current time zone (admin lists, history pages,
read-only fields) and reads typed ones in it (https://docs.djangoproject.com/en/5.2/topics/i18n/
timezones/#selecting-the-current-time-zone). Left at UTC, a coordinator in New York reads
"March 2, 2026, 3 p.m." for a 10:00 session. This activates the clinic's zone for its
coordinators and providers; the formats in backend/formats name the zone with each time.
Administrators, who belong to no clinic, keep UTC, named as such. The API is left alone: it
speaks ISO 8601 in UTC to every caller, whoever is logged in.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.utils import timezone

from backend.core.scope import Role, role_of


class ClinicTimeZoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            return self.get_response(request)
        role = role_of(getattr(request, "user", None))
        zone = None
        if role is Role.COORDINATOR:
            zone = request.user.coordinator.clinic.time_zone
        elif role is Role.PROVIDER:
            zone = request.user.provider.clinic.time_zone
        if zone:
            timezone.activate(ZoneInfo(zone))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
