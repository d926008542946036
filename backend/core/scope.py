"""Who has which role, at which clinic, and may see which rows: the one set of rules for the
admin, the API, the pages and the webhooks.

A user's role comes from their one-to-one links: a superuser is an admin, `user.coordinator` a
coordinator of one clinic, `user.provider` a provider (none at all once the clinic deactivates
them), `user.patient` a patient. Admins see every row; coordinators the rows of their clinic; a
provider those of their own patients where a model says how to find them, else their clinic's;
everyone else none. Staff read, managers (admins and coordinators) write, and only admins write
clinics and provider accounts. Built-in protocols are a library every staff member reads; a
clinic's own versions are that clinic's. core/admin_scope.py (ModelAdmin hooks) and
api/permissions.py (DRF permission classes) only adapt these rules to their framework.
"""

from __future__ import annotations

from enum import StrEnum

from django.db.models import Model, Q, QuerySet

# A lookup may be one path, or a tuple of paths where the first one that is set decides (a row
# whose first path is empty is judged by the next): reminders reach their clinic through their
# plan, and a provider's daily digest, which has no plan, through its provider.
Lookup = str | tuple[str, ...]


class Role(StrEnum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    PROVIDER = "provider"
    PATIENT = "patient"
    NONE = "none"


def role_of(user) -> Role:
    """The user's role, remembered on the user object for the rest of the request: Django caches
    a found one-to-one but not a missing one, so each `hasattr` miss would query again."""
    if not user or not user.is_authenticated:
        return Role.NONE
    role = getattr(user, "_api_role", None)
    if role is None:
        role = user._api_role = _lookup_role(user)
    return role


def _lookup_role(user) -> Role:
    if user.is_superuser:
        return Role.ADMIN
    if hasattr(user, "coordinator"):
        return Role.COORDINATOR
    if hasattr(user, "provider"):
        # A provider the clinic deactivated keeps their login but has no role here.
        return Role.PROVIDER if user.provider.active else Role.NONE
    if hasattr(user, "patient"):
        return Role.PATIENT
    return Role.NONE


STAFF = frozenset({Role.ADMIN, Role.COORDINATOR, Role.PROVIDER})  # read clinical records
MANAGERS = frozenset({Role.ADMIN, Role.COORDINATOR})  # change plans, patients and protocols
ADMINS = frozenset({Role.ADMIN})  # change clinics and provider accounts
PATIENTS = frozenset({Role.PATIENT})  # their own schedule and preferences only


def is_active_staff(user) -> bool:
    """Logged in, active, and -- for a provider -- not deactivated by the clinic."""
    return bool(user and user.is_authenticated and user.is_active) and role_of(user) in STAFF


def scope_filter(user, *, clinic: Lookup, provider: Lookup | None) -> dict[Lookup, int] | None:
    """The lookups that keep the rows the user may see: {} for admins (every row), None for no
    row at all. `clinic` / `provider` are lookups from the model to the clinic and to the
    responsible provider; a provider without a `provider` lookup sees their clinic's rows."""
    role = role_of(user)
    if role is Role.ADMIN:
        return {}
    if role is Role.COORDINATOR:
        return {clinic: user.coordinator.clinic_id}
    if role is Role.PROVIDER:
        if provider is None:
            return {clinic: user.provider.clinic_id}
        return {provider: user.provider.pk}
    return None


def _first_set(path: Lookup, value: int) -> Q:
    """`path` equals `value`; for a tuple of paths, the first path that is set equals it."""
    if isinstance(path, str):
        return Q(**{path: value})
    matches, earlier_empty = Q(), Q()
    for step in path:
        matches |= earlier_empty & Q(**{step: value})
        earlier_empty &= Q(**{f"{step}__isnull": True})
    return matches


def scope(
    qs: QuerySet, user, *, clinic: Lookup, provider: Lookup | None, distinct: bool = False
) -> QuerySet:
    """Rows the user may see (see scope_filter). `distinct` when the provider lookup crosses a
    many-valued relation, so a row reached through several of them is listed once."""
    lookups = scope_filter(user, clinic=clinic, provider=provider)
    if lookups is None:
        return qs.none()
    if not lookups:
        return qs
    qs = qs.filter(*(_first_set(path, value) for path, value in lookups.items()))
    return qs.distinct() if distinct and provider in lookups else qs


def in_scope(user, model: type[Model], pk, *, clinic: Lookup, provider: Lookup | None) -> bool:
    """May this user see the saved row ``pk`` of ``model``, as it is in the database now (by the
    lookups of `scope`)? Only active staff may see any."""
    if not is_active_staff(user):
        return False
    live = model._default_manager.filter(pk=pk)
    return scope(live, user, clinic=clinic, provider=provider).exists()


def clinic_id_of(user) -> int | None:
    """The clinic a coordinator or provider works at; None for admins and patients."""
    role = role_of(user)
    if role is Role.COORDINATOR:
        return user.coordinator.clinic_id
    if role is Role.PROVIDER:
        return user.provider.clinic_id
    return None


def protocol_scope(user) -> dict:
    """The keyword arguments of protocols.services.visible_to / may_change for this user: the
    library and their clinic's own versions; every version for admins."""
    return {"clinic_id": clinic_id_of(user), "everything": role_of(user) is Role.ADMIN}
