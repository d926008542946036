"""The optional patient login: an email magic link that opens the same pages as the signed links.

A patient types their email address. If it matches exactly one patient who may be emailed
(consent given, not opted out), has a login account (``Patient.user``, active) and a plan under
way, they get an email with a link that works once, for LOGIN_MAX_AGE. Whatever was typed, the
page answers the same ("if that address is ours, a link is on its way"), so the form tells nobody
whose address is known.

The token is a Django signature (``django.core.signing``, salt ``aftercare.patient-login``) of
the patient's id and a fingerprint of their account's ``last_login``: opening the link logs the
patient in (``django.contrib.auth.login``, which updates ``last_login``), so the fingerprint
changes and the same link never opens again; a later link, or any login since, burns it too.
Nothing about the token is stored: the email is sent at once with Django's email API, not
through the reminder outbox (which keeps every message it sends, and would keep a live key to
the patient's pages at rest for 15 minutes).

Mail scanners open links to check them, so the link's page (GET) only shows a button; the token
is spent when the patient presses it (POST), which then redirects to a freshly signed schedule
link (``/p/<token>/``, backend.reminders.links). A logged-in patient finds their pages again at
``/patient/``.

Requests are rate-limited with the API's login throttle (per client address, the ``login``
rate) and, per address typed, at EMAIL_RATE, both counted in the shared ``throttle`` cache
whether or not the address is known.
"""

from __future__ import annotations

import datetime as dt
from email.utils import formataddr

from django import forms
from django.conf import settings
from django.contrib.auth import login
from django.core import signing
from django.core.mail import send_mail
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, override
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from backend.api.throttles import LoginRateThrottle
from backend.core import page_language
from backend.core.scope import Role, role_of
from backend.patients.models import Patient
from backend.plans.models import TreatmentPlan
from backend.reminders import links

LOGIN_MAX_AGE = dt.timedelta(minutes=15)
SALT = "aftercare.patient-login"
EMAIL_RATE = "5/h"  # links asked for one address, whoever asks
LIVE_PLANS = (TreatmentPlan.Status.ACTIVE, TreatmentPlan.Status.PAUSED)
BACKEND = "django.contrib.auth.backends.ModelBackend"


class LoginRefused(Exception):
    """A login link that does not open (forged, expired or used)."""


# --- tokens ------------------------------------------------------------------------------------


def _fingerprint(user) -> str:
    """Changes whenever the account logs in: a spent link's fingerprint no longer matches."""
    stamp = user.last_login.isoformat() if user.last_login else "never"
    return salted_hmac(SALT, f"{user.pk}:{stamp}", algorithm="sha256").hexdigest()[:20]


@sensitive_variables("token")
def make_login_token(patient: Patient) -> str:
    return signing.dumps({"p": patient.pk, "f": _fingerprint(patient.user)}, salt=SALT)


@sensitive_variables("token")
def read_login_token(token: str) -> Patient:
    """The patient a live, unused login link is for; LoginRefused otherwise."""
    try:
        payload = signing.loads(token, salt=SALT, max_age=LOGIN_MAX_AGE)
    except signing.BadSignature:  # SignatureExpired included
        raise LoginRefused from None
    patient = eligible().filter(pk=payload.get("p")).first()
    if patient is None or payload.get("f") != _fingerprint(patient.user):
        raise LoginRefused
    return patient


def eligible():
    """Patients who may log in: emailable, with an active account and a plan under way."""
    return (
        Patient.objects.filter(
            email_consent=True,
            email_opted_out_at__isnull=True,
            user__isnull=False,
            user__is_active=True,
            plans__status__in=LIVE_PLANS,
        )
        .exclude(email="")
        .select_related("user", "clinic")
        .distinct()
    )


def patient_for_email(email: str) -> Patient | None:
    """The patient who may log in with this address (case aside): None unless exactly one
    patient who may be emailed has it (an address two patients share opens neither's pages),
    and that one is eligible."""
    emailable = Patient.objects.filter(
        email__iexact=email.strip(), email_consent=True, email_opted_out_at__isnull=True
    ).exclude(email="")
    found = list(emailable.values_list("pk", flat=True)[:2])
    if len(found) != 1:
        return None
    return eligible().filter(pk=found[0]).first()


# --- the email ---------------------------------------------------------------------------------


@sensitive_variables("url")
def send_login_link(patient: Patient) -> None:
    """Email the patient their link now, in their language (never through the outbox)."""
    url = links.absolute(reverse("patient-login-open", args=[make_login_token(patient)]))
    minutes = int(LOGIN_MAX_AGE.total_seconds() // 60)
    with override(patient.language):
        subject = _("Your link to your schedule")
        body = _(
            "Hello {first_name},\n\nOpen this link within {minutes} minutes to see your "
            "schedule. It works once.\n\n{url}\n\nIf you did not ask for it, you can ignore "
            "this email: nobody can use it without opening it.\n\n{clinic}"
        ).format(
            first_name=patient.first_name,
            minutes=minutes,
            url=url,
            clinic=patient.clinic.sender_name or patient.clinic.name,
        )
    clinic = patient.clinic
    sender = settings.DEFAULT_FROM_EMAIL
    if clinic.sender_email:
        sender = formataddr((clinic.sender_name or clinic.name, clinic.sender_email))
    send_mail(subject, body, sender, [patient.email], fail_silently=False)


# --- rate limits -------------------------------------------------------------------------------


class _EmailRateThrottle(LoginRateThrottle):
    """Per address typed (a keyed hash, so the cache holds no address)."""

    def __init__(self, email: str):
        self.email = email.strip().lower()
        super().__init__()

    def get_rate(self):
        return EMAIL_RATE

    def get_cache_key(self, request, view):
        ident = salted_hmac(SALT, self.email, algorithm="sha256").hexdigest()[:32]
        return self.cache_format % {"scope": "patient-login-email", "ident": ident}


def _allowed(request: HttpRequest, email: str) -> bool:
    return LoginRateThrottle().allow_request(request, None) and _EmailRateThrottle(
        email
    ).allow_request(request, None)


# --- views -------------------------------------------------------------------------------------


class EmailForm(forms.Form):
    email = forms.EmailField(
        label=gettext_lazy("Your email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


@never_cache
@sensitive_post_parameters("email")
def login_request(request: HttpRequest) -> HttpResponse:
    """The email form; a valid address always gets the same answer."""
    with page_language.patient_page(request, None):
        form = EmailForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            email = form.cleaned_data["email"]
            if not _allowed(request, email):
                context = {"form": form, "throttled": True}
                return render(request, "pages/patient_login.html", context, status=429)
            patient = patient_for_email(email)
            if patient is not None:
                send_login_link(patient)
            return render(request, "pages/patient_login_sent.html", {})
        status = 400 if form.errors else 200
        return render(request, "pages/patient_login.html", {"form": form}, status=status)


@never_cache
def login_open(request: HttpRequest, token: str) -> HttpResponse:
    """The link from the email: a button (GET) that spends it (POST) and opens the schedule."""
    with page_language.patient_page(request, None):
        try:
            patient = read_login_token(token)
        except LoginRefused:
            return render(request, "pages/patient_login_open.html", {"refused": True}, status=404)
    with page_language.patient_page(request, patient.language):
        if request.method != "POST":
            return render(request, "pages/patient_login_open.html", {"patient": patient})
        login(request, patient.user, backend=BACKEND)  # updates last_login: the link is spent
        return redirect(links.patient_schedule_url(patient))


@never_cache
def patient_home(request: HttpRequest) -> HttpResponse:
    """A logged-in patient's way back to their pages: a freshly signed schedule link."""
    if role_of(request.user) is Role.PATIENT:
        patient = eligible().filter(user=request.user).first()
        if patient is not None:
            return redirect(links.patient_schedule_url(patient))
    return redirect("patient-login")
