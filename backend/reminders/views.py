"""Email unsubscribe: a GET shows a confirm page (link scanners never unsubscribe anyone);
the POST, including RFC 8058 one-click from mail clients, records the opt-out."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from backend.patients.models import Patient
from backend.reminders import consent
from backend.reminders.links import UNSUBSCRIBE_MAX_AGE, LinkRefused, read_token


# One-click POSTs come from mail providers without a CSRF token; the signed token is the proof.
@csrf_exempt
@never_cache
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        payload = read_token("unsubscribe", token, max_age=UNSUBSCRIBE_MAX_AGE)
    except LinkRefused:
        return render(request, "pages/unsubscribe_invalid.html", status=400)
    patient = get_object_or_404(Patient, pk=payload["p"])
    channel = payload.get("c", "email")
    if request.method == "POST":
        consent.opt_out(patient=patient, channel=channel, method="email_link", now=timezone.now())
        return render(request, "pages/unsubscribe_done.html", {"clinic": patient.clinic})
    if request.method != "GET":
        return HttpResponse(status=405)
    return render(request, "pages/unsubscribe_confirm.html", {"clinic": patient.clinic})
