"""Every state change of a plan, through the service layer the admin, API and tasks share."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import close_old_connections

from backend.plans import services
from backend.plans.calendar_notices import NOTICE_DELAY, NOTICE_MAX_WAIT, unnotified
from backend.plans.models import PlanItem, TreatmentPlan
from backend.reminders.models import Reminder
from scheduler.titles import patient_title
from tests.backend.conftest import NOW


def _dosing(plan, n):
    return plan.items.get(key=f"dosing-{n}")


@pytest.mark.django_db
def test_plan_create_writes_items_and_reminders_in_one_go(make_plan):
    plan = make_plan()
    assert plan.status == TreatmentPlan.Status.ACTIVE
    assert plan.items.filter(kind="dosing").count() == 6
    reminders = plan.reminders.all()
    assert reminders.count() > 20
    assert set(reminders.values_list("status", flat=True)) == {"scheduled"}
    assert all(r.patient_id or r.provider_id for r in reminders)
    # Every reminder row has its engine key, unique within the plan (the DB enforces it).
    assert reminders.values("key").distinct().count() == reminders.count()


@pytest.mark.django_db
def test_preview_saves_nothing(patient, provider, iv_protocol):
    preview = services.plan_preview(
        patient=patient,
        protocol=iv_protocol,
        start_date=dt.date(2026, 3, 4),
        provider=provider,
        now=NOW,
    )
    assert len(preview.items) > 6 and preview.reminders
    assert TreatmentPlan.objects.count() == 0 and Reminder.objects.count() == 0


@pytest.mark.django_db
def test_start_in_the_past_is_a_validation_error_naming_the_field(patient, provider, iv_protocol):
    with pytest.raises(ValidationError) as err:
        services.plan_create(
            patient=patient,
            protocol=iv_protocol,
            start_date=dt.date(2026, 2, 1),
            provider=provider,
            now=NOW,
        )
    assert "start_date" in err.value.message_dict
    assert TreatmentPlan.objects.count() == 0


@pytest.mark.django_db
def test_provider_from_another_clinic_is_refused(patient, provider, iv_protocol, clinic):
    from backend.clinics.models import Clinic

    other = Clinic.objects.create(name="Elsewhere", time_zone="America/Denver")
    provider.clinic = other
    provider.save()
    with pytest.raises(ValidationError) as err:
        services.plan_preview(
            patient=patient,
            protocol=iv_protocol,
            start_date=dt.date(2026, 3, 4),
            provider=provider,
            now=NOW,
        )
    assert "provider" in err.value.message_dict


@pytest.mark.django_db
def test_reschedule_moves_the_item_and_its_reminders(make_plan):
    plan = make_plan()
    third = _dosing(plan, 3)
    before = dict(third.reminders.values_list("key", "send_at"))
    new_start = third.start + dt.timedelta(days=1)
    result = services.item_reschedule(item=third, new_start=new_start, now=NOW)
    third.refresh_from_db()
    assert third.start == new_start
    assert third.calendar_sequence == 1
    after = dict(third.reminders.filter(status="scheduled").values_list("key", "send_at"))
    moved = [k for k in before if k in after and after[k] != before[k]]
    assert moved, "the session's reminders should move with it"
    assert "moved" in result.summary


@pytest.mark.django_db
def test_reschedule_into_the_past_or_a_completed_item_is_refused(make_plan):
    plan = make_plan()
    first = _dosing(plan, 1)
    with pytest.raises(ValidationError) as err:
        services.item_reschedule(item=first, new_start=NOW - dt.timedelta(hours=1), now=NOW)
    assert "new_start" in err.value.message_dict
    services.item_mark_completed(item=first, now=first.end)
    with pytest.raises(ValidationError) as err:
        services.item_reschedule(item=first, new_start=first.start + dt.timedelta(days=1), now=NOW)
    assert "completed" in str(err.value)


@pytest.mark.django_db
def test_missed_session_withdraws_its_day_after_messages(make_plan):
    plan = make_plan()
    first = _dosing(plan, 1)
    dependent = first.reminders.filter(requires_attended=True)
    assert dependent.exists()
    services.item_mark_missed(item=first, now=first.end)
    assert set(dependent.values_list("status", flat=True)) == {"cancelled"}
    # Preparation reminders do not depend on attendance and are not touched by this.
    assert first.reminders.filter(requires_attended=False).exclude(status="cancelled").exists()


@pytest.mark.django_db
def test_answering_an_assessment_stops_its_repeats(make_plan):
    plan = make_plan()
    assessment = plan.items.filter(kind="assessment").first()
    prompts = assessment.reminders.filter(audience="patient")
    assert prompts.exists()
    services.item_mark_completed(item=assessment, outcome_notes="PHQ-9 answered")
    assert set(prompts.values_list("status", flat=True)) == {"cancelled"}


@pytest.mark.django_db
def test_pause_cancels_pending_reminders_and_resume_brings_them_back(make_plan):
    plan = make_plan()
    pending = plan.reminders.filter(status="scheduled").count()
    services.plan_pause(plan=plan, now=NOW)
    plan.refresh_from_db()
    assert plan.status == "paused"
    assert not plan.reminders.filter(status__in=Reminder.PENDING).exists()
    with pytest.raises(ValidationError):
        services.item_reschedule(
            item=_dosing(plan, 2), new_start=NOW + dt.timedelta(days=5), now=NOW
        )
    services.plan_resume(plan=plan, now=NOW + dt.timedelta(hours=1))
    plan.refresh_from_db()
    assert plan.status == "active"
    assert plan.reminders.filter(status="scheduled").count() >= pending - 2


@pytest.mark.django_db
def test_cancel_cancels_items_and_pending_reminders_but_keeps_history(make_plan):
    plan = make_plan()
    sent = plan.reminders.first()
    Reminder.objects.filter(pk=sent.pk).update(status="sent")
    result = services.plan_cancel(plan=plan, reason="patient moved away", now=NOW)
    assert set(plan.items.values_list("status", flat=True)) == {"cancelled"}
    # Nothing planned goes out any more; only one notice, listing every cancelled session, does.
    pending = plan.reminders.filter(status__in=Reminder.PENDING)
    assert list(pending.values_list("message_kind", flat=True)) == ["session_cancelled"]
    assert Reminder.objects.get(pk=sent.pk).status == "sent"
    assert result.sync.reminders_cancelled == plan.reminders.filter(status="cancelled").count()
    with pytest.raises(ValidationError):
        services.plan_cancel(plan=plan, now=NOW)


@pytest.mark.django_db
def test_changes_are_kept_in_history(make_plan):
    plan = make_plan()
    third = _dosing(plan, 3)
    services.item_reschedule(item=third, new_start=third.start + dt.timedelta(days=1), now=NOW)
    assert third.history.count() >= 2
    assert plan.history.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_reschedules_of_one_plan_lose_no_update(make_plan):
    """Two coordinators move two different sessions of one plan at the same moment."""
    plan = make_plan()
    second, fifth = _dosing(plan, 2), _dosing(plan, 5)
    targets = {
        second.pk: second.start + dt.timedelta(hours=2),
        fifth.pk: fifth.start + dt.timedelta(hours=2),
    }
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def move(item):
        try:
            barrier.wait()
            services.item_reschedule(item=item, new_start=targets[item.pk], now=NOW)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=move, args=(i,)) for i in (second, fifth)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    for pk, start in targets.items():
        assert PlanItem.objects.get(pk=pk).start == start


@pytest.mark.django_db
def test_moving_or_cancelling_a_session_sends_its_calendar_update(make_plan, mailoutbox):
    from backend.reminders import delivery, dispatch

    plan = make_plan()
    third, fourth = _dosing(plan, 3), _dosing(plan, 4)
    services.item_reschedule(item=third, new_start=third.start + dt.timedelta(hours=2), now=NOW)
    services.item_cancel(item=fourth, reason="clinic closed", now=NOW)
    # A later re-plan leaves the notice alone; every change so far merges into one notice.
    services.item_reschedule(item=third, new_start=third.start + dt.timedelta(hours=3), now=NOW)
    (notice,) = plan.reminders.filter(rule="staff change")
    assert notice.message_kind == "session_changed" and notice.status == "scheduled"
    assert notice.send_at == NOW + NOTICE_DELAY
    # It goes out once due, with one REQUEST for the moved session and one CANCEL for the other.
    later = NOW + NOTICE_DELAY
    delivery.deliver_many(dispatch.claim_due(now=later), now=later)
    notice.refresh_from_db()
    assert notice.status == "sent"
    (mail,) = [m for m in mailoutbox if "appointments have changed" in m.subject]
    # The patient reads the neutral title, never the staff one ("Dosing session 4").
    assert "Session 4: on" in mail.body and "is cancelled" in mail.body
    assert "Dosing" not in mail.body
    methods = sorted(mimetype.split("method=")[1] for _, _, mimetype in mail.attachments)
    assert methods == ["CANCEL", "REQUEST"]
    # Told: nothing is left to tell until the next change.
    assert not unnotified(plan).exists()


@pytest.mark.django_db
def test_a_session_moved_after_its_preparation_went_out_gets_it_again(make_plan):
    plan = make_plan()
    third = _dosing(plan, 3)
    prep = third.reminders.get(rule="prep_48h", channel="email")
    Reminder.objects.filter(pk=prep.pk).update(status="sent")
    new_start = third.start + dt.timedelta(days=2)
    services.item_reschedule(item=third, new_start=new_start, now=NOW)
    again = plan.reminders.get(key=f"{prep.key}@{prep.pk}")
    assert again.status == "scheduled" and again.send_at > prep.send_at
    assert Reminder.objects.get(pk=prep.pk).status == "sent"  # history stays as it was
    # A further re-plan keeps the copy as the reminder of record: no duplicate, no error.
    services.item_reschedule(item=third, new_start=new_start + dt.timedelta(hours=1), now=NOW)
    copies = plan.reminders.filter(key__startswith=f"{prep.key}@")
    assert copies.count() == 1 and copies.get().status == "scheduled"


@pytest.mark.django_db
def test_cancelling_a_plan_leaves_a_history_of_every_row_it_changed(make_plan):
    plan = make_plan()
    first = _dosing(plan, 1)
    reminder = plan.reminders.filter(status="scheduled").first()
    items_before, reminder_before = first.history.count(), reminder.history.count()
    services.plan_cancel(plan=plan, now=NOW)
    assert first.history.count() == items_before + 1
    assert first.history.first().status == "cancelled"
    assert reminder.history.count() == reminder_before + 1
    assert reminder.history.first().status == "cancelled"


@pytest.mark.django_db
def test_dates_beyond_the_planning_horizon_are_refused_naming_the_field(make_plan):
    plan = make_plan()
    with pytest.raises(ValidationError) as err:
        services.plan_preview(
            patient=plan.patient,
            protocol=plan.protocol,
            provider=plan.provider,
            start_date=dt.date(9999, 12, 30),
            now=NOW,
        )
    assert "start_date" in err.value.message_dict
    third = _dosing(plan, 3)
    far = dt.datetime(9999, 12, 30, 15, 0, tzinfo=dt.UTC)
    with pytest.raises(ValidationError) as err:
        services.item_reschedule(item=third, new_start=far, now=NOW)
    assert "new_start" in err.value.message_dict


@pytest.mark.django_db
def test_a_patient_without_email_hears_of_a_moved_session_by_text(make_plan, patient):
    type(patient).objects.filter(pk=patient.pk).update(email_consent=False)
    plan = make_plan()
    third = _dosing(plan, 3)
    services.item_reschedule(item=third, new_start=third.start + dt.timedelta(hours=2), now=NOW)
    notice = plan.reminders.get(rule="staff change")
    assert notice.channel == "sms" and notice.message_kind == "session_changed"


@pytest.mark.django_db
def test_a_missed_session_stays_put_when_other_items_are_re_planned(make_plan):
    plan = make_plan()
    first = _dosing(plan, 1)
    services.item_mark_missed(item=first, now=first.end)
    withdrawn = set(first.reminders.filter(status="cancelled").values_list("id", flat=True))
    third = _dosing(plan, 3)
    services.item_reschedule(item=third, new_start=third.start + dt.timedelta(hours=2), now=NOW)
    first.refresh_from_db()
    assert first.status == "missed"
    # Nothing new is planned for the session that did not happen.
    assert not first.reminders.filter(status="scheduled", requires_attended=True).exists()
    assert withdrawn <= set(first.reminders.filter(status="cancelled").values_list("id", flat=True))


@pytest.mark.django_db
def test_a_missed_session_re_planned_moves_with_its_reminders(make_plan):
    plan = make_plan()
    second = _dosing(plan, 2)
    old_start = second.start
    day_after = second.reminders.get(rule="day_after", channel="email")
    result = services.item_mark_missed(
        item=second, replan=True, now=old_start + dt.timedelta(hours=3)
    )
    second.refresh_from_db()
    assert second.status == "scheduled" and second.start > old_start
    assert "Missed on" in second.outcome_notes
    day_after.refresh_from_db()
    assert day_after.status == "scheduled" and day_after.send_at > second.start
    assert result.sync.items_moved


@pytest.mark.django_db
@pytest.mark.parametrize("outcome", ["completed", "missed", "missed and re-planned"])
def test_a_session_has_an_outcome_only_once_its_time_has_come(make_plan, outcome):
    """Marking next week's session missed withdrew its reminders; re-planning moved it earlier."""
    plan = make_plan()
    first = _dosing(plan, 1)
    mark = {
        "completed": lambda now: services.item_mark_completed(item=first, now=now),
        "missed": lambda now: services.item_mark_missed(item=first, now=now),
        "missed and re-planned": lambda now: services.item_mark_missed(
            item=first, replan=True, now=now
        ),
    }[outcome]
    with pytest.raises(ValidationError) as refused:
        mark(first.start - dt.timedelta(minutes=1))
    assert "outcome.before_start" in str(refused.value)
    first.refresh_from_db()
    assert first.status == "scheduled"
    missed_at = first.start + dt.timedelta(minutes=5)
    mark(missed_at)
    first.refresh_from_db()
    if outcome == "missed and re-planned":
        assert first.status == "scheduled" and first.start > missed_at  # never earlier
    else:
        assert first.status == outcome


@pytest.mark.django_db
def test_one_reschedule_that_moves_many_sessions_sends_one_notice_listing_them(
    make_plan, mailoutbox
):
    from backend.reminders import delivery, dispatch

    plan = make_plan()
    first = _dosing(plan, 1)
    # A week later: every later session and integration moves too.
    services.item_reschedule(item=first, new_start=first.start + dt.timedelta(days=7), now=NOW)
    moved = list(unnotified(plan, now=NOW))
    assert len(moved) > 3
    assert plan.reminders.filter(rule="staff change").count() == 1
    later = NOW + NOTICE_DELAY
    delivery.deliver_many(dispatch.claim_due(now=later), now=later)
    (mail,) = [m for m in mailoutbox if "appointments have changed" in m.subject]
    assert f"{len(moved)} of your appointments have changed" == mail.subject
    for item in moved:
        assert f"- {patient_title(item.kind, item.key)}: now" in mail.body
    ((_, raw, mimetype),) = mail.attachments
    assert "method=REQUEST" in mimetype
    from icalendar import Calendar

    events = Calendar.from_ical(raw).walk("VEVENT")
    assert sorted(e.decoded("DTSTART") for e in events) == sorted(i.start for i in moved)


@pytest.mark.django_db
def test_changes_in_quick_succession_merge_but_wait_no_longer_than_the_cap(make_plan):
    plan = make_plan()
    third, fourth = _dosing(plan, 3), _dosing(plan, 4)
    services.item_reschedule(item=third, new_start=third.start + dt.timedelta(hours=2), now=NOW)
    (notice,) = plan.reminders.filter(rule="staff change")
    created = notice.created_at
    # Each change within the delay pushes the notice back, up to NOTICE_MAX_WAIT after the first.
    for minutes in range(1, 10):
        now = NOW + dt.timedelta(minutes=minutes)
        services.item_reschedule(
            item=fourth, new_start=fourth.start + dt.timedelta(hours=1 + minutes % 2), now=now
        )
    (notice,) = plan.reminders.filter(rule="staff change")
    assert notice.send_at <= created + NOTICE_MAX_WAIT + dt.timedelta(minutes=1)


@pytest.mark.django_db
def test_a_notice_already_sent_is_not_reused(make_plan, mailoutbox):
    from backend.reminders import delivery, dispatch

    plan = make_plan()
    third = _dosing(plan, 3)
    services.item_reschedule(item=third, new_start=third.start + dt.timedelta(hours=2), now=NOW)
    later = NOW + NOTICE_DELAY
    delivery.deliver_many(dispatch.claim_due(now=later), now=later)
    services.item_reschedule(item=third, new_start=third.start + dt.timedelta(hours=3), now=later)
    notices = plan.reminders.filter(rule="staff change").order_by("id")
    assert [n.status for n in notices] == ["sent", "scheduled"]
    assert [i.key for i in unnotified(plan)] == ["dosing-3"]
