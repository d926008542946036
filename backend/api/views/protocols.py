"""Protocol versions: staff read the library and their clinic's own; coordinators add versions
for their clinic and change their clinic's unused ones. The built-in library is read-only."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, serializers

from backend.api.filters import ProtocolFilter
from backend.api.permissions import Role, StaffReadManagersWrite, clinic_id_of, role_of
from backend.api.serializers.protocols import ProtocolSerializer
from backend.api.views.base import ApiModelViewSet
from backend.protocols import services


class ProtocolViewSet(ApiModelViewSet):
    """POST with a known slug adds the next version for the caller's clinic; PATCH changes a
    version of the caller's clinic that no plan uses (any may be retired with `is_active:
    false`). Built-in versions are read-only."""

    serializer_class = ProtocolSerializer
    permission_classes = [StaffReadManagersWrite]
    filterset_class = ProtocolFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    def _scope(self) -> dict:
        user = self.request.user
        return {"clinic_id": clinic_id_of(user), "everything": role_of(user) is Role.ADMIN}

    def get_queryset(self):
        return services.visible_to(**self._scope()).order_by("slug", "-version")

    def perform_create(self, serializer):
        data = serializer.validated_data
        try:
            serializer.instance = services.protocol_create_version(
                clinic_id=self._scope()["clinic_id"],
                slug=data["slug"],
                name=data["name"],
                definition=data["definition"],
                is_active=data.get("is_active", False),
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from exc

    def perform_update(self, serializer):
        try:
            serializer.instance = services.protocol_update(
                protocol=serializer.instance,
                changes=dict(serializer.validated_data),
                **self._scope(),
            )
        except DjangoPermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc
        except DjangoValidationError as exc:
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from exc
