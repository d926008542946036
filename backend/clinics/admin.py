from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from backend.clinics.models import Clinic, ClosedDate, Coordinator, Provider
from backend.core.admin_scope import ClinicScopedAdminMixin


class ClosedDateInline(admin.TabularInline):
    model = ClosedDate
    extra = 0


@admin.register(Clinic)
class ClinicAdmin(ClinicScopedAdminMixin, SimpleHistoryAdmin):
    clinic_field = "pk"
    list_display = ["name", "time_zone", "holiday_country", "name_treatment_in_messages"]
    inlines = [ClosedDateInline]


@admin.register(Provider)
class ProviderAdmin(ClinicScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ["__str__", "clinic", "role", "active"]
    list_filter = ["role", "active"]
    search_fields = ["user__first_name", "user__last_name", "user__email"]


@admin.register(Coordinator)
class CoordinatorAdmin(ClinicScopedAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "clinic"]
