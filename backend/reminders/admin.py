from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from backend.core.admin_scope import ClinicScopedAdminMixin
from backend.reminders.models import DeliveryAttempt, Reminder


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = [
        "attempted_at",
        "backend",
        "success",
        "permanent",
        "provider_message_id",
        "error",
    ]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Reminder)
class ReminderAdmin(ClinicScopedAdminMixin, SimpleHistoryAdmin):
    # A provider's daily digest has no plan: it belongs to its provider's clinic (core.scope).
    clinic_field = ("plan__clinic", "provider__clinic")
    provider_field = ("plan__provider", "provider")
    list_display = ["message_kind", "plan", "audience", "channel", "send_at", "status", "attempts"]
    list_filter = [
        "status",
        "channel",
        "audience",
        "message_kind",
        ("send_at", admin.DateFieldListFilter),
    ]
    search_fields = [
        "plan__patient__first_name",
        "plan__patient__last_name",
        "plan__patient__email",
    ]
    list_select_related = ["plan__patient", "plan__protocol"]
    inlines = [DeliveryAttemptInline]

    def get_readonly_fields(self, request, obj=None):
        # Reminders change only through services (plan changes, send now, cancel).
        return ["text", *(f.name for f in self.model._meta.fields)]

    @admin.display(description="Text (as it would be sent now)")
    def text(self, reminder):
        from backend.reminders.compose import preview_text

        return preview_text(reminder)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
