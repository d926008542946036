"""What every API view shares: pagination, write throttling, id-shaped lookups."""

from __future__ import annotations

from rest_framework import viewsets

from backend.api.pagination import Pagination

# Ids are digits only, at most 18 of them: anything else is a 404 before it reaches the database
# (SQLite cannot even compare an integer beyond 64 bits).
ID_PATTERN = r"[0-9]{1,18}"


class ApiViewSetMixin:
    pagination_class = Pagination
    throttle_scope = "writes"
    lookup_value_regex = ID_PATTERN


class ApiModelViewSet(ApiViewSetMixin, viewsets.ModelViewSet):
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]


class ApiReadOnlyViewSet(ApiViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass
