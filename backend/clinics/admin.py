from django import forms
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UsernameField
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.template.response import TemplateResponse
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from backend.clinics import services
from backend.clinics.models import Clinic, ClosedDate, Coordinator, Provider
from backend.core.admin_scope import ClinicScopedAdminMixin
from backend.core.scope import MANAGERS, clinic_id_of, is_active_staff, role_of
from backend.core.widgets import TimeZoneField
from backend.safety import crisis

FIELDSETS = [
    (
        None,
        {
            "fields": [
                "name",
                "time_zone",
                "opening_hours",
                "slot_minutes",
                "holiday_country",
                "holiday_subdivision",
            ]
        },
    ),
    (
        "Messages",
        {
            "fields": [
                "sender_name",
                "sms_sender_name",
                "sender_email",
                "phone",
                "sms_from_number",
                "name_treatment_in_messages",
                "sms_daily_limit",
                "sms_weekly_limit",
            ]
        },
    ),
    (
        "Providers' calendar feeds",
        {"fields": ["calendar_shows_names"]},
    ),
    (
        "Safety: urgent answers",
        {
            "description": "Who hears of an answer that may mean a patient is at risk "
            "(PHQ-9 question 9 above zero, and any answers listed below), how soon the "
            "backup is alerted, and which crisis lines patients are shown.",
            "fields": [
                "on_call_contact",
                "backup_contact",
                "escalation_minutes",
                "crisis_country",
                "urgent_answers",
            ],
        },
    ),
]
SAFETY_CONTACTS = ["on_call_contact", "backup_contact"]
TIME_ZONE_HELP = "Opening hours, closed dates and appointment times are in this zone."
CRISIS_COUNTRY_HELP = "The country whose crisis lines patients are shown with an urgent answer."


def crisis_country_choices() -> list[tuple[str, str]]:
    """The countries whose crisis lines are on file, each with the line patients are texted."""
    return [(code, f"{code}: {crisis.for_clinic(code, 'en').short}") for code in crisis.countries()]


class ClinicForm(forms.ModelForm):
    """The clinic's settings in words a coordinator uses; the safety contacts are limited to the
    clinic's own active providers, so an urgent flag never alerts someone at another clinic or
    someone who has left."""

    # Declared fields get no model default on the add page unless given it.
    time_zone = TimeZoneField(
        initial=Clinic._meta.get_field("time_zone").default,
        help_text=TIME_ZONE_HELP,
    )
    crisis_country = forms.ChoiceField(
        choices=crisis_country_choices,
        initial=Clinic._meta.get_field("crisis_country").default,
        label="Crisis lines of",
        help_text=CRISIS_COUNTRY_HELP,
    )

    class Meta:
        model = Clinic
        fields = flatten_fieldsets(FIELDSETS)
        labels = {
            "sms_from_number": "Texts sent from (number)",
            "sender_name": "Email sender name",
            "sms_sender_name": "Text sender name",
            "sms_daily_limit": "Texts a day per patient (with written consent)",
            "sms_weekly_limit": "Texts a week per patient (with written consent)",
            "name_treatment_in_messages": "Name the treatment in email bodies",
            "on_call_contact": "On-call contact",
            "backup_contact": "Backup contact",
            "escalation_minutes": "Minutes before the backup is alerted",
            "urgent_answers": "Other answers treated as urgent",
            # Declared above; repeated for a user who may only view (read-only fields are
            # labelled from Meta).
            "time_zone": "Time zone",
            "crisis_country": "Crisis lines of",
        }
        help_texts = {
            "time_zone": TIME_ZONE_HELP,
            "crisis_country": CRISIS_COUNTRY_HELP,
            "sms_from_number": "The clinic's texting number, in E.164 (e.g. +12025550100).",
            "sms_daily_limit": "Without written consent a patient gets at most one text a day.",
            "sms_weekly_limit": "Without written consent a patient gets at most three a week.",
            "name_treatment_in_messages": "Off by default. Text messages and email subjects "
            "never name a drug or diagnosis, whatever this says.",
            "on_call_contact": "Alerted by email and text, with the patient's own provider, of "
            "every urgent answer. One of this clinic's active providers.",
            "backup_contact": "Alerted when nobody acknowledges an urgent answer in time. One "
            "of this clinic's active providers.",
            "escalation_minutes": "How long an urgent answer may wait for acknowledgement "
            "before the backup contact hears of it (5 to 240).",
            "urgent_answers": "Besides any answer above 0 to PHQ-9 question 9, which is always "
            "urgent. A list such as "
            '[{"instrument": "gad7", "question": 7, "min_value": 3}]: '
            "an answer to that question at min_value or above is urgent. Empty: [].",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        clinic = self.instance if self.instance.pk else None
        for name in SAFETY_CONTACTS:
            field = self.fields.get(name)
            if field is None:
                continue
            if clinic is None:
                # No provider belongs to a clinic not yet saved.
                field.queryset = Provider.objects.none()
                field.help_text += " Choose after saving the clinic and adding its providers."
                continue
            # Today's choice stays listed even if that provider has left, so it is shown
            # (and refused on saving) rather than silently cleared.
            current = getattr(clinic, f"{name}_id")
            field.queryset = (
                Provider.objects.filter(clinic=clinic)
                .filter(Q(active=True) | Q(pk=current))
                .select_related("user")
            )

    def _clean_contact(self, name):
        provider = self.cleaned_data.get(name)
        if provider is not None and not provider.active:
            raise forms.ValidationError(
                "%(provider)s is no longer active; choose another provider or leave it empty.",
                code="inactive_provider",
                params={"provider": provider},
            )
        return provider

    def clean_on_call_contact(self):
        return self._clean_contact("on_call_contact")

    def clean_backup_contact(self):
        return self._clean_contact("backup_contact")


class ClosedDateInline(admin.TabularInline):
    model = ClosedDate
    extra = 0


class ServiceSavedAdminMixin:
    """Saves and deletes through backend.clinics.services, never the ModelAdmin's own
    ``obj.save()`` / ``obj.delete()``. The forms run the same checks first (model validation,
    validate_deactivation) so the person sees them on the field; the service checks again inside
    its transaction."""

    def save_model(self, request, obj, form, change):
        values = {f: form.cleaned_data[f] for f in form.cleaned_data if f in form.fields}
        # On change, every field of the form, not just form.changed_data: a history "revert"
        # form is compared with the old version, not with the row as it is now. The service
        # compares with the row it locked.
        saved = self.service_update(obj, values) if change else self.service_create(values)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        self.service_delete(obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.service_delete(obj)


@admin.register(Clinic)
class ClinicAdmin(ServiceSavedAdminMixin, ClinicScopedAdminMixin, SimpleHistoryAdmin):
    form = ClinicForm
    clinic_field = "pk"
    list_display = ["name", "time_zone", "holiday_country", "name_treatment_in_messages"]
    inlines = [ClosedDateInline]
    fieldsets = FIELDSETS

    def service_create(self, values: dict) -> Clinic:
        return services.clinic_create(values=values)

    def service_update(self, clinic: Clinic, changes: dict) -> Clinic:
        return services.clinic_update(clinic=clinic, changes=changes)

    def service_delete(self, clinic: Clinic) -> None:
        services.clinic_delete(clinic=clinic)

    def save_formset(self, request, form, formset, change):
        """Closed dates are saved through the service too, after the clinic (a new clinic's
        dates need its id)."""
        if formset.model is not ClosedDate:
            return super().save_formset(request, form, formset, change)
        changed = formset.save(commit=False)  # fills deleted_objects; saves nothing
        for closed_date in formset.deleted_objects:
            services.closed_date_delete(closed_date=closed_date)
        for closed_date in changed:
            services.closed_date_save(
                clinic=form.instance,
                date=closed_date.date,
                reason=closed_date.reason,
                closed_date=closed_date if closed_date.pk else None,
            )


class ProviderAddForm(forms.ModelForm):
    """A provider with a new login account, made by clinics.services.provider_create; the account
    has no usable password until its owner sets one through the password reset flow."""

    username = UsernameField(max_length=150, help_text="What they sign in with.")
    email = forms.EmailField(required=False, help_text="Where their password reset link goes.")
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)

    class Meta:
        model = Provider
        fields = ["clinic", "role", "active", "mobile"]

    def clean_username(self):
        username = self.cleaned_data["username"]
        if get_user_model().objects.filter(username=username).exists():
            raise forms.ValidationError("This username is taken.", code="unique")
        return username


class ProviderChangeForm(forms.ModelForm):
    class Meta:
        model = Provider
        fields = ["role", "active", "mobile"]

    def clean_active(self):
        active = self.cleaned_data["active"]
        if self.instance.active and not active:
            try:
                services.validate_deactivation(self.instance)
            except ValidationError as exc:
                raise forms.ValidationError(exc.message_dict["active"]) from exc
        return active


@admin.register(Provider)
class ProviderAdmin(ServiceSavedAdminMixin, ClinicScopedAdminMixin, SimpleHistoryAdmin):
    """Providers are made with their login account and changed through clinics.services: a
    provider who has left is deactivated (unticking Active), never while they are their clinic's
    on-call or backup contact; their plans and history stay."""

    list_display = ["__str__", "clinic", "role", "active", "calendar_feed"]
    list_filter = ["role", "active"]
    search_fields = ["user__first_name", "user__last_name", "user__email"]
    actions = ["issue_calendar_feed", "revoke_calendar_feed"]

    @admin.display(description="Calendar feed")
    def calendar_feed(self, obj: Provider) -> str:
        if not obj.calendar_feed_key_hash:
            return "none"
        issued = timezone.localtime(obj.calendar_feed_issued_at)
        return f"issued {issued:%Y-%m-%d %H:%M %Z}"

    def has_calendar_feed_permission(self, request) -> bool:
        """Coordinators and admins manage feeds (a lost phone is a coordinator's call); the
        action only ever sees the providers the changelist shows, so another clinic's are out of
        reach."""
        return is_active_staff(request.user) and role_of(request.user) in MANAGERS

    @admin.action(
        description="Issue a new calendar feed URL (revokes the old one)",
        permissions=["calendar_feed"],
    )
    def issue_calendar_feed(self, request, queryset):
        """Shows each new URL on the page this once (it is not stored, nor put in a message
        cookie): the coordinator hands it to the provider."""
        now = timezone.now()
        issued, refused = [], []
        for provider in queryset.select_related("user"):
            try:
                issued.append((provider, services.provider_feed_issue(provider=provider, now=now)))
            except ValidationError as exc:
                refused.append((provider, "; ".join(exc.messages)))
        context = {
            **self.admin_site.each_context(request),
            "title": "New calendar feed URLs",
            "opts": self.model._meta,
            "issued": issued,
            "refused": refused,
        }
        return TemplateResponse(
            request, "admin/clinics/provider/calendar_feed_issued.html", context
        )

    @admin.action(description="Revoke calendar feed URL", permissions=["calendar_feed"])
    def revoke_calendar_feed(self, request, queryset):
        count = 0
        for provider in queryset:
            services.provider_feed_revoke(provider=provider)
            count += 1
        self.message_user(request, f"Revoked the calendar feed of {count} provider(s).")

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = ProviderChangeForm if obj is not None else ProviderAddForm
        form = super().get_form(request, obj, change=change, **kwargs)
        clinic_id = clinic_id_of(request.user)
        if obj is None and not request.user.is_superuser and "clinic" in form.base_fields:
            form.base_fields["clinic"].queryset = Clinic.objects.filter(pk=clinic_id)
        return form

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["clinic", "username", "email", "first_name", "last_name", "role", "active",
                    "mobile"]  # fmt: skip
        return ["user", "clinic", "role", "active", "mobile", "calendar_feed"]

    def get_readonly_fields(self, request, obj=None):
        return ["user", "clinic", "calendar_feed"] if obj is not None else []

    def service_create(self, values: dict) -> Provider:
        return services.provider_create(**values)

    def service_update(self, provider: Provider, changes: dict) -> Provider:
        return services.provider_update(provider=provider, changes=changes)

    def service_delete(self, provider: Provider) -> None:
        services.provider_delete(provider=provider)

    def get_deleted_objects(self, objs, request):
        """A clinic's on-call or backup contact is listed as what protects the provider, so the
        delete page refuses (as it does for a provider whose plans protect them)."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        for provider in objs:
            try:
                services.validate_deactivation(provider)
            except ValidationError as exc:
                protected = [*protected, *exc.message_dict["active"]]
        return deleted, counts, perms_needed, protected


@admin.register(Coordinator)
class CoordinatorAdmin(ServiceSavedAdminMixin, ClinicScopedAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "clinic"]

    def service_create(self, values: dict) -> Coordinator:
        return services.coordinator_save(**values)

    def service_update(self, coordinator: Coordinator, values: dict) -> Coordinator:
        return services.coordinator_save(coordinator=coordinator, **values)

    def service_delete(self, coordinator: Coordinator) -> None:
        services.coordinator_remove(coordinator=coordinator)
