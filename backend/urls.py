"""URL routes: admin, health, patient links, provider pages, webhooks."""

from django.contrib import admin
from django.urls import include, path

from backend.core.metrics import count_webhook
from backend.core.views import health, health_detail, live, metrics_view
from backend.plans import dashboard_views
from backend.plans import views as plan_views
from backend.reminders import receipts, webhooks
from backend.reminders import views as reminder_views
from backend.safety import views as safety_views

# The admin is the coordinators' product: it names it, and has no "View site" link to a root page
# that does not exist.
admin.site.site_header = admin.site.site_title = "Aftercare"
admin.site.index_title = "Plans, patients and reminders"
admin.site.site_url = None

urlpatterns = [
    path("health/", health, name="health"),
    path("health/live/", live, name="health-live"),  # load balancers: this process is up
    # Operators only (an administrator, or MONITORING_TOKEN as a bearer token).
    path("health/detail/", health_detail, name="health-detail"),
    path("metrics", metrics_view, name="metrics"),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the patient pages' switch
    path("admin/", admin.site.urls),
    path("api/v1/", include("backend.api.urls")),
    path("p/<str:token>/", plan_views.patient_schedule, name="patient-schedule"),
    path("p/<str:token>/items/<int:item_id>/", plan_views.patient_item, name="patient-item"),
    path("p/<str:token>/preferences/", plan_views.patient_preferences, name="patient-preferences"),
    path("p/<str:token>/journal/", plan_views.patient_journal, name="patient-journal"),
    path("provider/", dashboard_views.provider_dashboard, name="provider-dashboard"),
    # One module of routes per feature, so each is read (and scoped) in one place.
    path("", include("backend.plans.provider_urls")),  # dashboard actions
    path("", include("backend.clinics.feed_urls")),  # providers' calendar feeds
    path("", include("backend.plans.request_urls")),  # patients' session requests
    path("", include("backend.patients.login_urls")),  # patients' optional login
    path("provider/flags/<int:flag_id>/", safety_views.flag_detail, name="provider-flag"),
    path(
        "provider/patients/<int:patient_id>/", safety_views.patient_detail, name="provider-patient"
    ),
    path(
        "provider/messages/<int:message_id>/read/",
        safety_views.message_read,
        name="provider-message-read",
    ),
    # Short links in SMS texts (reminders.links.short_url): no trailing slash, every character
    # counts in a text.
    path("l/<str:code>", reminder_views.short_link, name="short-link"),
    path("unsubscribe/<str:token>/", reminder_views.unsubscribe, name="unsubscribe"),
    path(
        "webhooks/twilio/status/",
        count_webhook("twilio_status")(webhooks.twilio_status),
        name="twilio-status",
    ),
    path(
        "webhooks/twilio/inbound/",
        count_webhook("twilio_inbound")(webhooks.twilio_inbound),
        name="twilio-inbound",
    ),
    # Email provider receipts (bounces, deliveries): the configured provider only, and only with
    # anymail's webhook secret set (receipts.email_tracking_webhook).
    path(
        "webhooks/anymail/<slug:esp>/tracking/",
        count_webhook("email_tracking")(receipts.email_tracking_webhook),
        name="email-tracking-webhook",
    ),
]

# The 404 page in the language the visitor chose with the switch on a patient page.
handler404 = "backend.core.page_language.page_not_found"
