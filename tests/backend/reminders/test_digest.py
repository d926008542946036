"""The provider's daily digest (#15): one email per provider per working day at 07:00 clinic
time, through the outbox, built at send time; and the per-check-in notice it replaces."""

from __future__ import annotations

import copy
import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import IntegrityError, transaction

from backend.clinics.models import ClosedDate
from backend.plans.models import PlanItem
from backend.reminders import compose, digest, dispatch, eligibility
from backend.reminders.delivery import deliver_many
from backend.reminders.models import Reminder
from backend.reminders.tasks import create_digests, dispatch_due
from tests import factories

NY = ZoneInfo("America/New_York")
# Friday 22 May 2026 to Wednesday 27 May: a weekend, Memorial Day (Monday 25, a US public
# holiday) and a closed date the test sets (Tuesday 26). Working days: Friday 22, Wednesday 27.
FRIDAY, WEDNESDAY = dt.date(2026, 5, 22), dt.date(2026, 5, 27)
WEEK = [FRIDAY + dt.timedelta(days=n) for n in range(6)]


def local(day: dt.date, hour: int, minute: int = 0, zone: ZoneInfo = NY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zone)


def add_item(plan, kind: str, start: dt.datetime, *, title: str = "", minutes: int = 30):
    """A scheduled item of `plan` at `start` (synthetic: the tests choose the days)."""
    zone = start.tzinfo
    number = plan.items.count() + 1
    return PlanItem.objects.create(
        plan=plan,
        key=f"{kind}-t{number}",
        kind=kind,
        sequence=100 + number,
        title=title or dict(PlanItem.Kind.choices)[kind],
        start=start,
        end=start + dt.timedelta(minutes=minutes),
        local_date=start.date(),
        local_time=start.timetz().replace(tzinfo=None),
        time_zone=str(zone),
    )


@pytest.fixture()
def bare_plan(make_plan):
    """An active plan of the shared provider with none of its planned items (each test adds the
    ones it needs, on the days it chooses)."""
    plan = make_plan()
    plan.items.all().delete()
    plan.reminders.all().delete()
    return plan


def digests(**filters):
    return Reminder.objects.filter(message_kind=digest.DIGEST_KIND, **filters)


def tick(at: dt.datetime) -> None:
    """One beat tick at `at`: the task body as beat runs it (its clock is the edge)."""
    with time_machine.travel(at, tick=False):
        create_digests()


def send_due(at: dt.datetime) -> None:
    """The dispatcher and a worker's send, in this process, at `at`."""
    deliver_many(dispatch.claim_due(now=at), now=at)


def digest_mail(mailoutbox, provider):
    return [m for m in mailoutbox if m.to == [provider.user.email] and "Your day" in m.subject]


# --- when: working days, 07:00 clinic time, once ------------------------------------------------


@pytest.mark.django_db
def test_one_digest_per_provider_on_working_days_only_across_weekend_holiday_and_closed_date(
    clinic, provider, patient, bare_plan, make_plan, mailoutbox
):
    clinic.opening_hours = {str(d): [["08:00", "18:00"]] for d in range(5)}  # Monday to Friday
    clinic.save()
    ClosedDate.objects.create(clinic=clinic, date=dt.date(2026, 5, 26), reason="Staff training")
    for day in WEEK:  # something on the list every day, weekend and holiday included
        add_item(bare_plan, PlanItem.Kind.CHECK_IN, local(day, 10))
    # A second provider with something on Friday only: an empty Wednesday gets no email.
    other = factories.ProviderFactory(clinic=clinic)
    other_plan = factories.make_plan(
        patient=factories.PatientFactory(clinic=clinic), provider=other, now=local(FRIDAY, 0)
    ).plan
    other_plan.items.all().delete()
    add_item(other_plan, PlanItem.Kind.DOSING, local(FRIDAY, 9))

    sent_on: dict[dt.date, list[str]] = {}
    for day in WEEK:
        before = len(mailoutbox)
        at = local(day, 5)
        while at < local(day, 20):  # every 15 minutes, as beat runs it
            tick(at)
            send_due(at)
            at += dt.timedelta(minutes=15)
        sent_on[day] = sorted(m.to[0] for m in mailoutbox[before:] if "Your day" in m.subject)

    me, them = provider.user.email, other.user.email
    assert sent_on == {
        FRIDAY: sorted([me, them]),
        dt.date(2026, 5, 23): [],  # Saturday: the clinic is shut
        dt.date(2026, 5, 24): [],  # Sunday
        dt.date(2026, 5, 25): [],  # Memorial Day
        dt.date(2026, 5, 26): [],  # the clinic's closed date
        WEDNESDAY: [me],  # the other provider's day is empty
    }
    rows = digests().order_by("send_at", "provider_id")
    assert [(r.key, r.provider_id, r.plan_id) for r in rows] == [
        ("digest:2026-05-22", provider.pk, None),
        ("digest:2026-05-22", other.pk, None),
        ("digest:2026-05-27", provider.pk, None),
    ]
    assert {r.status for r in rows} == {"sent"}
    assert {r.send_at.astimezone(NY).time() for r in rows} == {dt.time(7, 0)}


@pytest.mark.django_db
def test_nothing_before_seven_and_a_doubled_beat_creates_one(provider, bare_plan):
    add_item(bare_plan, PlanItem.Kind.CHECK_IN, local(FRIDAY, 10))
    tick(local(FRIDAY, 6, 59))
    assert not digests().exists()
    tick(local(FRIDAY, 7, 0))
    tick(local(FRIDAY, 7, 0))  # a second beat
    tick(local(FRIDAY, 7, 15))
    [row] = digests()
    assert (row.audience, row.channel, row.provider_id, row.plan_id) == (
        "provider",
        "email",
        provider.pk,
        None,
    )
    assert row.send_at == local(FRIDAY, 7) and row.status == "scheduled"
    assert row.not_after == local(FRIDAY, 18)  # worth sending until the clinic closes


@pytest.mark.django_db
def test_a_late_tick_catches_up_the_day_once(provider, bare_plan, mailoutbox):
    add_item(bare_plan, PlanItem.Kind.TASK, local(FRIDAY, 16), title="Prescriber review")
    tick(local(FRIDAY, 11, 40))  # beat was down all morning
    tick(local(FRIDAY, 11, 55))
    [row] = digests()
    assert row.send_at == local(FRIDAY, 7)  # already due: goes with the next dispatch
    send_due(local(FRIDAY, 11, 56))
    assert len(digest_mail(mailoutbox, provider)) == 1
    # After closing time it is too late to matter: no row at all.
    row.delete()
    tick(local(FRIDAY, 18, 5))
    assert not digests().exists()


@pytest.mark.django_db
def test_the_database_refuses_a_second_digest_for_the_same_provider_and_day(provider, bare_plan):
    add_item(bare_plan, PlanItem.Kind.CHECK_IN, local(FRIDAY, 10))
    tick(local(FRIDAY, 7, 5))
    [row] = digests()
    twin = copy.copy(row)
    twin.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save()
    # ...while the same key for another provider is another digest.
    twin.provider = factories.ProviderFactory(clinic=provider.clinic)
    twin.save()


@pytest.mark.django_db
def test_a_plan_less_row_must_be_a_providers(provider, patient, bare_plan):
    with pytest.raises(IntegrityError), transaction.atomic():
        Reminder.objects.create(
            plan=None,
            key="digest:2026-05-22",
            audience="patient",
            patient=patient,
            channel="email",
            message_kind=digest.DIGEST_KIND,
            send_at=local(FRIDAY, 7),
            not_after=local(FRIDAY, 18),
        )


@pytest.mark.django_db
def test_on_the_night_clocks_go_forward_the_digest_is_at_seven_local_and_lists_that_day(
    clinic, provider, bare_plan, mailoutbox
):
    clinic.opening_hours = {str(d): [["08:00", "18:00"]] for d in range(7)}  # open every day
    clinic.save()
    sunday = dt.date(2026, 3, 8)  # US clocks go forward at 02:00: a 23-hour day
    add_item(bare_plan, PlanItem.Kind.CHECK_IN, local(sunday, 0, 30))  # before the change
    add_item(bare_plan, PlanItem.Kind.CHECK_IN, local(sunday, 23, 30))
    add_item(bare_plan, PlanItem.Kind.CHECK_IN, local(sunday + dt.timedelta(days=1), 0, 15))
    tick(dt.datetime(2026, 3, 8, 11, 59, tzinfo=dt.UTC))  # 06:59 EST would be 11:59 UTC...
    [row] = digests()  # ...but it is 07:59 EDT: 07:00 was at 11:00 UTC
    assert row.send_at == dt.datetime(2026, 3, 8, 11, 0, tzinfo=dt.UTC)
    send_due(dt.datetime(2026, 3, 8, 12, 0, tzinfo=dt.UTC))
    [mail] = digest_mail(mailoutbox, provider)
    assert [line for line in mail.body.splitlines() if line.startswith("- ")] == [
        "- 12:30 AM  Check-in: Check-in (AQ)",
        "- 11:30 PM  Check-in: Check-in (AQ)",
    ]


@pytest.mark.django_db
def test_inactive_providers_get_none(provider, bare_plan):
    add_item(bare_plan, PlanItem.Kind.CHECK_IN, local(FRIDAY, 10))
    provider.active = False
    provider.save()
    tick(local(FRIDAY, 7, 5))
    assert not digests().exists()


# --- what: the day's items, in clinic time, as they stand at send time --------------------------


@pytest.mark.django_db
def test_the_email_lists_the_day_in_clinic_time_with_initials_and_a_dashboard_link(
    clinic, provider, patient, bare_plan, mailoutbox
):
    clinic.time_zone = "America/Los_Angeles"
    clinic.save()
    pacific = ZoneInfo("America/Los_Angeles")
    add_item(bare_plan, PlanItem.Kind.DOSING, local(FRIDAY, 9, zone=pacific), title="Dose 3")
    add_item(bare_plan, PlanItem.Kind.CHECK_IN, local(FRIDAY, 13, 30, zone=pacific))
    add_item(bare_plan, PlanItem.Kind.TASK, local(FRIDAY, 16, zone=pacific), title="Vitals form")
    add_item(bare_plan, PlanItem.Kind.CHECK_IN, local(FRIDAY, 23, 30, zone=pacific))  # 02:30 NY
    add_item(bare_plan, PlanItem.Kind.CHECK_IN, local(WEDNESDAY, 9, zone=pacific))  # not today
    tick(local(FRIDAY, 7, 0, zone=pacific))
    [row] = digests()
    assert row.send_at == local(FRIDAY, 7, zone=pacific)
    send_due(local(FRIDAY, 7, 1, zone=pacific))

    [mail] = digest_mail(mailoutbox, provider)
    assert mail.subject == "Your day, Fri 22 May: 4 items"
    assert "Dose" not in mail.subject and "ketamine" not in mail.subject.lower()
    lines = [line for line in mail.body.splitlines() if line.startswith("- ")]
    assert lines == [
        "- 9:00 AM  Session: Dose 3 (AQ)",
        "- 1:30 PM  Check-in: Check-in (AQ)",
        "- 4:00 PM  Task: Vitals form (AQ)",
        "- 11:30 PM  Check-in: Check-in (AQ)",
    ]
    assert "Avery" not in mail.body and "Quinlan" not in mail.body  # initials by default
    assert "/provider/" in mail.body
    html = mail.alternatives[0][0]
    assert "/provider/" in html and "Dose 3" in html


@pytest.mark.django_db
def test_a_change_after_seven_shows_in_the_email_and_an_emptied_day_is_skipped(
    provider, bare_plan, mailoutbox
):
    moved = add_item(bare_plan, PlanItem.Kind.CHECK_IN, local(FRIDAY, 10))
    dropped = add_item(bare_plan, PlanItem.Kind.INTEGRATION, local(FRIDAY, 14))
    tick(local(FRIDAY, 7))
    # Between creation and the send, a coordinator moves one item and cancels the other.
    moved.start, moved.end = local(FRIDAY, 15, 30), local(FRIDAY, 16)
    moved.save()
    dropped.status = PlanItem.Status.CANCELLED
    dropped.save()
    send_due(local(FRIDAY, 7, 5))
    [mail] = digest_mail(mailoutbox, provider)
    assert mail.subject == "Your day, Fri 22 May: 1 item"
    assert [line for line in mail.body.splitlines() if line.startswith("- ")] == [
        "- 3:30 PM  Check-in: Check-in (AQ)"
    ]

    # Another day: everything is cancelled before the send, so nothing goes out.
    gone = add_item(bare_plan, PlanItem.Kind.CHECK_IN, local(WEDNESDAY, 10))
    tick(local(WEDNESDAY, 7))
    gone.status = PlanItem.Status.CANCELLED
    gone.save()
    send_due(local(WEDNESDAY, 7, 5))
    row = digests().get(key="digest:2026-05-27")
    assert (row.status, row.status_reason) == (
        "skipped",
        "nothing on the provider's list for the day any more",
    )
    assert len(digest_mail(mailoutbox, provider)) == 1


@pytest.mark.django_db
def test_staff_preview_of_a_digest_renders(provider, bare_plan):
    add_item(bare_plan, PlanItem.Kind.CHECK_IN, local(FRIDAY, 10))
    tick(local(FRIDAY, 7))
    [row] = digests()
    assert compose.preview_text(row) == "Your day, Fri 22 May: 1 item"


# --- the per-check-in notice it replaces --------------------------------------------------------


@pytest.mark.django_db
def test_new_plans_get_no_check_in_notice(make_plan):
    plan = make_plan()
    assert plan.items.filter(kind=PlanItem.Kind.CHECK_IN).exists()
    assert not plan.reminders.filter(message_kind="provider_checkins_tomorrow").exists()
    assert plan.protocol.version >= 3


def _version_2_with_the_notice(current):
    """The library protocol as version 2 had it: with the per-check-in notice."""
    from backend.protocols.models import Protocol

    definition = copy.deepcopy(current.definition)
    definition["version"] = 2
    definition["reminder_rules"].append(
        {
            "id": "provider_checkins",
            "applies_to": ["check_in"],
            "offset": "-1 working day at 08:00 clinic",
            "not_before": "-7 days",
            "message_kind": "provider_checkins_tomorrow",
            "audience": "provider",
            "channels": ["email"],
            "timing": "announce",
        }
    )
    Protocol.objects.filter(clinic=None, slug=current.slug, version=2).delete()
    return Protocol.objects.create(
        clinic=None,
        slug=current.slug,
        version=2,
        name=current.name,
        definition=definition,
        is_active=True,  # retired by the #15 migration once plans were built from it
    )


@pytest.mark.django_db
def test_an_old_plans_pending_check_in_notice_is_skipped_not_sent(
    make_plan, iv_protocol, mailoutbox
):
    from tests.backend.conftest import NOW

    version_2 = _version_2_with_the_notice(iv_protocol)
    old = make_plan(protocol=version_2)
    version_2.is_active = False  # what migration 0007 does to it
    version_2.save()
    notice = old.reminders.filter(message_kind="provider_checkins_tomorrow").first()
    assert notice is not None and notice.status == "scheduled"
    Reminder.objects.filter(pk=notice.pk).update(send_at=NOW, not_after=NOW + dt.timedelta(hours=4))
    notice.refresh_from_db()
    assert eligibility.check(notice, now=NOW).reason == "replaced by the daily digest"
    send_due(NOW)
    notice.refresh_from_db()
    assert (notice.status, notice.status_reason) == ("skipped", "replaced by the daily digest")
    assert not [m for m in mailoutbox if "check-in" in m.subject]


# --- through beat's task, the broker and a real worker ------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_digest_goes_out_once_through_a_real_worker(
    provider, bare_plan, celery_app_clean, celery_worker, mailoutbox
):
    add_item(bare_plan, PlanItem.Kind.CHECK_IN, local(FRIDAY, 10))
    add_item(bare_plan, PlanItem.Kind.DOSING, local(FRIDAY, 11))
    with time_machine.travel(local(FRIDAY, 7, 2), tick=True):
        create_digests.apply_async(queue="dispatch")
        create_digests.apply_async(queue="dispatch")  # a doubled beat
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not digests().exists():
            time.sleep(0.2)
        dispatch_due.delay()
        while time.monotonic() < deadline and not digests(status="sent").exists():
            time.sleep(0.2)
    [row] = digests()
    assert row.status == "sent", (row.status, row.status_reason, row.last_error)
    [mail] = digest_mail(mailoutbox, provider)
    assert mail.subject == "Your day, Fri 22 May: 2 items"


# --- who sees a digest row: it belongs to its provider's clinic ---------------------------------


@pytest.mark.django_db
def test_a_digest_row_is_scoped_to_its_providers_clinic_in_the_admin_and_the_api(
    client, clinic, provider, bare_plan
):
    from django.contrib.auth.models import User

    add_item(bare_plan, PlanItem.Kind.CHECK_IN, local(FRIDAY, 10))
    tick(local(FRIDAY, 7))
    [row] = digests()
    elsewhere = factories.ClinicFactory()
    may_see = {
        "admin": (User.objects.create_superuser("root", "root@staff.example", "x"), True),
        "coordinator of the clinic": (factories.CoordinatorFactory(clinic=clinic).user, True),
        "the digest's provider": (provider.user, True),
        "another provider of the clinic": (factories.ProviderFactory(clinic=clinic).user, False),
        "coordinator elsewhere": (factories.CoordinatorFactory(clinic=elsewhere).user, False),
        "provider elsewhere": (factories.ProviderFactory(clinic=elsewhere).user, False),
    }
    seen = {}
    for who, (user, _) in may_see.items():
        client.force_login(user)
        listed = client.get("/api/v1/reminders/", {"message_kind": digest.DIGEST_KIND}).json()
        detail = client.get(f"/api/v1/reminders/{row.pk}/")
        admin = client.get(f"/admin/reminders/reminder/{row.pk}/change/")
        seen[who] = (
            [r["id"] for r in listed["results"]] == [row.pk],
            detail.status_code == 200,
            admin.status_code == 200 and b"Your day, Fri 22 May: 1 item" in admin.content,
        )
        client.logout()
    assert seen == {who: (allowed,) * 3 for who, (_, allowed) in may_see.items()}
    # The plan's own reminders keep their old scope: the provider sees their plan's rows.
    plan = factories.make_plan(patient=factories.PatientFactory(clinic=clinic), provider=provider)
    client.force_login(provider.user)
    listed = client.get("/api/v1/reminders/", {"plan": plan.plan.pk}).json()
    assert listed["count"] == plan.plan.reminders.count() > 0


@pytest.mark.django_db
def test_staff_send_a_digest_again_as_a_copy_of_that_provider_and_day(provider, bare_plan):
    from backend.reminders import services

    add_item(bare_plan, PlanItem.Kind.CHECK_IN, local(FRIDAY, 10))
    other = factories.ProviderFactory(clinic=provider.clinic)
    other_plan = factories.make_plan(
        patient=factories.PatientFactory(clinic=provider.clinic), provider=other
    ).plan
    add_item(other_plan, PlanItem.Kind.CHECK_IN, local(FRIDAY, 11))
    tick(local(FRIDAY, 7))
    send_due(local(FRIDAY, 7, 1))
    mine = digests().get(provider=provider)
    assert mine.status == "sent"
    copy_ = services.reminder_send_now(reminder=mine, now=local(FRIDAY, 9))
    assert copy_.pk != mine.pk and copy_.key == f"digest:2026-05-22@{mine.pk}"
    assert (copy_.plan_id, copy_.provider_id, copy_.status) == (None, provider.pk, "scheduled")
    assert digest.day_of(copy_) == FRIDAY
