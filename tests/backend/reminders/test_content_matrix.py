"""The content matrix (#13): every message kind x channel x language, rendered with the longest
names a clinic may save and links of their real length, against the rules a clinic signs off:
segments within budget, no private word where a third party may read it, no UCS-2 unless the
encoding table chose it, the protocol's fasting numbers, and the label's driving sentence.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import override_settings
from icalendar import Calendar

from backend.clinics.models import SMS_SENDER_MAX_LENGTH, Clinic
from backend.plans.models import PlanItem
from backend.reminders import links, protocol_text
from backend.reminders.ics import session_invitations
from backend.reminders.sms_text import is_gsm7, sms_segments, to_gsm_friendly
from backend.reminders.wording import (
    EMAIL_ONLY_KINDS,
    LANGUAGES,
    MESSAGE_KINDS,
    PATIENT_KINDS,
    PREPARATION_KINDS,
    SMS_ENCODING,
    SMS_SEGMENT_BUDGET,
    render_message,
)
from scheduler import load_library, patient_title
from tests.backend.reminders.samples import (
    LONG_HOST,
    LONGEST_SENDER_NAME,
    LONGEST_SMS_SENDER,
    NO_PREP,
    private,
    real_links,
    sample_context,
)

EMAIL_ROOT = Path(django_settings.BASE_DIR) / "templates" / "email"
SMS_KINDS = [k for k in MESSAGE_KINDS if k not in EMAIL_ONLY_KINDS]
STOP_LINE = {"en": "Reply STOP to opt out", "es": "Responda STOP para cancelar la suscripción"}
# The Spanish texts that carry the most (the day after, the evening before's four statements) end
# with a shorter opt-out line, as plain about what STOP does.
SHORT_STOP_LINE = {"es": "STOP para no recibir mensajes"}
SHORT_STOP_KINDS = ("day_after", "preparation_evening")
LIBRARY = load_library()
WITH_PREPARATION = sorted(slug for slug, p in LIBRARY.items() if p.prep_value("food_hours"))
# The label's wording, before a session; never "until the day after" after it.
DRIVING_BEFORE = {
    "en": "No driving or operating machinery until the next day, after a restful sleep",
    "es": "No maneje ni opere maquinaria hasta el día siguiente, después de un sueño reparador",
}
DRIVING_BEFORE_SMS = {
    "en": "no driving until the next day after a restful sleep",
    "es": "no maneje hasta el dia siguiente tras dormir bien",
}
DRIVING_DAY_AFTER = {
    "en": "If you did not sleep well or still feel drowsy, do not drive today.",
    "es": "Si no durmió bien o todavía tiene sueño, no maneje hoy.",
}
# The same words sent the evening of the session (a pain series' `evening_after`): "today" would
# read as permission to drive tomorrow morning.
DRIVING_SAME_EVENING = {
    "en": "Do not drive tonight, and not until tomorrow after a restful sleep.",
    "es": "No maneje esta noche, ni mañana hasta después de un sueño reparador.",
}
DRIVING_SAME_EVENING_SMS = {
    "en": "Do not drive tonight; wait until tomorrow after a restful sleep.",
    "es": "No maneje hoy ni mañana sin dormir bien.",
}
# The alcohol advice and the medicines sentence: patients on prescribed sedatives, sleep or other
# medicines must never read "no sedatives" as an instruction to stop them.
MEDICINES = {
    "en": "Take sedatives, sleep medicines and your other medicines only as your prescriber told "
    "you.",
    "es": "Tome sedantes, medicamentos para dormir y sus demás medicamentos solo como se lo indicó "
    "quien se los recetó.",
}
NO_SEDATIVES = re.compile(
    r"alcohol (?:or|and) sedatives|no sedatives|alcohol ni sedantes|sin sedantes", re.IGNORECASE
)
PERMISSION_TO_DRIVE = re.compile(r"until the day after|hasta el d[ií]a siguiente", re.IGNORECASE)


def render(kind: str, language: str, *, channel: str, **overrides):
    context = {**sample_context(kind, language, worst_case=True, sms=channel == "sms")}
    context.update(overrides)
    return render_message(kind=kind, language=language, context=context, channel=channel)


# --- The worst case is the real worst case ------------------------------------------------------


def test_the_longest_names_are_the_limits_a_clinic_may_save():
    assert len(LONGEST_SENDER_NAME) == Clinic._meta.get_field("sender_name").max_length
    assert len(LONGEST_SMS_SENDER) == SMS_SENDER_MAX_LENGTH
    clinic = Clinic(name="x", sender_name=LONGEST_SENDER_NAME, sms_sender_name=LONGEST_SMS_SENDER)
    clinic.clean_fields(exclude=["opening_hours", "urgent_answers"])
    clinic.clean()


def test_links_have_their_real_length():
    real = real_links()
    assert all(url.startswith(LONG_HOST) for url in real.values())
    # A real signed patient link is over 100 characters: the reason SMS carry short links.
    assert len(real["item"]) > 100 and len(real["schedule"]) > 90
    with override_settings(PUBLIC_BASE_URL=LONG_HOST):
        assert len(real["short"]) == links.short_url_length() == len(LONG_HOST) + 3 + 8


# --- SMS: budget, encoding, sender ---------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", SMS_KINDS)
def test_sms_fits_its_budget_in_the_encoding_the_table_chose(kind, language):
    context = sample_context(kind, language, worst_case=True, sms=True)
    sms = render_message(kind=kind, language=language, context=context, channel="sms").sms
    encoding = SMS_ENCODING[(kind, language)]
    fold = to_gsm_friendly if encoding == "gsm7" else (lambda text: text)
    assert sms.startswith(to_gsm_friendly(LONGEST_SMS_SENDER)), sms
    stop = STOP_LINE[language]
    if kind in SHORT_STOP_KINDS and language in SHORT_STOP_LINE:
        stop = SHORT_STOP_LINE[language]
    assert sms.endswith(fold(stop)), sms
    assert "\n" not in sms and "\u00a0" not in sms and "\u202f" not in sms
    if encoding == "gsm7":
        assert is_gsm7(sms), [char for char in sms if not is_gsm7(char)]
    budget = SMS_SEGMENT_BUDGET.get(kind, 1)
    assert sms_segments(sms) <= budget, (len(sms), sms_segments(sms), sms)


def test_the_encoding_table_covers_every_text_and_chooses_ucs2_only_for_accents_that_matter():
    assert set(SMS_ENCODING) == {(k, lang) for k in SMS_KINDS for lang in LANGUAGES}
    assert set(SMS_ENCODING.values()) <= {"gsm7", "ucs2"}
    chosen = {key for key, encoding in SMS_ENCODING.items() if encoding == "ucs2"}
    assert chosen == {("session_changed", "es"), ("session_cancelled", "es")}


def test_a_spanish_change_notice_keeps_its_accents_within_budget():
    one = [{"title": "Sesión 3", "when": "mié 30 de sep, 12:30", "cancelled": False}]
    sms = render("session_changed", "es", channel="sms", sessions=one).sms
    assert "cambió" in sms and "suscripción" in sms
    assert not is_gsm7(sms)  # UCS-2, as the table says
    assert sms_segments(sms) <= SMS_SEGMENT_BUDGET["session_changed"]
    folded = render("integration_reminder", "es", channel="sms").sms
    assert "integracion" in folded and is_gsm7(folded)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", SMS_KINDS)
def test_patient_texts_carry_short_links_and_emails_the_signed_ones(kind, language):
    real = real_links()
    sms = render(kind, language, channel="sms").sms
    email = render(kind, language, channel="email")
    assert "/p/" not in sms and "/unsubscribe/" not in sms
    if kind in PATIENT_KINDS and real["short"] in sms:
        assert real["short"] not in email.text
        assert "/p/" in email.text


# --- Privacy -------------------------------------------------------------------------------------


@pytest.mark.parametrize("names_treatment", [False, True])
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", MESSAGE_KINDS)
def test_no_private_word_in_subjects_texts_or_sender_names(kind, language, names_treatment):
    email = render(kind, language, channel="email", names_treatment=names_treatment)
    assert private(email.subject) == [], email.subject
    if kind not in EMAIL_ONLY_KINDS:
        sms = render(kind, language, channel="sms", names_treatment=names_treatment).sms
        assert private(sms) == [], sms
    if not names_treatment:
        assert private(email.text) == [] and private(email.html) == []
    for name in (LONGEST_SENDER_NAME, LONGEST_SMS_SENDER):
        assert private(name) == []


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("slug", sorted(LIBRARY))
def test_invitation_titles_are_neutral_in_every_built_in_protocol(slug, language):
    protocol = LIBRARY[slug]
    start = dt.datetime(2026, 3, 3, 16, tzinfo=dt.UTC)
    items, titles = [], {}
    for number, spec in enumerate(protocol.items, start=1):
        item = PlanItem(
            pk=number,
            key=f"{spec.key}-3",
            kind=spec.kind,
            title=spec.title,
            start=start,
            end=start + dt.timedelta(hours=2),
            status=PlanItem.Status.SCHEDULED,
        )
        items.append(item)
        titles[item.pk] = protocol_text.item_patient_title(protocol, item, language)
        assert titles[item.pk] == patient_title(spec, item.key, language)
    for _, ics in session_invitations(
        items,
        attendee_email="p@example.com",
        organizer_email="c@example.com",
        clinic_name=LONGEST_SENDER_NAME,
        titles=titles,
        now=start,
    ):
        for event in Calendar.from_ical(ics).walk("VEVENT"):
            summary = str(event["SUMMARY"])
            assert private(summary) == [], summary
            assert "Dosing" not in summary and "(" not in summary, summary


# --- Preparation in numbers, driving, the day after ---------------------------------------------


def _numbers(prep: dict, language: str) -> list[str]:
    """The phrases a protocol's preparation numbers must appear as in an email."""
    unit = {
        ("en", "hours"): "hour",
        ("en", "minutes"): "minute",
        ("es", "hours"): "hora",
        ("es", "minutes"): "minuto",
    }
    out = []
    for name in ("food", "liquids", "nasal_medicines", "avoid_alcohol"):
        value = prep[name]
        if value:
            word = unit[(language, value["unit"])]
            out.append(f"{value['n']} {word}{'' if value['n'] == 1 else 's'}")
    return out


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("slug", WITH_PREPARATION)
@pytest.mark.parametrize("kind", PREPARATION_KINDS)
def test_preparation_messages_give_the_protocols_numbers(kind, slug, language):
    prep = protocol_text.preparation_context(LIBRARY[slug])
    email = render(kind, language, channel="email", prep=prep)
    phrases = _numbers(prep, language)
    assert phrases, f"{slug} defines food_hours"
    for phrase in phrases:
        assert phrase in email.text and phrase in email.html, (phrase, email.text)
    assert "as your care team advised" not in email.text
    sms = render(kind, language, channel="sms", prep=prep).sms
    food = prep["food"]
    short = f"{food['n']} {'h' if food['unit'] == 'hours' else 'min'}"
    if kind != "preparation_48h":  # the 48-hour text says what to arrange; the email the rest
        assert short in sms, sms


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", PREPARATION_KINDS)
def test_a_protocol_without_numbers_says_as_advised(kind, language):
    email = render(kind, language, channel="email", prep=NO_PREP)
    advised = {"en": "your care team advised", "es": "le indicó su equipo de atención"}
    assert advised[language] in email.text
    assert not re.search(r"\d+ (?:hour|hora|minut)", email.text.split("--")[0])


def test_the_esketamine_label_numbers_read_as_the_label_says():
    prep = protocol_text.preparation_context(LIBRARY["esketamine-nasal-spray"])
    text = render("preparation_evening", "en", channel="email", prep=prep).text
    if prep["nasal_medicines"]:
        assert "at least 1 hour before your session" in text
    assert "No food for 2 hours" in text or "no food for 2 hours" in text


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", PREPARATION_KINDS)
def test_preparation_gives_the_labels_driving_sentence(kind, language):
    email = render(kind, language, channel="email")
    assert DRIVING_BEFORE[language] in email.text
    assert DRIVING_BEFORE[language] in email.html
    if kind == "preparation_evening":  # the 48-hour and 2-hour texts say: a ride home
        sms = render(kind, language, channel="sms").sms
        assert DRIVING_BEFORE_SMS[language] in sms.lower()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_day_after_never_reads_as_permission_to_drive(language):
    email = render("day_after", language, channel="email")
    sms = render("day_after", language, channel="sms").sms
    for text in (email.text, email.html, sms):
        assert not PERMISSION_TO_DRIVE.search(text), text
    assert DRIVING_DAY_AFTER[language] in email.text
    assert to_gsm_friendly(DRIVING_DAY_AFTER[language].split(", ")[1]).lower() in sms.lower()


@pytest.mark.parametrize(
    ("language", "phrases"),
    [
        (
            "en",
            [
                "No alcohol for 24 hours after your session.",
                "Call 911",
                "chest pain, a severe headache, trouble breathing, confusion, or painful or "
                "bloody urination",
                "Call us if you have nausea, dizziness or blurred vision",
            ],
        ),
        (
            "es",
            [
                "No tomar alcohol durante 24 horas después de su sesión.",
                "Llame al 911",
                "dolor en el pecho, un dolor de cabeza intenso, dificultad para respirar, "
                "confusión, o dolor o sangre al orinar",
                "Llámenos si tiene náuseas, mareo o visión borrosa",
            ],
        ),
    ],
)
def test_the_day_after_tiers_its_symptoms(language, phrases):
    email = render("day_after", language, channel="email")
    for phrase in phrases:
        assert phrase in email.text, phrase
    sms = render("day_after", language, channel="sms").sms
    assert "911" in sms and "24 h" in sms and "988" in sms
    severe_headache = {"en": "severe headache", "es": "de cabeza fuerte"}[language]
    assert severe_headache in sms, sms


@pytest.mark.parametrize(
    ("language", "phrases"),
    [
        (
            "en",
            [
                "floating",
                "Time can seem",
                "confused or detached",
                "sick or dizzy",
                "several sessions",
                "Tell someone close to you",
                "Bring your questions",
            ],
        ),
        (
            "es",
            [
                "flota",
                "El tiempo puede parecer",
                "confundido(a) o desconectado(a)",
                "náuseas o mareo",
                "varias sesiones",
                "Cuéntele a una persona cercana",
                "Traiga sus preguntas",
            ],
        ),
    ],
)
def test_what_to_expect_says_what_the_patient_guide_says(language, phrases):
    email = render("what_to_expect", language, channel="email")
    for phrase in phrases:
        assert phrase in email.text and phrase in email.html, phrase


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_missed_session_message_is_kind_and_gives_the_crisis_line(language):
    context = sample_context("session_missed", language, worst_case=True, sms=True)
    email = render("session_missed", language, channel="email")
    sms = render_message(kind="session_missed", language=language, context=context).sms
    opening = {"en": "We missed you", "es": "Notamos que no pudo venir a su sesión"}[language]
    assert opening in email.text
    for text in (email.text, sms):
        assert to_gsm_friendly(context["crisis_short"]) in to_gsm_friendly(text)
        assert to_gsm_friendly(context["clinic_phone"]) in to_gsm_friendly(text)
    assert not re.search(r"\b(?:fail|failed|no-show|falt[oó])\b", email.text, re.IGNORECASE)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", ["provider_readiness_missing", "provider_welfare_call"])
def test_provider_notices_name_initials_and_a_link_only(kind, language):
    context = sample_context(kind, language, worst_case=True)
    message = render_message(kind=kind, language=language, context=context)
    for text in (message.text, message.sms):
        assert context["patient_initials"] in text and context["link_url"] in text
        assert "María" not in text and "Maria" not in text
    assert context["patient_initials"] not in message.subject


# --- Words: the treatment's Spanish name, US Spanish -------------------------------------------


@pytest.mark.parametrize(
    ("slug", "language", "expected"),
    [
        ("esketamine-nasal-spray", "es", "esketamina"),
        ("iv-ketamine-induction-trd", "es", "ketamina"),
        ("iv-ketamine-induction-trd", "en", "ketamine"),
    ],
)
def test_emails_name_the_treatment_in_the_patients_language(slug, language, expected):
    name = protocol_text.treatment_name(LIBRARY[slug], language)
    assert name == expected
    text = render(
        "preparation_48h", language, channel="email", names_treatment=True, treatment_name=name
    ).text
    assert re.search(rf"\b{expected}\b", text)
    if language == "es":
        assert not re.search(r"\b(?:es)?ketamine\b|assisted", text)


SPAIN_WORDS = re.compile(
    r"\bconduz|\bconducir\b|\brell[eé]n|darse de baja|auricular|\bm[oó]vil\b|ordenador|\bcoche"
    r"|\bzumo\b|echamos de menos|\bvale\b|\bvosotros\b|\bgafas\b"
    # Leísmo (le as the direct object: "le lleve", "le extrañamos", "verle") reads as Spain;
    # "corticoide" is Spain's word for corticosteroide.
    r"|\ble llev\w* a casa|\ble apoye\b|\ble extra[nñ]|\bverle\b|\bcorticoide",
    re.IGNORECASE,
)


def test_spanish_templates_use_us_spanish():
    found = {
        str(path.relative_to(EMAIL_ROOT)): SPAIN_WORDS.findall(path.read_text())
        for path in EMAIL_ROOT.rglob("*")
        if path.is_file() and ("/es/" in str(path) or ".es." in path.name)
    }
    assert {name: words for name, words in found.items() if words} == {}


# --- #13 clinical review ------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_same_evening_day_after_says_not_tonight_within_budget(language):
    email = render("day_after", language, channel="email", same_day=True)
    sms = render("day_after", language, channel="sms", same_day=True).sms
    for text in (email.text, email.html):
        assert DRIVING_SAME_EVENING[language] in text, text
        assert DRIVING_DAY_AFTER[language] not in text
        assert not PERMISSION_TO_DRIVE.search(text)
    assert to_gsm_friendly(DRIVING_SAME_EVENING_SMS[language]) in sms, sms
    assert "today" not in sms.lower() and "hoy" not in sms.lower().replace("no maneje hoy ni", "")
    assert sms_segments(sms) <= SMS_SEGMENT_BUDGET["day_after"], (len(sms), sms)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", PATIENT_KINDS)
def test_no_message_tells_a_patient_to_stop_prescribed_sedatives(kind, language):
    email = render(kind, language, channel="email")
    texts = [email.subject, email.text, email.html]
    if kind not in EMAIL_ONLY_KINDS:
        texts.append(render(kind, language, channel="sms").sms)
    for text in texts:
        assert not NO_SEDATIVES.search(text), text
    if kind in (*PREPARATION_KINDS, "day_after"):
        assert MEDICINES[language] in email.text and MEDICINES[language] in email.html


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", ["day_after", "preparation_evening"])
def test_texts_about_alcohol_say_sedatives_only_as_prescribed(kind, language):
    sms = render(kind, language, channel="sms").sms
    phrase = {"en": "only as prescribed", "es": "sedantes solo segun receta"}
    assert phrase[language] in sms, sms


def test_the_alcohol_hours_come_from_the_protocol():
    prep = {**protocol_text.preparation_context(LIBRARY["esketamine-nasal-spray"])}
    prep["avoid_alcohol"] = {"n": 12, "unit": "hours"}
    for kind in (*PREPARATION_KINDS, "day_after"):
        assert "12 hours" in render(kind, "en", channel="email", prep=prep).text, kind
    assert "no alcohol 12 h" in render("day_after", "en", channel="sms", prep=prep).sms


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_48_hour_text_sends_the_patient_to_the_statements_never_asks_for_a_bare_yes(language):
    sms = render("preparation_48h", language, channel="sms").sms
    assert real_links()["short"] in sms
    assert {"en": "Confirm you are ready: ", "es": "Confirme que esta listo(a): "}[language] in sms
    assert not re.search(r"\b(?:YES|SI|SÍ)\b", sms), sms


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_evening_text_lists_the_four_statements_before_yes(language):
    sms = render("preparation_evening", language, channel="sms").sms
    yes = sms.index({"en": "Reply YES", "es": "Responda SI"}[language])
    before = sms[:yes]
    statements = {
        "en": ["no food 2 h", "no liquids 30 min", "ride home", "no driving", "No alcohol 24 h",
               "No new medicines"],
        "es": ["sin comer 2 h", "ni beber 30 min", "maneja por usted", "no maneje",
               "Sin alcohol 24 h", "Sin medicamentos nuevos"],
    }[language]  # fmt: skip
    for statement in statements:
        assert statement in before, (statement, sms)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_miss_already_re_planned_names_the_new_time_and_asks_no_rebooking(language):
    moved = {"en": "Thu 1 Oct, 12:30\u202fPM", "es": "jue 1 de oct, 12:30"}[language]
    email = render("session_missed", language, channel="email", rebooked_when=moved)
    sms = render("session_missed", language, channel="sms", rebooked_when=moved).sms
    said = {"en": "Your session has been moved to", "es": "Su sesión se cambió para el"}[language]
    assert f"{said} {moved}" in email.text
    rebook = {"en": "find a new time", "es": "buscaremos juntos una nueva hora"}[language]
    assert rebook not in email.text and rebook not in email.html
    for text in (email.text, sms):
        assert (
            to_gsm_friendly(sample_context("session_missed", language)["crisis_short"])
            in (to_gsm_friendly(text))
            or "988" in text
        )
    assert to_gsm_friendly(moved) in sms
    assert "nueva hora" not in sms and "new time" not in sms
    assert sms_segments(sms) <= SMS_SEGMENT_BUDGET["session_missed"]
