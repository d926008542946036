"""Who may see which rows: one rule for the admin, the API and the pages.

A user's role comes from their one-to-one links: a superuser is an admin, `user.coordinator` a
coordinator of one clinic, `user.provider` a provider (none at all once the clinic deactivates
them), `user.patient` a patient. Staff see the rows of their clinic, a provider those of their
own patients where a model says how to find them; everyone else none. The admin
(core/admin_scope.py), the API (api/permissions.py) and the provider pages all ask here.
"""

from __future__ import annotations

from enum import StrEnum

from django.db.models import QuerySet


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


def is_active_staff(user) -> bool:
    """Logged in, active, and -- for a provider -- not deactivated by the clinic."""
    return bool(user and user.is_authenticated and user.is_active) and role_of(user) in STAFF


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
