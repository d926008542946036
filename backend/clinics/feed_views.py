"""The provider's calendar feed (answered to calendar apps, by key) and the page where a provider
creates or revokes their own feed link (behind login). backend/clinics/calendar_feed.py says what
a feed holds and why."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from backend.clinics import calendar_feed, services
from backend.core.scope import Role, role_of


@require_safe
def calendar_feed_view(request: HttpRequest, key: str) -> HttpResponse:
    """The feed itself. No login (calendar apps have none): the key in the URL is the credential.
    A revoked, rotated, unknown or forged key and a provider who has left all get the same 404."""
    provider = calendar_feed.provider_for_key(key)
    if provider is None:
        raise Http404("No such calendar.")
    body = calendar_feed.provider_feed(provider, now=timezone.now())
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, no-store"
    response["Content-Disposition"] = 'inline; filename="aftercare.ics"'
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def provider_calendar(request: HttpRequest) -> HttpResponse:
    """An active provider's own feed link: "Create my calendar link" shows a new URL this once
    (and stops any earlier one), "Revoke" stops it. Nobody else's key is reachable from here."""
    if role_of(request.user) is not Role.PROVIDER:  # deactivated providers have no role
        raise PermissionDenied("Only active providers have a calendar feed.")
    provider = request.user.provider
    feed_url, notice = "", ""
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "issue":
            feed_url = services.provider_feed_issue(provider=provider, now=timezone.now())
            notice = "Your new calendar link is below. Any link you had before no longer works."
        elif action == "revoke":
            services.provider_feed_revoke(provider=provider)
            notice = "Your calendar link no longer works. Calendars subscribed to it stop updating."
        else:
            return render(
                request,
                "pages/provider_calendar.html",
                {"provider": provider, "error": 'action: must be "issue" or "revoke".'},
                status=400,
            )
        provider.refresh_from_db(fields=["calendar_feed_key_hash", "calendar_feed_issued_at"])
    context = {
        "provider": provider,
        "feed_url": feed_url,
        "notice": notice,
        "has_feed": bool(provider.calendar_feed_key_hash),
        "zone": provider.clinic.time_zone,
    }
    return render(request, "pages/provider_calendar.html", context)
