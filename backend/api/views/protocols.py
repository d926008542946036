"""Protocol versions: staff read; coordinators create versions and edit unused ones."""

from __future__ import annotations

from backend.api.filters import ProtocolFilter
from backend.api.permissions import StaffReadManagersWrite
from backend.api.serializers.protocols import ProtocolSerializer
from backend.api.views.base import ApiModelViewSet
from backend.protocols.models import Protocol


class ProtocolViewSet(ApiModelViewSet):
    """POST with a known slug adds the next version; PATCH changes a version no plan uses
    (any version may be retired with `is_active: false`)."""

    serializer_class = ProtocolSerializer
    permission_classes = [StaffReadManagersWrite]
    filterset_class = ProtocolFilter
    http_method_names = ["get", "post", "patch", "head", "options"]
    queryset = Protocol.objects.order_by("slug", "-version")
