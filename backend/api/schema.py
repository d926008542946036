"""OpenAPI post-processing: every operation documents the API's one error shape, and local
wall-clock times are described as what they are."""

from __future__ import annotations

ERROR_SCHEMA = {
    "type": "object",
    "required": ["type", "errors"],
    "properties": {
        "type": {"type": "string", "enum": ["validation_error", "client_error", "server_error"]},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "code", "detail"],
                "properties": {
                    "field": {
                        "type": "string",
                        "nullable": True,
                        "description": "Dotted path of the input field; null when not one field's.",
                    },
                    "code": {
                        "type": "string",
                        "description": "Machine-readable rule, e.g. `start_date.in_past`.",
                    },
                    "detail": {"type": "string", "description": "The rule in plain words."},
                },
            },
        },
    },
}
ERRORS = {
    "400": "Invalid input: each error names the field and the rule.",
    "401": "Not signed in.",
    "403": "The caller's role may not do this.",
    "404": "No such object within the caller's reach.",
    "405": "Method not allowed.",
    "406": "Cannot produce the requested media type.",
    "409": "Still referenced; cannot be deleted.",
    "415": "Unsupported request media type.",
    "429": "Too many requests; retry after the Retry-After header.",
}


WALL_TIME = {
    "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?$",
    "description": "Wall-clock time HH:MM[:SS] in the zone the object names (no UTC offset).",
}


def _wall_times(node) -> None:
    """OpenAPI's `format: time` is RFC 3339 full-time, which requires an offset. Our times are
    local wall-clock intentions (a clinic's 09:00 in its own zone), so describe them as such."""
    if isinstance(node, dict):
        if node.get("format") == "time":
            del node["format"]
            node.update({k: v for k, v in WALL_TIME.items() if k not in node})
        for value in node.values():
            _wall_times(value)
    elif isinstance(node, list):
        for value in node:
            _wall_times(value)


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for code, description in ERRORS.items():
                responses.setdefault(code, {"description": description, "content": ref})
    _wall_times(result.get("components", {}))
    return result
