"""Short links from SMS texts, and email unsubscribe.

Email unsubscribe: a GET shows a confirm page (link scanners never unsubscribe anyone);
the POST, including RFC 8058 one-click from mail clients, records the opt-out. Both pages are in
the patient's language, or the one they chose with the switch (backend.core.page_language)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from backend.core import page_language
from backend.patients.models import Patient
from backend.plans.views import link_refused
from backend.reminders import consent
from backend.reminders.links import UNSUBSCRIBE_MAX_AGE, LinkRefused, read_short_link, read_token


# One-click POSTs come from mail providers without a CSRF token; the signed token is the proof.
@csrf_exempt
@never_cache
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        payload = read_token("unsubscribe", token, max_age=UNSUBSCRIBE_MAX_AGE)
    except LinkRefused:
        with page_language.patient_page(request, None):
            return render(request, "pages/unsubscribe_invalid.html", status=400)
    patient = get_object_or_404(Patient, pk=payload["p"])
    channel = payload.get("c", "email")
    if request.method not in ("GET", "POST"):
        return HttpResponse(status=405)
    with page_language.patient_page(request, patient.language):
        if request.method == "POST":
            now = timezone.now()
            consent.opt_out(patient=patient, channel=channel, method="email_link", now=now)
            return render(request, "pages/unsubscribe_done.html", {"clinic": patient.clinic})
        return render(request, "pages/unsubscribe_confirm.html", {"clinic": patient.clinic})


@never_cache
def short_link(request: HttpRequest, code: str) -> HttpResponse:
    """A short link from an SMS: 302 to the signed link it stands for (which checks itself
    again); an unknown code is a 404, a revoked or expired one a 410, with the same page as a
    refused signed link."""
    try:
        link = read_short_link(code, now=timezone.now())
    except LinkRefused as refused:
        return link_refused(request, refused)
    return HttpResponseRedirect(link.target)
