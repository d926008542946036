"""Protocol versions: staff read the library and their clinic's own; coordinators add versions
for their clinic and change their clinic's unused ones. The built-in library is read-only."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from backend.api.filters import ProtocolFilter
from backend.api.permissions import StaffReadManagersWrite
from backend.api.serializers.protocols import ProtocolInputSerializer, ProtocolSerializer
from backend.api.views.base import ApiModelViewSet
from backend.core.scope import protocol_scope
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
        return protocol_scope(self.request.user)

    def get_queryset(self):
        return services.visible_to(**self._scope()).order_by("slug", "-version")

    def get_serializer_class(self):
        if self.action in ("create", "partial_update"):
            return ProtocolInputSerializer
        return ProtocolSerializer

    @extend_schema(request=ProtocolInputSerializer, responses={201: ProtocolSerializer})
    def create(self, request, *args, **kwargs):
        data = self._validated(ProtocolInputSerializer(data=request.data))
        try:
            protocol = services.protocol_create_version(
                clinic_id=self._scope()["clinic_id"],
                slug=data["slug"],
                name=data["name"],
                definition=data["definition"],
                is_active=data.get("is_active", False),
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from exc
        return Response(ProtocolSerializer(protocol).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ProtocolInputSerializer, responses={200: ProtocolSerializer})
    def partial_update(self, request, *args, **kwargs):
        protocol = self.get_object()
        data = self._validated(
            ProtocolInputSerializer(data=request.data, partial=True, context={"protocol": protocol})
        )
        try:
            protocol = services.protocol_update(protocol=protocol, changes=data, **self._scope())
        except DjangoPermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc
        except DjangoValidationError as exc:
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from exc
        return Response(ProtocolSerializer(protocol).data)

    @staticmethod
    def _validated(serializer: serializers.Serializer) -> dict:
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)
