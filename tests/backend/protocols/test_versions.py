"""New protocol versions are numbered by protocols.services alone, and two writers of one line
never get the same number: the line is locked before its highest number is read, and the unique
constraints turn anything the lock misses into a retry."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from backend.protocols import services
from backend.protocols.models import Protocol
from tests.factories import IV_INDUCTION, ClinicFactory, protocol
from tests.support.clock import wait_until

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks (SELECT ... FOR UPDATE) exist on PostgreSQL; SQLite locks the whole file",
)


def _waiting_on_a_lock() -> int:
    """Sessions of this test database waiting on a lock another transaction holds."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def _create(clinic_id, *, attempts: int = 3, slug: str | None = None) -> Protocol:
    source = protocol(IV_INDUCTION)
    return services.protocol_create_version(
        clinic_id=clinic_id,
        slug=slug or source.slug,
        name=source.name,
        definition=source.definition,
        attempts=attempts,
    )


@pytest.mark.django_db
def test_versions_of_a_line_are_numbered_one_after_another():
    clinic = ClinicFactory()
    library = protocol(IV_INDUCTION)
    first, second = _create(clinic.pk), _create(clinic.pk)
    assert (first.version, second.version) == (library.version + 1, library.version + 2)
    # Another clinic's line counts the library's versions, not this clinic's.
    assert _create(ClinicFactory().pk).version == library.version + 1


@pytest.mark.django_db
def test_a_number_taken_anyway_is_retried_with_the_next(monkeypatch):
    """The backstop: when the number read is already taken (a writer no lock held back), the
    unique constraint refuses it and the service numbers again."""
    clinic = ClinicFactory()
    taken = _create(clinic.pk)
    real = services._next_version
    stale = iter([taken.version])  # the first read misses the version just committed
    monkeypatch.setattr(
        services, "_next_version", lambda *a: next(stale, None) or real(*a), raising=True
    )
    again = _create(clinic.pk)
    assert again.version == taken.version + 1
    assert Protocol.objects.filter(clinic=clinic, slug=taken.slug).count() == 2


@pytest.mark.django_db
def test_the_constraint_refuses_a_duplicate_number_when_retries_run_out(monkeypatch):
    clinic = ClinicFactory()
    taken = _create(clinic.pk)
    monkeypatch.setattr(services, "_next_version", lambda *a: taken.version)
    with pytest.raises(IntegrityError):
        _create(clinic.pk, attempts=2)
    assert Protocol.objects.filter(clinic=clinic, slug=taken.slug).count() == 1


@postgresql_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("owner", ["clinic", "library", "clinic's own line"])
def test_two_writers_at_once_get_consecutive_numbers_without_a_retry(iv_protocol, owner):
    """Writer A creates a version and holds its transaction open; writer B starts meanwhile,
    with no retry allowed, and is seen waiting on a lock before A commits. With the line locked,
    B waits before reading the highest number and numbers after A's version. Without the lock B
    reads the same highest number, its insert waits on the unique index and fails with an
    IntegrityError once A commits."""
    clinic_id = None if owner == "library" else ClinicFactory().pk
    # A line of the clinic's own (no library row of its slug to lock): the clinic's row is.
    slug = "iv-ours" if owner == "clinic's own line" else iv_protocol.slug
    if owner == "clinic's own line":
        _create(clinic_id, slug=slug)
    a_created, b_started, release = threading.Event(), threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def writer(name: str, before=None, after=None) -> None:
        try:
            if before:
                before()
            with transaction.atomic():
                results[name] = _create(clinic_id, attempts=1, slug=slug).version
                if after:
                    after()
        except Exception as exc:  # reported below, with the thread's name
            results[name] = exc
        finally:
            connection.close()

    def hold_open() -> None:
        a_created.set()
        assert release.wait(10)

    def start_b() -> None:
        assert a_created.wait(10)
        b_started.set()

    a = threading.Thread(target=writer, args=("a",), kwargs={"after": hold_open})
    b = threading.Thread(target=writer, args=("b",), kwargs={"before": start_b})
    a.start()
    b.start()
    assert b_started.wait(10)
    wait_until(lambda: _waiting_on_a_lock() >= 1, timeout=10, what="B waiting on A's lock")
    assert b.is_alive(), "B must wait for A's transaction, not number past it"
    release.set()
    a.join(10)
    b.join(10)

    first = (1 if owner == "clinic's own line" else iv_protocol.version) + 1
    assert results == {"a": first, "b": first + 1}
    versions = Protocol.objects.filter(clinic_id=clinic_id, slug=slug)
    assert sorted(versions.values_list("version", flat=True))[-2:] == [first, first + 1]


@pytest.mark.django_db
def test_a_version_added_in_the_admin_is_numbered_by_the_service(client, monkeypatch):
    import json

    from tests.factories import CoordinatorFactory

    calls = []
    real = services.protocol_create_version
    monkeypatch.setattr(
        services, "protocol_create_version", lambda **kw: calls.append(kw) or real(**kw)
    )
    coordinator = CoordinatorFactory()
    library = protocol(IV_INDUCTION)
    client.force_login(coordinator.user)
    response = client.post(
        "/admin/protocols/protocol/add/",
        {"slug": library.slug, "name": "Ours", "definition": json.dumps(library.definition),
         "version": "1", "clinic": ""},
    )  # fmt: skip
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert len(calls) == 1
    added = Protocol.objects.get(clinic=coordinator.clinic, slug=library.slug)
    assert (added.version, added.name) == (library.version + 1, "Ours")
