"""The content check: every message kind, in every channel and language, renders clean and safe.

Templates are rendered with ``string_if_invalid`` set, so a variable the context does not supply
shows up as ``INVALID_VARIABLE[...]`` instead of vanishing into "Hi ,".
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils.html import escape

from backend.reminders.sms_text import (
    GSM7_BASIC,
    GSM7_EXTENDED,
    is_gsm7,
    sms_segments,
    to_gsm_friendly,
)
from backend.reminders.wording import (
    CHANNEL_FILES,
    DIGEST_KINDS,
    EMAIL_ONLY_KINDS,
    LANGUAGES,
    MESSAGE_KINDS,
    PATIENT_KINDS,
    PROVIDER_KINDS,
    REQUIRED_CONTEXT,
    SAFETY_KINDS,
    ContentError,
    RenderedMessage,
    render_message,
)
from scheduler.privacy import PRIVATE_WORDS
from tests.backend.reminders.samples import private, sample_context

EMAIL_ROOT = Path(django_settings.BASE_DIR) / "templates" / "email"
INVALID = "INVALID_VARIABLE"
CHANNELS = ("subject", "text", "html", "sms")
STOP_LINE = {"en": "Reply STOP to opt out", "es": "Responda STOP para cancelar la suscripcion"}
CASES = [
    pytest.param(kind, language, worst, id=f"{kind}-{language}-{'worst' if worst else 'normal'}")
    for kind in MESSAGE_KINDS
    for language in LANGUAGES
    for worst in (False, True)
]
# Kinds whose email body names the treatment when the clinic allows it.
TREATMENT_KINDS = (
    "preparation_48h",
    "preparation_evening",
    "what_to_expect",
    "preparation_2h",
    "day_after",
    "integration_reminder",
    "preparation_session_reminder",
    "booster_reminder",
)

# Left behind by an empty variable: "Hi ,", "()", "at ." ...
EMPTY_PLACEHOLDER = re.compile(r" [,.;:]|\(\s*\)")
DOUBLE_PERIOD = re.compile(r"(?<!\.)\.\.(?!\.)")


@pytest.fixture(autouse=True)
def strict_templates(settings):
    """Render with string_if_invalid, so a missing variable is visible in the output."""
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["OPTIONS"]["string_if_invalid"] = f"{INVALID}[%s]"
    settings.TEMPLATES = templates


def render(kind: str, language: str, *, worst: bool = False, **overrides) -> RenderedMessage:
    context = {**sample_context(kind, language, worst_case=worst), **overrides}
    return render_message(kind=kind, language=language, context=context)


# --- Files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", MESSAGE_KINDS)
def test_every_kind_has_all_its_files_in_every_language(kind, language):
    folder = EMAIL_ROOT / kind if language == "en" else EMAIL_ROOT / kind / language
    needed = [n for n in CHANNEL_FILES if n != "sms.txt" or kind not in EMAIL_ONLY_KINDS]
    missing = [name for name in needed if not (folder / name).is_file()]
    assert missing == [], f"{folder} lacks {missing}"
    if kind in EMAIL_ONLY_KINDS:  # no text to send by mistake
        assert not (folder / "sms.txt").exists()


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_email_only_kind_refuses_to_render_as_sms(language):
    context = sample_context("what_to_expect", language)
    with pytest.raises(ContentError, match="'what_to_expect' is sent by email only"):
        render_message(kind="what_to_expect", language=language, context=context, channel="sms")
    assert render_message(kind="what_to_expect", language=language, context=context).sms == ""


def test_template_folders_are_exactly_the_message_kinds():
    folders = {path.name for path in EMAIL_ROOT.iterdir() if path.is_dir()}
    assert folders == set(MESSAGE_KINDS)


def test_message_kinds_match_the_planning_engine():
    from scheduler.model import MESSAGE_KINDS as ENGINE_KINDS

    # The backend adds the safety alerts and the provider's daily digest (their own writers).
    assert MESSAGE_KINDS == ENGINE_KINDS + SAFETY_KINDS + DIGEST_KINDS
    assert set(PROVIDER_KINDS) < set(MESSAGE_KINDS)
    assert set(PATIENT_KINDS) | set(PROVIDER_KINDS) == set(MESSAGE_KINDS)


def test_translation_is_used_and_reported():
    english = render("day_after", "en")
    spanish = render("day_after", "es")
    assert (english.language, spanish.language) == ("en", "es")
    assert spanish.subject != english.subject
    assert "STOP para no recibir mensajes" in spanish.sms
    assert "Reply STOP" in english.sms


@pytest.mark.parametrize(
    ("language", "expected"),
    [("es-MX", "es"), ("ES", "es"), ("es_US", "es"), ("fr", "en"), ("", "en"), ("../es", "en")],
)
def test_language_tags_fall_back_to_the_nearest_translation(language, expected):
    message = render_message(
        kind="journal_prompt", language=language, context=sample_context("journal_prompt", "en")
    )
    assert message.language == expected
    assert message.subject == render("journal_prompt", expected).subject


# --- Every kind, channel and language ---------------------------------------------------------


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(("kind", "language", "worst"), CASES)
def test_no_unrendered_variable_or_empty_placeholder(kind, language, worst, channel):
    output = getattr(render(kind, language, worst=worst), channel)
    if channel == "sms" and kind in EMAIL_ONLY_KINDS:
        assert output == ""
        return
    assert output.strip()
    assert INVALID not in output
    for leftover in ("{{", "}}", "{%", "%}", "{#", "#}"):
        assert leftover not in output, f"template syntax {leftover!r} in {channel}"
    if channel != "html":
        assert not EMPTY_PLACEHOLDER.search(output), output
        assert not DOUBLE_PERIOD.search(output), output


@pytest.mark.parametrize(("kind", "language", "worst"), CASES)
def test_email_bodies_carry_unsubscribe_link_and_clinic_contact(kind, language, worst):
    """Patients' emails carry their one-click unsubscribe link; providers' emails never carry a
    patient's link (they say whom to ask instead)."""
    context = sample_context(kind, language, worst_case=worst)
    message = render_message(kind=kind, language=language, context=context)
    for value in (context["clinic_name"], context["clinic_phone"]):
        assert value in message.text
        assert escape(value) in message.html
    unsubscribe = context["unsubscribe_url"]
    if kind.startswith("provider_"):
        assert unsubscribe not in message.text and escape(unsubscribe) not in message.html
        return
    assert unsubscribe in message.text
    assert f'href="{escape(unsubscribe)}"' in message.html


@pytest.mark.parametrize("language", LANGUAGES)
def test_day_after_text_carries_the_crisis_line_in_two_segments_at_most(language):
    sms = render("day_after", language, worst=True).sms
    assert "988" in sms and "911" in sms
    assert sms_segments(sms) <= 2


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    "kind", ["day_after", "journal_prompt", "assessment_prompt", "check_in_invitation"]
)
def test_aftercare_emails_give_the_crisis_lines(kind, language):
    context = sample_context(kind, language)
    message = render_message(kind=kind, language=language, context=context)
    for line in context["crisis_lines"]:
        assert line in message.text
        assert escape(line) in message.html


@pytest.mark.parametrize(("kind", "language", "worst"), CASES)
def test_subject_is_one_short_line(kind, language, worst):
    subject = render(kind, language, worst=worst).subject
    assert "\n" not in subject
    assert subject == subject.strip()
    assert len(subject) <= 78


@pytest.mark.parametrize(("kind", "language", "worst"), CASES)
def test_nothing_names_a_drug_or_diagnosis_when_privacy_is_on(kind, language, worst):
    message = render(kind, language, worst=worst, names_treatment=False)
    for channel in CHANNELS:
        found = private(getattr(message, channel))
        assert found == [], f"{channel} names {found}"


@pytest.mark.parametrize(("kind", "language", "worst"), CASES)
def test_subject_and_sms_never_name_the_treatment_even_when_allowed(kind, language, worst):
    # Carriers filter texts naming controlled substances; a subject shows on a lock screen.
    message = render(kind, language, worst=worst, names_treatment=True)
    assert private(message.subject) == []
    assert private(message.sms) == []


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", TREATMENT_KINDS)
def test_body_names_the_treatment_only_when_the_clinic_allows_it(kind, language):
    treatment = str(sample_context(kind, language)["treatment_name"])
    named = render(kind, language, names_treatment=True)
    unnamed = render(kind, language, names_treatment=False)
    assert treatment in named.text
    assert treatment in named.html
    assert treatment not in unnamed.text
    assert treatment not in unnamed.html


def test_private_word_check_catches_what_it_should():
    for text in (
        "Your Ketamine session",
        "esketamina",
        "SPRAVATO",
        "IV infusion",
        "Depresión",
        "PTSD",
        "suicidal thoughts",
        "chronic pain",
        "psychedelic",
        "controlled substance",
    ):
        assert PRIVATE_WORDS.search(text), text
    for text in ("Spain", "painting", "your session", "dolor de cabeza", "expression"):
        assert not PRIVATE_WORDS.search(text), text


# --- Rendering rules --------------------------------------------------------------------------


def test_html_is_escaped_and_plain_text_and_sms_are_not():
    message = render("integration_reminder", "en", worst=True, patient_first_name="<b>Jo</b>")
    assert "Dr. O\u2019Neil &amp; Partners Wellness" in message.html
    assert "&lt;b&gt;Jo&lt;/b&gt;" in message.html
    assert "<b>Jo</b>" not in message.html
    assert "Dr. O\u2019Neil & Partners Wellness" in message.text
    assert "&amp;" not in message.text
    assert "<b>Jo</b>" in message.text
    assert message.sms.startswith("O'Neil & Partners MD: ")


def test_sms_normalises_characters_that_force_ucs2():
    raw = sample_context("integration_reminder", "es", worst_case=True)
    assert not is_gsm7(str(raw["item_when"]) + str(raw["clinic_name"]))  # the trap is set
    sms = render("integration_reminder", "es", worst=True).sms
    assert "12:30 p.m." in sms
    assert "O'Neil" in sms
    assert "integracion" in sms  # the template's "ó" is folded; GSM-7 has no o-acute
    assert is_gsm7(sms)


def test_sms_and_subject_collapse_whitespace():
    message = render("check_in_invitation", "en", item_when="Tue 3 Mar,\n 9:00\tAM")
    assert "Tue 3 Mar, 9:00 AM" in message.sms
    assert "Tue 3 Mar, 9:00 AM" in message.subject


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", MESSAGE_KINDS)
def test_times_ending_in_a_period_do_not_double_it(kind, language):
    # Django's "P" format and Spanish locales write "9 a.m." / "12:30 p.m.".
    message = render(kind, language, item_when="Tue 3 Mar, 9 a.m.", item_time="9 a.m.")
    for channel in ("subject", "text", "sms"):
        assert not DOUBLE_PERIOD.search(getattr(message, channel)), getattr(message, channel)


@pytest.mark.parametrize("language", LANGUAGES)
def test_assessment_repeats_say_it_is_a_reminder(language):
    first = render("assessment_prompt", language, repeat_index=0)
    again = render("assessment_prompt", language, repeat_index=2)
    assert first.subject != again.subject
    assert first.sms != again.sms
    assert first.text != again.text
    assert INVALID not in again.text


@pytest.mark.parametrize("language", LANGUAGES)
def test_provider_notice_lists_every_item_and_its_sms_only_counts(language):
    context = sample_context("provider_checkins_tomorrow", language, worst_case=True)
    message = render_message(kind="provider_checkins_tomorrow", language=language, context=context)
    items = context["items"]
    assert len(items) == 12
    for item in items:
        assert f"{item['time']}  {item['title']} ({item['patient_initials']})" in message.text
        assert escape(item["title"]) in message.html
    assert "12" in message.subject
    assert "12" in message.sms
    assert items[0]["patient_initials"] not in message.sms
    assert "Check-in 1" not in message.sms and "Seguimiento 1" not in message.sms


@pytest.mark.parametrize("kind", PROVIDER_KINDS)
def test_provider_sms_carry_no_patient_name(kind):
    context = sample_context(kind, "en", worst_case=True)
    sms = render_message(kind=kind, language="en", context=context).sms
    assert to_gsm_friendly(str(context["patient_first_name"])) not in sms
    assert "María" not in sms and "Maria" not in sms


def test_singular_check_in():
    one = [{"time": "9:00", "title": "Check-in 1", "patient_initials": "S. K."}]
    message = render("provider_checkins_tomorrow", "en", items=one)
    assert message.subject == "1 check-in tomorrow"
    assert "1 check-in tomorrow" in message.sms


# --- Errors -----------------------------------------------------------------------------------


def test_unknown_kind_is_a_clear_error():
    with pytest.raises(ContentError, match="unknown message kind 'post_op'"):
        render_message(kind="post_op", language="en", context=sample_context("day_after"))
    with pytest.raises(ContentError, match="unknown message kind"):
        sample_context("post_op")


@pytest.mark.parametrize("kind", MESSAGE_KINDS)
def test_missing_context_variable_is_a_clear_error(kind):
    context = sample_context(kind)
    del context["clinic_phone"]
    with pytest.raises(ContentError, match=rf"{kind}.*missing clinic_phone"):
        render_message(kind=kind, language="en", context=context)


def test_blank_context_variable_is_a_clear_error():
    context = {**sample_context("day_after"), "patient_first_name": "  "}
    with pytest.raises(ContentError, match="blank patient_first_name"):
        render_message(kind="day_after", language="en", context=context)


def test_naming_the_treatment_needs_its_name():
    context = {**sample_context("day_after"), "names_treatment": True}
    del context["treatment_name"]
    with pytest.raises(ContentError, match="missing treatment_name"):
        render_message(kind="day_after", language="en", context=context)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", MESSAGE_KINDS)
def test_required_context_is_all_a_kind_needs(kind, language):
    full = sample_context(kind, language, worst_case=True)
    context = {name: full[name] for name in REQUIRED_CONTEXT[kind]}
    message = render_message(kind=kind, language=language, context=context)
    for channel in CHANNELS:
        assert INVALID not in getattr(message, channel), channel


def _template_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / "email" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _only_templates_in(settings, root: Path) -> None:
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["DIRS"] = [root]
    templates[0]["APP_DIRS"] = False
    settings.TEMPLATES = templates


def test_a_missing_template_file_fails_clearly(settings, tmp_path):
    _template_tree(
        tmp_path,
        {"journal_prompt/subject.txt": "Journal", "journal_prompt/body.txt": "Write"},
    )
    _only_templates_in(settings, tmp_path)
    with pytest.raises(ContentError, match=r"templates/email/journal_prompt/body\.html is missing"):
        render_message(
            kind="journal_prompt", language="en", context=sample_context("journal_prompt")
        )


def test_a_kind_without_templates_fails_clearly(settings, tmp_path):
    (tmp_path / "email").mkdir()
    _only_templates_in(settings, tmp_path)
    with pytest.raises(ContentError, match=r"journal_prompt/subject\.txt is missing"):
        render_message(
            kind="journal_prompt", language="en", context=sample_context("journal_prompt")
        )


def test_an_incomplete_translation_fails_instead_of_mixing_languages(settings, tmp_path):
    english = {f"journal_prompt/{name}": "English" for name in CHANNEL_FILES}
    _template_tree(tmp_path, {**english, "journal_prompt/es/subject.txt": "Diario"})
    _only_templates_in(settings, tmp_path)
    with pytest.raises(ContentError, match=r"journal_prompt/es/body\.txt is missing"):
        render_message(
            kind="journal_prompt", language="es", context=sample_context("journal_prompt")
        )


# --- sms_text ---------------------------------------------------------------------------------


def test_gsm7_tables_have_the_standard_sizes():
    assert len(GSM7_BASIC) == 127  # 128 codes, one of them the escape to the extension table
    assert len(GSM7_EXTENDED) == 10
    assert not GSM7_BASIC & GSM7_EXTENDED


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello @£$¥ ñÑüÜ ¿¡ é", True),
        ("Price: 10€ [a] {b} ~c^ |d\\", True),
        ("Hi\u00a0there", False),
        ("It\u2019s", False),
        ("Sofía", False),
        ("ç", False),
        ("Ç", True),
        ("`", False),
        ("😀", False),
    ],
)
def test_is_gsm7(text, expected):
    assert is_gsm7(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("a", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # extension characters cost two septets
        ("€" * 81, 2),
        ("a" * 159 + "[", 2),
        # 306 septets, but the escape pair cannot straddle parts: 152 | € + 151 | 1.
        ("a" * 152 + "€" + "a" * 152, 3),
        ("й" * 70, 1),  # UCS-2
        ("й" * 71, 2),
        ("й" * 134, 2),
        ("й" * 135, 3),
        ("a" * 69 + "\u00a0", 1),
        ("a" * 70 + "\u00a0", 2),  # one no-break space: 71 characters become two segments
        ("😀" * 35, 1),  # surrogate pairs cost two units
        ("😀" * 36, 2),
    ],
)
def test_sms_segments(text, expected):
    assert sms_segments(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9:00\u202fAM", "9:00 AM"),
        ("Tue\u00a03\u00a0Mar", "Tue 3 Mar"),
        ("It\u2019s \u201cfine\u201d", 'It\'s "fine"'),
        ("\u00abhola\u00bb", '"hola"'),
        ("9\u201310 \u2014 ok", "9-10 - ok"),
        ("Wait\u2026", "Wait..."),
        ("zero\u200bwidth\u00ad", "zerowidth"),
        ("María Sofía Ramón Çç", "Maria Sofia Ramon Çc"),
        ("José Muñoz Müller", "José Muñoz Müller"),  # GSM-7 has é, ñ, ü: kept
        ("line\u2028break\ttab", "line\nbreak tab"),
    ],
)
def test_to_gsm_friendly(text, expected):
    assert to_gsm_friendly(text) == expected
    assert is_gsm7(to_gsm_friendly(text))


def test_to_gsm_friendly_keeps_what_has_no_look_alike():
    assert to_gsm_friendly("Hi 王 😀") == "Hi 王 😀"


def test_plain_punctuation_keeps_accents_for_a_text_sent_in_ucs2():
    from backend.reminders.sms_text import to_plain_punctuation

    assert to_plain_punctuation("Su cita cambió al mié\u00a030 \u201cya\u201d") == (
        'Su cita cambió al mié 30 "ya"'
    )
