"""Row-level scoping for the admin: coordinators see their clinic, providers their patients."""

from __future__ import annotations

from django.db.models import QuerySet


def clinic_of(user):
    coordinator = getattr(user, "coordinator", None)
    if coordinator is not None:
        return coordinator.clinic_id
    provider = getattr(user, "provider", None)
    return provider.clinic_id if provider is not None else None


class ClinicScopedAdminMixin:
    """`clinic_field` is the lookup from the model to its clinic (e.g. "plan__clinic").
    `provider_field` is the lookup to the responsible provider, for provider users."""

    clinic_field = "clinic"
    provider_field: str | None = None

    def scope(self, request, qs: QuerySet) -> QuerySet:
        user = request.user
        if user.is_superuser:
            return qs
        if hasattr(user, "coordinator"):
            return qs.filter(**{self.clinic_field: user.coordinator.clinic_id})
        if hasattr(user, "provider") and self.provider_field:
            # A subquery, not a join: a patient with two plans of one provider is one row.
            mine = qs.model.objects.filter(**{self.provider_field: user.provider.pk})
            return qs.filter(pk__in=mine.values("pk"))
        if hasattr(user, "provider"):
            return qs.filter(**{self.clinic_field: user.provider.clinic_id})
        return qs.none()

    def get_queryset(self, request):
        return self.scope(request, super().get_queryset(request))
