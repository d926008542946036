"""The built-in protocol library (scheduler/protocols/*.yaml) as database rows."""

from __future__ import annotations


def install_builtin_protocols(protocol_model) -> int:
    """Create a row for every library protocol version not yet present; return how many.

    Takes the model class so the data migration can pass its historical model.
    """
    from scheduler import load_library

    # The library's rows belong to no clinic (the field exists from migration 0003 on).
    owner = {"clinic": None} if any(f.name == "clinic" for f in protocol_model._meta.fields) else {}
    created = 0
    for slug, protocol in load_library().items():
        _, was_created = protocol_model.objects.get_or_create(
            **owner,
            slug=slug,
            version=protocol.version,
            defaults={"name": protocol.name, "definition": protocol.to_dict()},
        )
        created += was_created
    return created
