"""Every URL the service answers, as every role, against objects of the user's own clinic and of
another: no page shows what its reader may not see.

The URL list comes from the resolver itself (admin views that packages add included), so a new
URL that no rule below covers fails the test instead of going unchecked. Each URL is requested
with GET as anonymous, a patient, the plan's provider, a deactivated provider, a coordinator of
clinic A, a coordinator of clinic B and an administrator, with the objects of clinic A and of
clinic B filled in. A leak is a 200 for an object outside the reader's scope, or a page that
shows another clinic's marker names. Writes that could cross clinics have their own tests
(test_admin_scope.py, api/test_roles.py); this is the net under all of them.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.apps import apps
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.urls import URLPattern, URLResolver, get_resolver
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, SolarSchedule
from rest_framework.authtoken.models import Token

from backend.clinics.models import Clinic, Provider
from backend.patients.models import Patient
from backend.plans.models import PlanItem, TreatmentPlan
from backend.protocols import services as protocol_services
from backend.reminders import links
from backend.reminders.models import Reminder
from tests.factories import (
    ClinicFactory,
    CoordinatorFactory,
    PatientFactory,
    ProviderFactory,
    make_plan,
    protocol,
)
from tests.support.clock import SUITE_NOW

ROLES = (
    "anonymous",
    "patient",
    "provider",
    "deactivated provider",
    "coordinator A",
    "coordinator B",
    "admin",
)
# Which clinics' objects each role may read (the admin: every one; nobody else: none).
MAY_SEE = {
    "anonymous": set(),
    "patient": {"A"},  # their own records: clinic A's patient is this patient
    "provider": {"A"},
    "deactivated provider": set(),
    "coordinator A": {"A"},
    "coordinator B": {"B"},
    # "global": rows of no clinic (users, schedules, lockouts); "operator": /metrics and
    # /health/detail/ (queue depths, worker names), for administrators and the monitoring token.
    "admin": {"A", "B", "global", "operator"},
}
# Whose objects each role may open at a staff URL (admin or API object pages): a patient none,
# though their own records (MAY_SEE) reach them through their own pages.
MAY_OPEN = {**MAY_SEE, "patient": set()}
MARKERS = {"A": "Aardvarkson", "B": "Zebedeeson"}  # each clinic's patient's last name
API_MODELS = {
    "clinics": Clinic,
    "providers": Provider,
    "patients": Patient,
    "protocols": "protocols.protocol",
    "plans": TreatmentPlan,
    "items": PlanItem,
    "reminders": Reminder,
    "responses": "measures.questionnaireresponse",
    "flags": "safety.flag",
}


@dataclass
class Side:
    clinic: Clinic
    objects: dict  # model label -> instance of this clinic
    token: str


def _side(name: str) -> Side:
    clinic = ClinicFactory(name=f"{name} clinic")
    provider = ProviderFactory(clinic=clinic)
    coordinator = CoordinatorFactory(clinic=clinic)
    patient = PatientFactory(clinic=clinic, last_name=MARKERS[name])
    patient.user = User.objects.create_user(f"patient-{name}")
    patient.save(update_fields=["user"])
    plan = make_plan(patient=patient, provider=provider, now=SUITE_NOW).plan
    own_protocol = protocol_services.protocol_duplicate_for_clinic(
        source=protocol(), clinic_id=clinic.pk
    )
    response, flag, journal = _safety_records(patient, plan)
    session_request = _session_request(patient, plan)
    _provider_digest(plan)  # a reminder of no plan: list pages must scope it too (#15)
    objects = {
        "measures.questionnaireresponse": response,
        "measures.journalentry": journal,
        "safety.flag": flag,
        "safety.patientmessage": journal.inbox_message,
        "clinics.clinic": clinic,
        "clinics.provider": provider,
        "clinics.coordinator": coordinator,
        "patients.patient": patient,
        "protocols.protocol": own_protocol,
        "plans.treatmentplan": plan,
        "plans.planitem": plan.items.order_by("start").first(),
        "reminders.reminder": plan.reminders.filter(audience="patient").first(),
        "plans.sessionrequest": session_request,
    }
    return Side(clinic, objects, links.patient_schedule_url(patient).rstrip("/").split("/")[-1])


def _safety_records(patient, plan):
    """An urgent questionnaire answer (and its flag) and a journal entry shared with the care
    team (and its inbox message), made through the services a patient's submission goes through."""
    from backend.measures import scoring
    from backend.measures import services as measures

    item = plan.items.filter(kind="assessment").order_by("start").first()
    answers = {
        i.code: {f"q{q.number}": 1 if (i.code, q.number) == ("phq9", 9) else 0
                 for q in i.questions("en")}
        for i in measures.instruments_for(item)
    }  # fmt: skip
    responses = measures.questionnaires_submit(
        patient=patient, item=item, answers=answers, language="en", now=SUITE_NOW
    )
    journal = measures.journal_write(
        patient=patient, text="Slept well.", shared=True, now=SUITE_NOW
    )
    assert scoring.get("phq9") and responses[0].flags.exists()
    return responses[0], responses[0].flags.get(), journal


def _provider_digest(plan):
    """The provider's daily digest for the day of the plan's first dosing session: a row of no
    plan, which belongs to the provider's clinic (backend.reminders.digest)."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from backend.reminders import digest

    first = plan.items.filter(kind="dosing").order_by("start").first()
    zone = ZoneInfo(plan.clinic.time_zone)
    day = first.start.astimezone(zone).date()
    digest.create_due_digests(now=dt.datetime.combine(day, dt.time(7, 5), tzinfo=zone))
    assert Reminder.objects.filter(plan=None, provider=plan.provider).exists()


def _session_request(patient, plan):
    """The patient's request to move their first session (backend.plans.session_requests)."""
    from backend.plans import session_requests

    item = session_requests.requestable_items(patient=patient, now=SUITE_NOW).first()
    return session_requests.request_reschedule(
        patient=patient, item=item, preferred_weekdays=[1], note="Tuesdays", via="link",
        now=SUITE_NOW,
    ).request  # fmt: skip


def _global_objects(sides) -> dict:
    """One row of each model that belongs to no clinic: only administrators may read them."""
    user = sides["B"].objects["clinics.coordinator"].user
    return {
        "auth.group": Group.objects.first(),
        "auth.user": user,
        "authtoken.tokenproxy": Token.objects.create(user=user),
        "django_celery_beat.periodictask": apps.get_model(
            "django_celery_beat", "PeriodicTask"
        ).objects.first(),
        "django_celery_beat.clockedschedule": ClockedSchedule.objects.create(
            clocked_time=SUITE_NOW
        ),
        "django_celery_beat.crontabschedule": CrontabSchedule.objects.create(),
        "django_celery_beat.solarschedule": SolarSchedule.objects.create(
            event="sunrise", latitude=1, longitude=1
        ),
        "django_celery_beat.intervalschedule": apps.get_model(
            "django_celery_beat", "IntervalSchedule"
        ).objects.first(),
        "axes.accessattempt": AccessAttempt.objects.create(
            username="x", ip_address="192.0.2.1", failures_since_start=1
        ),
        "axes.accesslog": AccessLog.objects.create(username="x", ip_address="192.0.2.1"),
        "axes.accessfailurelog": AccessFailureLog.objects.create(
            username="x", ip_address="192.0.2.1"
        ),
    }


def _urls() -> list[tuple[str, str]]:
    """(pattern, name) of every route the resolver knows."""

    def walk(patterns, prefix=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                yield prefix + str(entry.pattern), entry.name or ""

    return list(walk(get_resolver().url_patterns))


ADMIN_MODEL_URL = re.compile(r"^admin/(?P<app>\w+)/(?P<model>\w+)/(?P<rest>.*)$")
API_URL = re.compile(r"^api/v1/\^(?P<resource>[a-z-]+)(?P<rest>.*)$")


def _clean(route: str) -> str:
    """A regex route as a plain path: anchors, optional slashes and escapes removed."""
    route = route.replace("^", "").replace("$", "").replace("/?", "/").replace("\\.", ".")
    return route.replace("(?P<format>[a-z0-9]+)", "json")


def _expand(route: str, sides, global_objects) -> list[tuple[str, str | None, str | None]]:
    """Concrete paths for one route: (path, clinic whose object it names, model label)."""
    if route.startswith("admin/^(?P<app_label>"):
        labels = re.search(r"\(\?P<app_label>([^)]*)\)", route).group(1).split("|")
        return [(f"/admin/{label}/", None, None) for label in labels]
    if route in {"admin/(?P<url>.*)$", "api/v1/^[\\s\\S]*$"}:
        return [("/" + route.split("/")[0] + "/no-such-page/", None, None)]
    if "<path:content_type_id>" in route:
        out = []
        for name, side in sides.items():
            patient = side.objects["patients.patient"]
            kind = ContentType.objects.get_for_model(Patient).pk
            out.append((f"/admin/r/{kind}/{patient.pk}/", name, "patients.patient"))
        return out
    admin = ADMIN_MODEL_URL.match(route)
    if admin and route.startswith("admin/plans/treatmentplan/<int:plan_id>/"):
        out = []
        for name, side in sides.items():
            o = side.objects
            path = (
                route.replace("<int:plan_id>", str(o["plans.treatmentplan"].pk))
                .replace("<str:action>", "pause")
                .replace("<int:item_id>", str(o["plans.planitem"].pk))
                .replace("<int:reminder_id>", str(o["reminders.reminder"].pk))
            )
            out.append(("/" + path, name, "plans.treatmentplan"))
        return out
    if admin:
        label = f"{admin['app']}.{admin['model']}"
        if not any(tag in route for tag in ("<path:object_id>", "([^/]+)", "<id>")):
            return [("/" + _clean(route), None, label)]
        candidates = [(n, s.objects.get(label)) for n, s in sides.items() if label in s.objects]
        if not candidates:
            candidates = [("global", global_objects[label])]
        out = []
        for name, obj in candidates:
            if obj is None:
                continue
            path = route.replace("<path:object_id>", str(obj.pk)).replace("<id>", str(obj.pk))
            if "([^/]+)" in route:
                version = obj.history.latest("history_date").history_id
                path = path.replace("^([^/]+)/history/([^/]+)/$", f"{obj.pk}/history/{version}/")
            out.append(("/" + path, name, label))
        return out
    api = API_URL.match(route)
    if api:
        model = API_MODELS[api["resource"]]
        label = model if isinstance(model, str) else model._meta.label_lower
        if "(?P<pk>" not in route:
            return [("/api/v1/" + api["resource"] + _clean(api["rest"]), None, label)]
        out = []
        for name, side in sides.items():
            pk = side.objects[label].pk
            rest = _clean(api["rest"].replace("(?P<pk>[0-9]{1,18})", str(pk)))
            out.append((f"/api/v1/{api['resource']}{rest}", name, label))
        return out
    if "<str:token>" in route:
        out = []
        for name, side in sides.items():
            item = side.objects["plans.planitem"]
            if "/sessions/" in route:  # a session's confirm / move page: the requested session
                item = side.objects["plans.sessionrequest"].item
            path = route.replace("<int:item_id>", str(item.pk))
            # Each clinic's patient's own link: open to whoever holds it, and only to them.
            out.append(("/" + path.replace("<str:token>", side.token), f"token:{name}", None))
            out.append(("/" + path.replace("<str:token>", "forged-token"), "token:forged", None))
        return out
    if "<str:key>" in route:
        # A provider's calendar feed: the key is the credential, open to whoever holds it and
        # showing that provider's own items only; a forged key opens nothing.
        from backend.clinics import services as clinic_services

        out = []
        for name, side in sides.items():
            # Full names on, so a feed that showed the other clinic's patient would be caught.
            clinic_services.clinic_update(
                clinic=side.clinic, changes={"calendar_shows_names": True}
            )
            url = clinic_services.provider_feed_issue(
                provider=side.objects["clinics.provider"], now=SUITE_NOW
            )
            out.append((urlsplit(url).path, f"token:{name}", None))
        out.append(("/" + route.replace("<str:key>", "forged-key"), "token:forged", None))
        return out
    if "<str:code>" in route:
        out = []
        for side in sides.values():
            patient = side.objects["patients.patient"]
            short = links.short_url(patient, links.patient_schedule_url(patient))
            # A short link only redirects to its patient's own signed link; a made-up one is 404.
            out.append(("/" + route.replace("<str:code>", short.rsplit("/", 1)[-1]), None, None))
        out.append(("/" + route.replace("<str:code>", "Zz9Zz9Zz"), "token:forged", None))
        return out
    if route.startswith("provider/") and "<int:" in route:
        parameter = re.search(r"<int:(\w+)>", route).group(1)
        label = {
            "flag_id": "safety.flag",
            "patient_id": "patients.patient",
            "message_id": "safety.patientmessage",
            "item_id": "plans.planitem",  # the dashboard's outcome buttons (POST only)
        }[parameter]
        return [
            ("/" + route.replace(f"<int:{parameter}>", str(side.objects[label].pk)), name, label)
            for name, side in sides.items()
        ]
    if route == "i18n/setlang/":
        # Django's set_language (the patient pages' language switch): a GET changes nothing and
        # redirects, to a `next` on this site only.
        return [
            ("/i18n/setlang/?next=/p/forged-token/", None, None),
            ("/i18n/setlang/?next=https://elsewhere.example/", None, None),
        ]
    if route in {"health/detail/", "metrics"}:
        return [("/" + route, "operator", None)]
    if "<slug:esp>" in route:
        return [("/" + route.replace("<slug:esp>", "postmark"), None, None)]
    if "<" in route or "(" in route:
        return []  # a parameter no rule knows: reported as uncovered
    return [("/" + _clean(route), None, None)]


@pytest.fixture()
def world(db):
    sides = {"A": _side("A"), "B": _side("B")}
    deactivated = ProviderFactory(clinic=sides["A"].clinic, active=False)
    users = {
        "anonymous": None,
        "patient": sides["A"].objects["patients.patient"].user,
        "provider": sides["A"].objects["clinics.provider"].user,
        "deactivated provider": deactivated.user,
        "coordinator A": sides["A"].objects["clinics.coordinator"].user,
        "coordinator B": sides["B"].objects["clinics.coordinator"].user,
        "admin": User.objects.create_superuser("root", "root@example.com", "x"),
    }
    return sides, _global_objects(sides), users


def _leak(role: str, owner: str | None, label: str | None, status: int, body: str) -> str:
    """Why this response is a leak, or ''."""
    if status >= 300:
        return ""
    if owner is not None and owner.startswith("token:"):
        holder = owner.split(":")[1]
        if holder == "forged":
            return "a forged patient link opened a page"
        other = MARKERS["B" if holder == "A" else "A"]
        return f"patient link shows {other}" if other in body else ""
    if owner is not None and owner not in MAY_OPEN[role]:
        return f"{label} of {owner} answered {status}"
    for clinic, marker in MARKERS.items():
        if clinic not in MAY_SEE[role] and marker in body:
            return f"shows clinic {clinic}'s patient"
    return ""


@pytest.mark.django_db
def test_no_url_shows_any_role_what_it_may_not_see(client, world, settings, capsys):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    sides, global_objects, users = world
    routes = _urls()
    uncovered, cases = [], []
    for route, _name in routes:
        expanded = _expand(route, sides, global_objects)
        if not expanded:
            uncovered.append(route)
        cases.extend(expanded)
    assert not uncovered, f"URLs no access rule covers: {uncovered}"

    leaks, outcomes = [], Counter()
    for role in ROLES:
        client.logout()
        if users[role] is not None:
            client.force_login(users[role])
        for path, owner, label in cases:
            response = client.get(path)
            body = response.content.decode(errors="replace") if response.status_code < 300 else ""
            reason = _leak(role, owner, label, response.status_code, body)
            outcomes[(role, response.status_code < 300)] += 1
            if reason:
                leaks.append((role, path, response.status_code, reason))

    total = len(cases) * len(ROLES)
    with capsys.disabled():
        print(f"\naccess matrix: {len(routes)} routes, {total} URL x role x object cases, "
              f"{len(leaks)} leaks")  # fmt: skip
    assert leaks == []
    # Not vacuous: the readers who should see things do.
    assert outcomes[("coordinator A", True)] > 50 and outcomes[("admin", True)] > 100
