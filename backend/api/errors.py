"""One error shape for the whole API.

    {"type": "validation_error" | "client_error" | "server_error",
     "errors": [{"field": "start_date" | null, "code": "start_date.in_past", "detail": "..."}]}

Services raise Django's ValidationError keyed by field; the planning engine's rule id (for
example `calendar.no_slot`) travels as the exception's cause and becomes the `code`. Views may
rename service fields to the API's names with `FIELD_ALIASES` on the view.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

NON_FIELD_KEYS = {"non_field_errors", "__all__"}


# Engine fields the service leaves unmapped that are plan options in the API.
OPTION_FIELDS = ("dosing_sessions", "session_counts", "boosters", "reminder_overrides")


def _planning_cause(exc: BaseException):
    """The planning engine's error behind a service's ValidationError, if any."""
    cause = exc.__cause__
    return cause if getattr(cause, "rule", None) else None


def _flatten(detail, field: str | None, out: list[dict]) -> None:
    """DRF's nested {field: [{"message", "code"}]} as a flat list with dotted field paths."""
    if _is_leaf(detail):
        out.append({"field": field, "code": detail["code"], "detail": str(detail["message"])})
    elif isinstance(detail, dict):
        for key, value in detail.items():
            name = field if key in NON_FIELD_KEYS else (f"{field}.{key}" if field else str(key))
            _flatten(value, name, out)
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            nested = isinstance(value, dict | list) and not _is_leaf(value)
            _flatten(value, (f"{field}.{index}" if field else str(index)) if nested else field, out)


def _is_leaf(value) -> bool:
    return isinstance(value, dict) and set(value) == {"message", "code"}


def _from_django_validation_error(
    exc: DjangoValidationError, aliases: dict
) -> exceptions.APIException:
    detail = as_serializer_error(exc)
    renamed = {aliases.get(key, key): value for key, value in detail.items()}
    cause = _planning_cause(exc)
    if cause is not None:
        # The engine's rule names the constraint; its message says it in plain words.
        engine_field = cause.field or ""
        if engine_field.split(".")[0] in OPTION_FIELDS:
            renamed = {f"options.{engine_field}": None}
        message = getattr(cause, "plain_message", str(cause))
        renamed = {
            key: [exceptions.ErrorDetail(f"{message} (rule: {cause.rule})", code=cause.rule)]
            for key in renamed
        }
    return exceptions.ValidationError(renamed)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = (
        "This record is still referenced (for example by a plan) and cannot be deleted."
    )
    default_code = "protected"


class TooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than the API accepts."
    default_code = "request_too_large"


def exception_handler(exc, context):
    view = context.get("view")
    aliases = getattr(view, "field_aliases", {}) if view else {}
    if isinstance(exc, RequestDataTooBig):  # past DATA_UPLOAD_MAX_MEMORY_SIZE, read by Django
        exc = TooLarge()
    elif isinstance(exc, DjangoValidationError):
        exc = _from_django_validation_error(exc, aliases)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, ProtectedError):
        exc = Conflict()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    errors: list[dict] = []
    _flatten(exc.get_full_details(), None, errors)
    kind = "validation_error" if isinstance(exc, exceptions.ValidationError) else "client_error"
    if response.status_code >= 500:
        kind = "server_error"
    response.data = {"type": kind, "errors": errors}
    return response
