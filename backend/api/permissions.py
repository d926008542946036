"""Who may call what, and which rows each role sees.

Roles come from the user's one-to-one links (see backend/core/admin_scope.py): a superuser is an
admin, `user.coordinator` a coordinator of one clinic, `user.provider` a provider, `user.patient`
a patient. Resource endpoints are for staff; `me/` endpoints are for patients. Rows outside a
user's scope are filtered out of every queryset, so asking for one by id is a 404, never a 403
that would confirm it exists.
"""

from __future__ import annotations

from enum import StrEnum

from django.db.models import QuerySet
from rest_framework.permissions import SAFE_METHODS, BasePermission


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


STAFF = {Role.ADMIN, Role.COORDINATOR, Role.PROVIDER}
MANAGERS = {Role.ADMIN, Role.COORDINATOR}


class _RolePermission(BasePermission):
    read_roles: set[Role] = set()
    write_roles: set[Role] = set()

    def has_permission(self, request, view) -> bool:
        role = role_of(request.user)
        allowed = self.read_roles if request.method in SAFE_METHODS else self.write_roles
        # Per-action overrides: a view lists the roles for an action in `action_roles`.
        overrides = getattr(view, "action_roles", {})
        action = getattr(view, "action", None)
        if action in overrides:
            allowed = overrides[action]
        return role in allowed


class StaffReadManagersWrite(_RolePermission):
    """Providers read; coordinators and admins read and write."""

    read_roles = STAFF
    write_roles = MANAGERS


class AdminWrite(_RolePermission):
    """Staff read; only admins write (clinics and provider accounts)."""

    read_roles = STAFF
    write_roles = {Role.ADMIN}


class StaffOnly(_RolePermission):
    read_roles = STAFF
    write_roles = STAFF


class PatientOnly(_RolePermission):
    read_roles = {Role.PATIENT}
    write_roles = {Role.PATIENT}


def scope_filter(user, *, clinic: str, provider: str | None) -> dict[str, int] | None:
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


def scope(
    qs: QuerySet, user, *, clinic: str, provider: str | None, distinct: bool = False
) -> QuerySet:
    """Rows the user may see (see scope_filter). `distinct` when the provider lookup crosses a
    many-valued relation, so a row reached through several of them is listed once."""
    lookups = scope_filter(user, clinic=clinic, provider=provider)
    if lookups is None:
        return qs.none()
    if not lookups:
        return qs
    qs = qs.filter(**lookups)
    return qs.distinct() if distinct and provider in lookups else qs


def clinic_id_of(user) -> int | None:
    """The clinic a coordinator or provider works at; None for admins and patients."""
    role = role_of(user)
    if role is Role.COORDINATOR:
        return user.coordinator.clinic_id
    if role is Role.PROVIDER:
        return user.provider.clinic_id
    return None
