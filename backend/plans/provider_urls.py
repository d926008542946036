"""URL routes of the provider dashboard's actions (backend.plans.dashboard_views), included from
backend/urls.py: record an item's outcome, POST only."""

from django.urls import path

from backend.plans import dashboard_views

urlpatterns = [
    path(
        "provider/items/<int:item_id>/done/", dashboard_views.item_done, name="provider-item-done"
    ),
    path(
        "provider/items/<int:item_id>/missed/",
        dashboard_views.item_missed,
        name="provider-item-missed",
    ),
]
