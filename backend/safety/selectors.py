"""Which flags, messages and patients a clinician may see: the rule the pages, the admin and
the API share (with backend.core.scope for everything else).

- Flags: every clinician of the clinic. Anyone on shift may need to act on an urgent flag (the
  on-call and backup contacts are alerted for every patient), so any of them may open one.
- Messages, responses, shared journal entries and the chart: a provider's own patients (those
  with a plan they are responsible for), and any patient of the clinic with a flag on file.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from backend.core.scope import Role, clinic_id_of, role_of, scope
from backend.patients.models import Patient
from backend.safety.models import Flag, PatientMessage


def flags_for(user) -> QuerySet[Flag]:
    qs = Flag.objects.select_related("patient", "plan", "acknowledged_by")
    return scope(qs, user, clinic="clinic", provider=None)


def patients_for(user) -> QuerySet[Patient]:
    role = role_of(user)
    if role is Role.ADMIN:
        return Patient.objects.all()
    if role is Role.COORDINATOR:
        return Patient.objects.filter(clinic=clinic_id_of(user))
    if role is Role.PROVIDER:
        provider = user.provider
        return Patient.objects.filter(clinic=provider.clinic_id).filter(
            Q(pk__in=Patient.objects.filter(plans__provider=provider).values("pk"))
            | Q(pk__in=Flag.objects.filter(clinic=provider.clinic_id).values("patient"))
        )
    return Patient.objects.none()


def messages_for(user) -> QuerySet[PatientMessage]:
    """A provider sees their patients' messages; a number no patient has is the coordinators'."""
    role = role_of(user)
    qs = PatientMessage.objects.select_related("patient", "read_by")
    if role is Role.PROVIDER:
        return qs.filter(patient__in=patients_for(user))
    if role is Role.COORDINATOR:
        return qs.filter(clinic=clinic_id_of(user))
    return qs if role is Role.ADMIN else qs.none()
