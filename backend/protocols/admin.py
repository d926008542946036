"""Protocols in the admin: the built-in library read-only, each clinic's own versions its own.

Every change goes through backend.protocols.services, which owns the rules (who may change what,
a version in use is frozen, the next version number).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError

from backend.core.admin_scope import is_active_staff
from backend.core.scope import clinic_id_of, protocol_scope
from backend.protocols import services
from backend.protocols.models import Protocol


class ProtocolForm(forms.ModelForm):
    class Meta:
        model = Protocol
        fields = ["slug", "name", "definition", "is_active"]

    def validate_unique(self):
        """The version number and its uniqueness are the service's to assign (per clinic)."""


@admin.register(Protocol)
class ProtocolAdmin(admin.ModelAdmin):
    form = ProtocolForm
    list_display = ["name", "slug", "version", "owner", "is_active", "created_at"]
    list_filter = ["is_active", ("clinic", admin.EmptyFieldListFilter)]
    search_fields = ["name", "slug"]
    actions = ["duplicate_for_my_clinic", "duplicate_as_new_protocol"]

    @admin.display(description="Owner")
    def owner(self, obj: Protocol) -> str:
        return "Built-in library" if obj.is_builtin else str(obj.clinic)

    def _scope(self, request) -> dict:
        return protocol_scope(request.user)

    def get_queryset(self, request):
        if not (request.user.is_superuser or is_active_staff(request.user)):
            return Protocol.objects.none()
        return services.visible_to(**self._scope(request)).select_related("clinic")

    def has_module_permission(self, request):
        return is_active_staff(request.user) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        allowed = super().has_view_permission(request, obj)
        return allowed and (obj is None or self.get_queryset(request).filter(pk=obj.pk).exists())

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or services.may_change(obj, **self._scope(request)))

    def has_delete_permission(self, request, obj=None):
        return False  # versions are kept: plans point at them, and history reads them

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.in_use:
            return [*services.FROZEN_WHEN_USED, "version", "clinic"]
        return ["version", "clinic"]

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in form.cleaned_data}
        try:
            if change:
                changes = {f: data[f] for f in form.changed_data if f in data}
                saved = services.protocol_update(
                    protocol=obj, changes=changes, **self._scope(request)
                )
            else:
                saved = services.protocol_create_version(
                    clinic_id=clinic_id_of(request.user), **data
                )
        except (ValidationError, PermissionDenied) as exc:
            raise PermissionDenied(str(exc)) from exc
        obj.pk, obj.version, obj.clinic_id = saved.pk, saved.version, saved.clinic_id

    @admin.action(description="Duplicate as a new version for my clinic")
    def duplicate_for_my_clinic(self, request, queryset):
        clinic_id = clinic_id_of(request.user)
        if clinic_id is None:
            self.message_user(
                request, "Only a clinic's staff have a clinic to copy to.", messages.ERROR
            )
            return
        for protocol in queryset:
            copy = services.protocol_duplicate_for_clinic(source=protocol, clinic_id=clinic_id)
            self.message_user(
                request,
                f"Created {copy.name} v{copy.version} for your clinic "
                "(inactive until you review it).",
                messages.SUCCESS,
            )

    @admin.action(description="Duplicate as a new protocol")
    def duplicate_as_new_protocol(self, request, queryset):
        for protocol in queryset:
            copy = services.protocol_duplicate_as_new(
                source=protocol, clinic_id=clinic_id_of(request.user)
            )
            self.message_user(
                request,
                f"Created {copy.slug} v1 from {protocol} (inactive until you review it).",
                messages.SUCCESS,
            )
