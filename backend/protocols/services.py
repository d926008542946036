"""Changes to protocols: who may see and change which versions, and making new versions.

The built-in library (no clinic) is shared and read-only; a clinic's own versions belong to that
clinic. A version that plans were built from keeps its slug, name and definition for good: a
change is a new version. Every writer (admin, API) goes through here.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Q, QuerySet

from backend.clinics.models import Clinic
from backend.protocols.models import Protocol

FROZEN_WHEN_USED = ("slug", "name", "definition")


def visible_to(clinic_id: int | None, *, everything: bool = False) -> QuerySet[Protocol]:
    """The library plus the clinic's own versions; ``everything`` for administrators."""
    if everything:
        return Protocol.objects.all()
    return Protocol.objects.filter(Q(clinic__isnull=True) | Q(clinic_id=clinic_id))


def may_change(protocol: Protocol, *, clinic_id: int | None, everything: bool = False) -> bool:
    """Administrators change anything; a clinic's staff only that clinic's own versions."""
    return everything or (protocol.clinic_id is not None and protocol.clinic_id == clinic_id)


def _validated(protocol: Protocol) -> Protocol:
    protocol.full_clean(validate_unique=False, validate_constraints=False)
    return protocol


def _lock_line(clinic_id: int | None, slug: str) -> None:
    """Serialise every writer of the version line of ``slug`` for ``clinic_id`` until commit.

    A clinic's versions wait on that clinic's row; every line also waits on the library's rows
    of ``slug`` (its numbers count in every clinic's line). The lock is taken before the highest
    number is read, so on PostgreSQL (READ COMMITTED) the writer that waited reads the version
    the other committed and numbers after it. SQLite locks the whole database on the first write
    instead, and the unique constraints catch whatever a lock does not (see
    protocol_create_version).
    """
    if clinic_id is not None:
        list(Clinic.objects.select_for_update().filter(pk=clinic_id).values_list("pk"))
    library = Protocol.objects.filter(clinic__isnull=True, slug=slug).order_by("pk")
    list(library.select_for_update().values_list("pk"))


def _next_version(clinic_id: int | None, slug: str) -> int:
    """One more than any version of ``slug`` in the library or in the clinic's own line."""
    line = Protocol.objects.filter(slug=slug).filter(
        Q(clinic__isnull=True) | Q(clinic_id=clinic_id)
    )
    return (line.aggregate(v=Max("version"))["v"] or 0) + 1


def protocol_create_version(
    *,
    clinic_id: int | None,
    slug: str,
    name: str,
    definition: dict,
    is_active: bool = False,
    attempts: int = 3,
) -> Protocol:
    """A new version of ``slug`` owned by ``clinic_id`` (None: the library, administrators only),
    numbered one past every version of ``slug`` in the library and in the clinic's own line.

    Two writers of one line never get the same number: each locks the line (``_lock_line``)
    before reading the highest number. The unique constraints on (slug, version) in the library
    and (clinic, slug, version) in a clinic are the backstop: a number taken anyway (the first
    version of a library line, which has no row to lock yet) is an IntegrityError, retried with
    the next number up to ``attempts`` times.
    """
    for attempt in range(attempts):
        try:
            with transaction.atomic():
                _lock_line(clinic_id, slug)
                protocol = Protocol(
                    clinic_id=clinic_id,
                    slug=slug,
                    version=_next_version(clinic_id, slug),
                    name=name,
                    definition=definition,
                    is_active=is_active,
                )
                _validated(protocol).save()
                return protocol
        except IntegrityError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def protocol_duplicate_for_clinic(*, source: Protocol, clinic_id: int) -> Protocol:
    """The clinic's own next version of ``source``, inactive until someone reviews it."""
    return protocol_create_version(
        clinic_id=clinic_id, slug=source.slug, name=source.name, definition=source.definition
    )


def protocol_duplicate_as_new(*, source: Protocol, clinic_id: int | None) -> Protocol:
    """A new protocol (its own slug, version 1) of the clinic's, starting from ``source``."""
    taken = set(
        visible_to(clinic_id)
        .filter(slug__startswith=f"{source.slug}-copy")
        .values_list("slug", flat=True)
    )
    slug = next(
        candidate
        for candidate in (
            f"{source.slug}-copy",
            *(f"{source.slug}-copy-{n}" for n in range(2, 999)),
        )
        if candidate not in taken
    )
    name = f"Copy of {source.name}"
    definition = {**source.definition, "slug": slug, "version": 1, "name": name}
    return protocol_create_version(clinic_id=clinic_id, slug=slug, name=name, definition=definition)


def protocol_update(
    *, protocol: Protocol, changes: dict, clinic_id: int | None, everything: bool = False
) -> Protocol:
    """Change a version the caller owns; a version in use may only be retired or reactivated."""
    if not may_change(protocol, clinic_id=clinic_id, everything=everything):
        raise PermissionDenied("Built-in and other clinics' protocols cannot be changed here.")
    with transaction.atomic():
        protocol = Protocol.objects.select_for_update().get(pk=protocol.pk)
        frozen = [
            f for f in FROZEN_WHEN_USED if f in changes and changes[f] != getattr(protocol, f)
        ]
        if frozen and protocol.in_use:
            message = "Plans were built from this version; create a new version instead."
            raise ValidationError({frozen[0]: ValidationError(message, code="protocol.in_use")})
        for field, value in changes.items():
            setattr(protocol, field, value)
        _validated(protocol).save()
    return protocol
