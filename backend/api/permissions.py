"""The rules of backend/core/scope.py, adapted to DRF permission classes.

Resource endpoints are for staff; `me/` endpoints are for patients. Rows outside a user's scope
are filtered out of every queryset (core.scope.scope), so asking for one by id is a 404, never a
403 that would confirm it exists.
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from backend.core.scope import (
    ADMINS,
    MANAGERS,
    PATIENTS,
    STAFF,
    Role,
    role_of,
    scope,
)

# The permission classes, and the scope names the API's views import from here.
__all__ = [
    "MANAGERS",
    "STAFF",
    "AdminWrite",
    "PatientOnly",
    "Role",
    "StaffOnly",
    "StaffReadManagersWrite",
    "role_of",
    "scope",
]


class _RolePermission(BasePermission):
    read_roles: frozenset[Role] = frozenset()
    write_roles: frozenset[Role] = frozenset()

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
    write_roles = ADMINS


class StaffOnly(_RolePermission):
    read_roles = STAFF
    write_roles = STAFF


class PatientOnly(_RolePermission):
    read_roles = PATIENTS
    write_roles = PATIENTS
