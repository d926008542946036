"""Coordinator workflow in the admin: new plan with preview, plan page with timeline and actions.

Admin code translates clicks into service calls (backend.plans.services) and shows the result;
it never changes a plan, item or reminder itself.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from backend.clinics.models import Provider
from backend.core.admin_scope import ClinicScopedAdminMixin
from backend.core.scope import clinic_id_of
from backend.core.timefmt import local_label
from backend.plans import notes, readiness, services, session_requests
from backend.plans.engine import clinic_calendar
from backend.plans.forms import MissedForm, NewPlanForm, RescheduleForm
from backend.plans.models import PlanItem, SessionRequest, TreatmentPlan
from backend.plans.notes import NOTE_MAX_LENGTH
from backend.plans.plan_page import (
    CHANNEL_LABELS,
    build_timeline,
    item_rows,
    message_label,
    plain_notes,
    reminder_groups,
)
from backend.plans.previews import plan_warnings, preview_matches, preview_rows, preview_token
from backend.reminders.models import Reminder
from backend.safety.models import Flag


class ProviderListFilter(admin.RelatedFieldListFilter):
    """Only the providers of plans this user may see (not other clinics' staff), in one query."""

    def field_choices(self, field, request, model_admin):
        plans = model_admin.scope(request, TreatmentPlan.objects.all())
        providers = Provider.objects.filter(pk__in=plans.values("provider_id"))
        providers = providers.select_related("user").order_by("user__first_name", "user__last_name")
        return [(p.pk, str(p)) for p in providers]


def _send_now_outcome(reminder: Reminder, plan: TreatmentPlan, now) -> tuple[str, int]:
    """What will really happen to a reminder made due now, judged by the send-time checks: the
    patient's quiet hours, consent and the SMS budget can still hold it back."""
    from backend.reminders import eligibility

    verdict = eligibility.check(reminder, now=now)
    if verdict.status == "later" and verdict.send_at is not None:
        zone = plan.patient.time_zone if reminder.audience == "patient" else plan.clinic.time_zone
        when = local_label(verdict.send_at, zone)
        return f"It is {verdict.reason.split(';')[0]} for the patient: it goes out at {when}.", (
            messages.WARNING
        )
    if verdict.status in ("skip", "expired"):
        return f"It will not go out: {verdict.reason}.", messages.WARNING
    return "The reminder goes out with the next dispatch (within 30 s).", messages.SUCCESS


class PlanNoteForm(forms.ModelForm):
    """Notes are append-only: the saved ones are shown read-only, a new one is added below."""

    add_note = forms.CharField(
        label="Add a note",
        required=False,
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Added to the notes with today's date and your name. Notes are kept as "
        "written: they cannot be edited or removed.",
    )

    class Meta:
        model = TreatmentPlan
        fields: list[str] = []


class PlanChangeList(ChangeList):
    """The plan list reads only what its columns show: a page is 100 plans, and each one's
    protocol definition, engine options and notes (JSON and free text) would otherwise be read
    and decoded to print a name."""

    DEFERRED = (
        *("notes", "options", "planning_notes"),
        *("protocol__definition", "patient__preferred_weekdays", "patient__mobile"),
        *("provider__mobile", "provider__user__password"),
    )

    def get_queryset(self, request, exclude_parameters=None):
        return super().get_queryset(request, exclude_parameters).defer(*self.DEFERRED)


@admin.register(TreatmentPlan)
class TreatmentPlanAdmin(ClinicScopedAdminMixin, SimpleHistoryAdmin):
    provider_field = "provider"
    list_display = ["patient", "protocol", "status", "provider", "start_date", "item_count"]
    list_filter = [
        "status",
        ("provider", ProviderListFilter),
        "protocol",
        ("start_date", admin.DateFieldListFilter),
    ]
    search_fields = [
        "patient__first_name",
        "patient__last_name",
        "patient__email",
        "patient__mobile",
    ]
    list_select_related = ["patient", "protocol", "provider__user"]
    readonly_fields = [
        "patient",
        "clinic",
        "provider",
        "protocol",
        "start_date",
        "status",
        "options",
        "paused_at",
        "created_by",
        "notes",
    ]
    fields = [*readonly_fields, "add_note"]
    form = PlanNoteForm
    change_form_template = "admin/plans/treatmentplan/change_form.html"

    def has_delete_permission(self, request, obj=None):
        return False  # a plan is cancelled, never deleted: its items, reminders and history stay

    def save_model(self, request, obj, form, change):
        """The only change this form makes: a note appended through backend.plans.notes."""
        text = form.cleaned_data.get("add_note", "")
        if text:
            notes.plan_note_add(plan=obj, text=text, author=request.user, now=timezone.now())

    # A clinic network lists thousands of plans: the changelist counts the rows it filters (for
    # its paginator) but not the whole table again for "n total".
    show_full_result_count = False

    def get_changelist(self, request, **kwargs):
        return PlanChangeList

    def get_queryset(self, request):
        # The item count as a subquery per listed row, not a GROUP BY over every plan in scope:
        # PostgreSQL evaluates it for the page's rows only, and the paginator's COUNT drops it.
        items = (
            PlanItem.objects.filter(plan=OuterRef("pk"))
            .order_by()
            .values("plan")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return super().get_queryset(request).annotate(_items=Coalesce(Subquery(items), Value(0)))

    @admin.display(description="Items", ordering="_items")
    def item_count(self, plan):
        return plan._items

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("new/", wrap(self.new_plan_view), name="plans_treatmentplan_new"),
            path(
                "<int:plan_id>/action/<str:action>/",
                wrap(self.plan_action_view),
                name="plans_treatmentplan_action",
            ),
            path(
                "<int:plan_id>/items/<int:item_id>/",
                wrap(self.item_view),
                name="plans_treatmentplan_item",
            ),
            path(
                "<int:plan_id>/reminders/<int:reminder_id>/send-now/",
                wrap(self.send_now_view),
                name="plans_treatmentplan_send_now",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        return redirect("admin:plans_treatmentplan_new")

    def _plan_or_403(self, request, plan_id: int, *, change: bool = True) -> TreatmentPlan:
        plan = get_object_or_404(self.get_queryset(request), pk=plan_id)
        allowed = (
            self.has_change_permission(request, plan)
            if change
            else self.has_view_permission(request, plan)
        )
        if not allowed:
            raise PermissionDenied
        return plan

    def new_plan_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        clinic_id = None if request.user.is_superuser else clinic_id_of(request.user)
        if clinic_id is None and not request.user.is_superuser:
            raise PermissionDenied("Only a clinic's coordinators can build its plans.")
        form = NewPlanForm(request.POST or None, clinic_id=clinic_id)
        preview, warnings, overlapping = None, [], []
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            kwargs = {
                "patient": data["patient"],
                "protocol": data["protocol"],
                "start_date": data["start_date"],
                "provider": data["provider"],
                "options": form.options(),
            }
            overlapping = services.live_plans(data["patient"])
            warnings = plan_warnings(data["patient"], overlapping)
            choice = data.get("existing_plans", "")
            try:
                replaces = overlapping if choice == "replace" else ()
                preview = services.plan_preview(**kwargs, replaces=replaces)
                shown = preview_matches(request.POST.get("preview_token", ""), kwargs, preview)
                if "confirm" in request.POST and overlapping and not choice:
                    form.add_error(
                        "existing_plans",
                        "Choose whether this plan runs alongside the one under way or replaces it.",
                    )
                elif "confirm" in request.POST and not shown:
                    # Confirm creates exactly the plan the coordinator saw: after any change of
                    # input (or of the clinic's calendar) the new preview has to be read first.
                    self.message_user(
                        request,
                        "Something changed since the preview you saw (the protocol, the dates "
                        "or the calendar). Check this preview, then confirm again.",
                        messages.WARNING,
                    )
                elif "confirm" in request.POST:
                    result = services.plan_create(
                        **kwargs,
                        created_by=request.user,
                        replaces=overlapping if choice == "replace" else (),
                    )
                    self.message_user(
                        request,
                        f"Plan created with {result.sync.items_created} items and "
                        f"{result.sync.reminders_created} reminders.",
                        messages.SUCCESS,
                    )
                    return redirect("admin:plans_treatmentplan_change", result.plan.pk)
            except ValidationError as exc:
                preview = None
                if hasattr(exc, "error_dict"):
                    for field, errors in exc.message_dict.items():
                        form.add_error(field if field in form.fields else None, errors)
                else:
                    form.add_error(None, exc.messages)
        context = {
            **self.admin_site.each_context(request),
            "title": "New treatment plan",
            "form": form,
            "preview": preview and preview_rows(preview, form.cleaned_data["patient"]),
            "preview_token": preview and preview_token(kwargs, preview),
            "warnings": warnings,
            "overlapping": overlapping,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/plans/treatmentplan/new_plan.html", context)

    def plan_action_view(self, request, plan_id: int, action: str):
        plan = self._plan_or_403(request, plan_id)
        if request.method != "POST":
            return redirect("admin:plans_treatmentplan_change", plan.pk)
        actions = {
            "pause": services.plan_pause,
            "resume": services.plan_resume,
            "cancel": services.plan_cancel,
        }
        if action not in actions:
            raise PermissionDenied
        try:
            result = actions[action](plan=plan)
            self.message_user(
                request, f"Plan {result.plan.get_status_display().lower()}: {result.summary}."
            )
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        return redirect("admin:plans_treatmentplan_change", plan.pk)

    def item_view(self, request, plan_id: int, item_id: int):
        plan = self._plan_or_403(request, plan_id)
        item = get_object_or_404(plan.items.all(), pk=item_id)
        reschedule = RescheduleForm(
            request.POST if "reschedule" in request.POST else None,
            time_zone=plan.clinic.time_zone,
            # The clinic's wall time, naive: Django renders an aware value in the active zone
            # (UTC), so the box showed 13:00 for an 08:00 session and keeping it moved the session.
            initial={
                "new_start": item.start.astimezone(ZoneInfo(plan.clinic.time_zone)).replace(
                    tzinfo=None
                )
            },
        )
        missed = MissedForm(request.POST if "missed" in request.POST else None)
        try:
            if "reschedule" in request.POST and reschedule.is_valid():
                result = services.item_reschedule(
                    item=item,
                    new_start=reschedule.cleaned_data["new_start"],
                    answered_by=request.user,
                )
                self.message_user(request, f"Rescheduled: {result.summary}.", messages.SUCCESS)
                return redirect("admin:plans_treatmentplan_change", plan.pk)
            if "completed" in request.POST:
                services.item_mark_completed(
                    item=item, outcome_notes=request.POST.get("outcome_notes", "")
                )
                self.message_user(request, f"{item.title} marked completed.", messages.SUCCESS)
                return redirect("admin:plans_treatmentplan_change", plan.pk)
            if "missed" in request.POST and missed.is_valid():
                result = services.item_mark_missed(
                    item=item,
                    outcome_notes=missed.cleaned_data["outcome_notes"],
                    replan=missed.cleaned_data["replan"],
                )
                self.message_user(
                    request, f"{item.title} marked missed: {result.summary}.", messages.WARNING
                )
                return redirect("admin:plans_treatmentplan_change", plan.pk)
        except ValidationError as exc:
            reschedule.add_error(None, exc.messages)
        if request.method == "GET":
            self._show_open_request(request, item)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{item.title} — {plan.patient}",
            "plan": plan,
            "item": item,
            "reschedule_form": reschedule,
            "missed_form": missed,
            "opts": self.model._meta,
            "reminders": [
                {
                    "what": message_label(r.message_kind),
                    "channel": CHANNEL_LABELS.get(r.channel, r.channel),
                    "when": local_label(
                        r.send_at,
                        plan.patient.time_zone
                        if r.audience == "patient"
                        else plan.clinic.time_zone,
                    ),
                }
                for r in item.reminders.filter(status__in=Reminder.PENDING).order_by("send_at")
            ],
            "starts": local_label(item.start, plan.clinic.time_zone, with_year=True),
            "readiness": readiness.readiness_status(
                item,
                readiness.readiness_by_item([item]).get(item.pk),
                now=timezone.now(),
                zone=plan.clinic.time_zone,
            ),
        }
        return TemplateResponse(request, "admin/plans/treatmentplan/item.html", context)

    def _show_open_request(self, request, item: PlanItem) -> None:
        """The patient's open request to move this session, read where the coordinator moves it
        (moving it answers the request: backend.plans.session_requests)."""
        row = session_requests.open_requests_by_item([item.pk]).get(item.pk)
        if row is None or row.kind != SessionRequest.Kind.RESCHEDULE:
            return
        days = ", ".join(str(WEEKDAYS[d]) for d in row.preferred_weekdays) or "no day given"
        asked = local_label(row.created_at, item.plan.clinic.time_zone)
        text = f"The patient asked to move this session ({asked}, by {row.get_via_display()}). "
        text += f"Preferred days: {days}."
        if row.note:
            text += f" They wrote: {row.note}"
        self.message_user(request, text, messages.INFO)

    def send_now_view(self, request, plan_id: int, reminder_id: int):
        from backend.reminders.services import reminder_send_now

        plan = self._plan_or_403(request, plan_id)
        reminder = get_object_or_404(plan.reminders.all(), pk=reminder_id)
        if request.method == "POST":
            try:
                now = timezone.now()
                row = reminder_send_now(reminder=reminder, now=now)
                self.message_user(request, *_send_now_outcome(row, plan, now))
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
        return redirect("admin:plans_treatmentplan_change", plan.pk)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        plan = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if plan is not None:
            zone = plan.clinic.time_zone
            items = list(plan.items.select_related("provider__user").order_by("start", "id"))
            reminders = list(
                Reminder.objects.filter(plan=plan)
                .select_related("provider__user")
                .order_by("send_at", "id")
            )
            live = [r for r in reminders if r.status != Reminder.Status.CANCELLED]
            today = timezone.now().astimezone(ZoneInfo(zone)).date()
            extra_context["timeline"] = build_timeline(
                items, live, zone, calendar=clinic_calendar(plan.clinic), today=today
            )
            extra_context["zone"] = zone
            extra_context["item_rows"] = item_rows(plan, items, now=timezone.now())
            extra_context["reminder_groups"] = reminder_groups(plan, items, reminders)
            extra_context["planner_notes"] = plain_notes(plan, items, reminders)
            extra_context["reminder_counts"] = dict(
                Reminder.objects.filter(plan=plan).values_list("status").annotate(n=Count("id"))
            )
            open_flags = list(
                Flag.objects.filter(patient=plan.patient_id, acknowledged_at__isnull=True)
            )
            for flag in open_flags:
                flag.raised_label = local_label(flag.raised_at, plan.clinic.time_zone)
            extra_context["open_flags"] = open_flags
        return super().change_view(request, object_id, form_url, extra_context=extra_context)


@admin.register(PlanItem)
class PlanItemAdmin(ClinicScopedAdminMixin, SimpleHistoryAdmin):
    """Read-only: items change through the plan page's actions (the services); this list is for
    finding items across plans and reading each one's history."""

    clinic_field = "plan__clinic"
    provider_field = "plan__provider"
    list_display = ["title", "plan", "kind", "start", "status"]
    list_filter = ["kind", "status", ("start", admin.DateFieldListFilter)]
    search_fields = ["title", "plan__patient__first_name", "plan__patient__last_name"]
    list_select_related = ["plan__patient", "plan__protocol"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OpenFirstStatusFilter(admin.SimpleListFilter):
    """Open requests unless another status is chosen: the list is the coordinator's to-do."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [*SessionRequest.Status.choices, ("all", "All")]

    def choices(self, changelist):
        value = self.value() or SessionRequest.Status.OPEN
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or SessionRequest.Status.OPEN
        return queryset if value == "all" else queryset.filter(status=value)


@admin.register(SessionRequest)
class SessionRequestAdmin(ClinicScopedAdminMixin, SimpleHistoryAdmin):
    """Patients' confirmations and requests to move a session. Read-only (the patient's words are
    kept as written); a request to move is answered by rescheduling the session on the plan's
    item page (linked from each row), which closes it; "Mark answered" closes one without moving
    it. Scoped like the plan items: by the item's plan's clinic, and for a provider their own
    patients'."""

    clinic_field = "item__plan__clinic"
    provider_field = "item__plan__provider"
    list_display = [
        "patient",
        "session",
        "kind",
        "preferred_days",
        "note",
        "created_at",
        "status",
        "reschedule_link",
    ]
    list_filter = [OpenFirstStatusFilter, "kind", "via"]
    search_fields = ["item__plan__patient__first_name", "item__plan__patient__last_name"]
    list_select_related = ["item__plan__patient", "item__plan__clinic"]
    actions = ["mark_answered"]

    def get_readonly_fields(self, request, obj=None):
        return [*(f.name for f in self.model._meta.fields), "preferred_days", "reschedule_link"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        """The list's "Mark answered" needs it; a single request's page is read-only (what the
        patient asked stays as they asked it)."""
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Patient", ordering="item__plan__patient__last_name")
    def patient(self, row: SessionRequest):
        return row.item.plan.patient

    @admin.display(description="Session", ordering="session_start")
    def session(self, row: SessionRequest):
        return f"{row.item.title}, {local_label(row.session_start, row.item.plan.clinic.time_zone)}"

    @admin.display(description="Preferred days")
    def preferred_days(self, row: SessionRequest):
        return ", ".join(str(WEEKDAYS[d]) for d in row.preferred_weekdays) or "—"

    @admin.display(description="Answer")
    def reschedule_link(self, row: SessionRequest):
        url = reverse("admin:plans_treatmentplan_item", args=[row.item.plan_id, row.item_id])
        label = "Reschedule" if row.kind == SessionRequest.Kind.RESCHEDULE else "Open session"
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.action(description="Mark answered (without moving the session)", permissions=["change"])
    def mark_answered(self, request, queryset):
        done = 0
        for row in queryset.filter(status=SessionRequest.Status.OPEN):
            session_requests.request_answer(request=row, by=request.user, now=timezone.now())
            done += 1
        self.message_user(request, f"{done} request(s) marked answered.", messages.SUCCESS)
