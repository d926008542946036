"""The clinic inbox and the flags, in the admin. Scoped like the provider pages
(safety.selectors); acknowledging a flag is a clinician's act on the flag page, with a note."""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from backend.core.admin_scope import ClinicScopedAdminMixin, ReadOnlyAdminMixin
from backend.safety import services
from backend.safety.models import Flag, PatientMessage


@admin.register(PatientMessage)
class PatientMessageAdmin(ClinicScopedAdminMixin, admin.ModelAdmin):
    clinic_field = "clinic"
    provider_field = "patient__plans__provider"
    list_display = ["received_at", "patient", "from_number", "source", "body", "read_at", "read_by"]
    list_filter = [("read_at", admin.EmptyFieldListFilter), "source"]
    search_fields = ["patient__first_name", "patient__last_name", "body"]
    list_select_related = ["patient", "read_by"]
    readonly_fields = [f.name for f in PatientMessage._meta.fields]
    actions = ["mark_read"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Mark read", permissions=["change"])
    def mark_read(self, request, queryset):
        now = timezone.now()
        for message in queryset.filter(read_at__isnull=True):
            services.message_mark_read(message=message, user=request.user, now=now)
        messages.success(request, "Marked read.")


@admin.register(Flag)
class FlagAdmin(ReadOnlyAdminMixin, ClinicScopedAdminMixin, admin.ModelAdmin):
    clinic_field = "clinic"
    provider_field = None  # every clinician of the clinic (safety.selectors)
    list_display = [
        "raised_at",
        "patient",
        "kind",
        "reasons",
        "acknowledged_at",
        "acknowledged_by",
        "open_link",
    ]
    list_filter = ["kind", ("acknowledged_at", admin.EmptyFieldListFilter)]
    search_fields = ["patient__first_name", "patient__last_name"]
    list_select_related = ["patient", "acknowledged_by"]
    readonly_fields = [f.name for f in Flag._meta.fields]

    @admin.display(description="Flag page")
    def open_link(self, flag):
        return format_html('<a href="{}">Review</a>', reverse("provider-flag", args=[flag.pk]))
