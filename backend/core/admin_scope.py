"""The rules of backend/core/scope.py, adapted to the admin's ModelAdmin hooks.

Scope is enforced twice, so that no admin view can step around it:

- ``get_queryset`` narrows every list, search, autocomplete and bulk action to the user's rows;
- ``has_view/change/delete_permission(request, obj)`` refuse any single object outside that scope.
  Django's change and delete views and the views packages add (django-simple-history's history
  list, history form and revert) all ask these before showing or changing an object, even when they
  load it themselves, e.g. from the history table. A new view that asks for permission is scoped
  without being written for it.

A provider whose ``active`` flag is off has no access at all, whatever their groups say.
"""

from __future__ import annotations

from django.db.models import Model, QuerySet

from backend.core import scope as rules
from backend.core.scope import is_active_staff

__all__ = ["ClinicScopedAdminMixin", "ReadOnlyAdminMixin", "is_active_staff"]


class ClinicScopedAdminMixin:
    """`clinic_field` is the lookup from the model to its clinic (e.g. "plan__clinic").
    `provider_field` is the lookup to the responsible provider, for provider users."""

    clinic_field = "clinic"
    provider_field: str | None = None

    def scope(self, request, qs: QuerySet) -> QuerySet:
        # distinct: a patient with two plans of one provider is one row.
        return rules.scope(
            qs, request.user, clinic=self.clinic_field, provider=self.provider_field, distinct=True
        )

    def get_queryset(self, request):
        return self.scope(request, super().get_queryset(request))

    def in_scope(self, request, obj: Model | None) -> bool:
        """May this user act on ``obj`` at all? ``None`` (the model as a whole) defers to scope.

        The answer is memoised per request: a change page asks several times per object.
        """
        if not is_active_staff(request.user):
            return False
        if obj is None or obj.pk is None:
            return True
        memo = request.__dict__.setdefault("_aftercare_scope", {})
        key = (self.model._meta.label, obj.pk)
        if key not in memo:
            memo[key] = rules.in_scope(
                request.user,
                self.model,
                obj.pk,
                clinic=self.clinic_field,
                provider=self.provider_field,
            )
        return memo[key]

    def has_module_permission(self, request):
        return is_active_staff(request.user) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and self.in_scope(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self.in_scope(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self.in_scope(request, obj)


class ReadOnlyAdminMixin:
    """For records nobody edits after the fact (what a patient submitted, a flag's history):
    listed and shown, never added, changed or deleted through the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
