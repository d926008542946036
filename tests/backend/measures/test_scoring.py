"""Questionnaires are data files: PHQ-9 and GAD-7 score to the published bands in both languages,
the difficulty question never counts, PHQ-9 item 9 above 0 is urgent, a bad submission names its
fields, and a clinic's own instrument file loads, or is refused with the file and rule named."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.measures import scoring
from backend.measures.scoring import (
    INVALID_MESSAGE,
    MISSING_MESSAGE,
    AnswerError,
    InstrumentError,
)

LANGUAGES = ("en", "es")
BUILTIN = ("phq9", "gad7")
PHQ9_ITEM9_REASON = "PHQ-9 item 9 (thoughts of self-harm) answered above 0"


@pytest.fixture(autouse=True)
def fresh_registry(settings, monkeypatch):
    """No extra directory unless a test names one, and nothing cached between tests."""
    settings.EXTRA_INSTRUMENTS_DIR = None
    monkeypatch.delenv("EXTRA_INSTRUMENTS_DIR", raising=False)
    scoring.reload()
    yield
    scoring.reload()


def answers_with(code, language="en", *, scored, difficulty=0):
    """Every scored question answered ``scored`` (a value or a list), the difficulty one too."""
    questions = scoring.get(code).questions(language)
    items = [q for q in questions if q.scored]
    values = scored if isinstance(scored, list) else [scored] * len(items)
    answers = {q.number: v for q, v in zip(items, values, strict=True)}
    answers.update({q.number: difficulty for q in questions if not q.scored})
    return answers


def spread(total, count, top=3):
    """``count`` answers of 0..top adding up to ``total``, highest first."""
    values = []
    for _ in range(count):
        values.append(min(top, total))
        total -= values[-1]
    assert total == 0
    return values


# --- the published scoring --------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("code", BUILTIN)
def test_all_lowest_answers_score_zero_and_minimal(code, language):
    questions = scoring.get(code).questions(language)
    answers = {q.number: min(o.value for o in q.options) for q in questions}
    score = scoring.get(code).score(answers)
    assert score.total == 0
    assert score.band.code == "minimal"
    assert not score.urgent


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("code", "maximum"), [("phq9", 27), ("gad7", 21)])
def test_all_highest_answers_score_the_maximum_and_severe(code, maximum, language):
    instrument = scoring.get(code)
    answers = {q.number: max(o.value for o in q.options) for q in instrument.questions(language)}
    score = instrument.score(answers)
    assert score.total == maximum == instrument.max_total
    assert score.band.code == "severe"


@pytest.mark.parametrize(
    ("code", "total", "band"),
    [
        ("phq9", 4, "minimal"),
        ("phq9", 5, "mild"),
        ("phq9", 9, "mild"),
        ("phq9", 10, "moderate"),
        ("phq9", 14, "moderate"),
        ("phq9", 15, "moderately_severe"),
        ("phq9", 19, "moderately_severe"),
        ("phq9", 20, "severe"),
        ("gad7", 4, "minimal"),
        ("gad7", 5, "mild"),
        ("gad7", 9, "mild"),
        ("gad7", 10, "moderate"),
        ("gad7", 14, "moderate"),
        ("gad7", 15, "severe"),
    ],
)
def test_every_band_edge_scores_into_the_published_band(code, total, band):
    count = {"phq9": 9, "gad7": 7}[code]
    score = scoring.get(code).score(answers_with(code, scored=spread(total, count)))
    assert score.total == total
    assert score.band.code == band


def test_bands_are_stepped_lowest_first():
    phq9 = scoring.get("phq9")
    assert [b.code for b in phq9.bands] == [
        "minimal",
        "mild",
        "moderate",
        "moderately_severe",
        "severe",
    ]
    assert [phq9.band_step(b.code) for b in phq9.bands] == [0, 1, 2, 3, 4]
    assert scoring.get("gad7").band_step("severe") == 3
    with pytest.raises(LookupError):
        phq9.band_step("catastrophic")
    with pytest.raises(ValueError, match="outside"):
        phq9.band_for(28)


@pytest.mark.parametrize("code", BUILTIN)
def test_the_difficulty_question_is_asked_last_and_never_counts(code):
    instrument = scoring.get(code)
    questions = instrument.questions("en")
    *items, difficulty = questions
    assert all(q.scored for q in items) and not difficulty.scored
    assert difficulty.number == len(items) + 1
    assert [(o.value, o.label) for o in difficulty.options] == [
        (0, "Not difficult at all"),
        (1, "Somewhat difficult"),
        (2, "Very difficult"),
        (3, "Extremely difficult"),
    ]

    easy = instrument.score(answers_with(code, scored=1, difficulty=0))
    hard = instrument.score(answers_with(code, scored=1, difficulty=3))
    assert easy.total == hard.total == len(items)
    assert hard.answers[difficulty.number] == 3  # kept, just not added


@given(st.lists(st.integers(0, 3), min_size=9, max_size=9), st.integers(0, 3))
def test_the_phq9_total_is_the_sum_of_its_nine_items(items, difficulty):
    score = scoring.get("phq9").score(answers_with("phq9", scored=items, difficulty=difficulty))
    assert score.total == sum(items)
    assert score.band.low <= score.total <= score.band.high
    assert score.urgent == (items[8] > 0)


# --- urgent answers ---------------------------------------------------------------------------


def test_phq9_item_9_above_zero_is_urgent_even_with_everything_else_at_zero():
    score = scoring.get("phq9").score(answers_with("phq9", scored=[0] * 8 + [1]))
    assert score.total == 1
    assert score.band.code == "minimal"
    assert score.urgent
    assert score.urgent_reasons == (PHQ9_ITEM9_REASON,)


def test_phq9_item_9_at_zero_is_not_urgent_however_high_the_rest():
    score = scoring.get("phq9").score(answers_with("phq9", scored=[3] * 8 + [0], difficulty=3))
    assert score.total == 24
    assert score.band.code == "severe"
    assert not score.urgent
    assert score.urgent_reasons == ()


def test_gad7_has_no_urgent_rule():
    assert not scoring.get("gad7").score(answers_with("gad7", scored=3, difficulty=3)).urgent


# --- submissions ------------------------------------------------------------------------------


def test_answers_may_be_keyed_and_valued_as_a_form_posts_them():
    form = {f"q{n}": "2" for n in range(1, 9)} | {"9": " 0 ", 10: 1, "csrfmiddlewaretoken": "x"}
    score = scoring.get("phq9").score(form)
    assert score.total == 16
    assert score.answers == {**{n: 2 for n in range(1, 9)}, 9: 0, 10: 1}


def test_missing_and_blank_answers_are_named_by_field():
    answers = answers_with("phq9", scored=1)
    del answers[9]
    del answers[10]
    answers[3] = ""
    answers[4] = None
    with pytest.raises(AnswerError) as caught:
        scoring.get("phq9").score(answers)
    assert caught.value.errors == {
        "q3": MISSING_MESSAGE,
        "q4": MISSING_MESSAGE,
        "q9": MISSING_MESSAGE,
        "q10": MISSING_MESSAGE,
    }
    assert MISSING_MESSAGE == "Please answer this question."


@pytest.mark.parametrize("bad", [4, -1, "7", "2.5", "two", True, 1.0, [1]])
def test_an_answer_outside_the_options_names_its_field(bad):
    answers = answers_with("gad7", scored=1)
    answers[5] = bad
    with pytest.raises(AnswerError) as caught:
        scoring.get("gad7").score(answers)
    assert caught.value.errors == {"q5": INVALID_MESSAGE}
    assert INVALID_MESSAGE == "Choose one of the answers shown."


def test_every_problem_in_a_submission_is_reported_at_once():
    with pytest.raises(AnswerError) as caught:
        scoring.get("gad7").score({"q1": "9", "q2": "1", "q8": "5"})
    errors = caught.value.errors
    assert errors["q1"] == errors["q8"] == INVALID_MESSAGE
    assert all(errors[f"q{n}"] == MISSING_MESSAGE for n in range(3, 8))
    assert "q2" not in errors


def test_the_difficulty_question_is_required_too():
    answers = answers_with("gad7", scored=0)
    del answers[8]
    with pytest.raises(AnswerError) as caught:
        scoring.get("gad7").score(answers)
    assert caught.value.errors == {"q8": MISSING_MESSAGE}


# --- the texts --------------------------------------------------------------------------------


@pytest.mark.parametrize("code", BUILTIN)
def test_both_languages_ask_the_same_questions_with_the_same_answers(code):
    instrument = scoring.get(code)
    assert instrument.languages() == ("en", "es")
    english, spanish = instrument.questions("en"), instrument.questions("es")
    assert len(english) == len(spanish)
    for en, es in zip(english, spanish, strict=True):
        assert (en.number, en.scored) == (es.number, es.scored)
        assert [o.value for o in en.options] == [o.value for o in es.options]
        assert en.text != es.text and es.text.strip()
    assert instrument.intro("en") != instrument.intro("es")
    assert instrument.translation_source("es").startswith("Pfizer")


def test_the_published_wording_is_kept():
    phq9, gad7 = scoring.get("phq9"), scoring.get("gad7")
    assert phq9.questions("en")[8].text == (
        "Thoughts that you would be better off dead or of hurting yourself in some way"
    )
    assert phq9.questions("es")[8].text == (
        "Pensamientos de que estaría mejor muerto(a) o de lastimarse de alguna manera"
    )
    assert [o.label for o in gad7.questions("es")[0].options] == [
        "Ningún día",
        "Varios días",
        "Más de la mitad de los días",
        "Casi todos los días",
    ]
    assert gad7.questions("en")[0].text == "Feeling nervous, anxious or on edge"
    assert "Pfizer" in phq9.copyright and "Kroenke" in phq9.source
    assert "Arch Intern Med" in gad7.source


def test_an_unknown_language_falls_back_to_english_and_a_region_to_its_language():
    phq9 = scoring.get("phq9")
    assert phq9.questions("fr") == phq9.questions("en")
    assert phq9.intro("fr") == phq9.intro("en")
    assert phq9.intro("es-MX") == phq9.intro("es")


def test_an_unknown_instrument_is_a_lookup_error():
    assert set(BUILTIN) <= set(scoring.codes())
    with pytest.raises(LookupError, match="unknown instrument 'bdi'"):
        scoring.get("bdi")


# --- clinics' own instruments -----------------------------------------------------------------

TINY = {
    "code": "tiny",
    "version": "0.1",
    "name": "Tiny test scale",
    "source": "Written for this test.",
    "copyright": "Public domain.",
    "text": {
        "en": {
            "intro": "Today:",
            "questions": ["Slept badly", "Felt low"],
            "options": [
                {"value": 0, "label": "No"},
                {"value": 1, "label": "A little"},
                {"value": 2, "label": "A lot"},
            ],
        },
        "es": {
            "intro": "Hoy:",
            "questions": ["Durmió mal", "Se sintió decaído(a)"],
            "options": [
                {"value": 0, "label": "No"},
                {"value": 1, "label": "Un poco"},
                {"value": 2, "label": "Mucho"},
            ],
        },
    },
    "bands": [
        {"code": "low", "label": "Low", "low": 0, "high": 1},
        {"code": "high", "label": "High", "low": 2, "high": 4},
    ],
    "urgent": [{"question": 2, "min_value": 2, "reason": "Felt low a lot"}],
}


def write(directory, data, name="tiny.json"):
    path = directory / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_a_valid_extra_instrument_loads_beside_the_builtin_ones(tmp_path, settings):
    write(tmp_path, TINY)
    settings.EXTRA_INSTRUMENTS_DIR = str(tmp_path)
    scoring.reload()

    assert scoring.codes() == ("gad7", "phq9", "tiny")
    tiny = scoring.get("tiny")
    assert tiny.max_total == 4
    assert [q.text for q in tiny.questions("es")] == ["Durmió mal", "Se sintió decaído(a)"]
    score = tiny.score({"q1": "0", "q2": "2"})
    assert (score.total, score.band.code, score.urgent_reasons) == (2, "high", ("Felt low a lot",))


def test_the_environment_names_the_directory_when_settings_do_not(tmp_path, monkeypatch):
    write(tmp_path, TINY)
    monkeypatch.setenv("EXTRA_INSTRUMENTS_DIR", str(tmp_path))
    scoring.reload()
    assert "tiny" in scoring.codes()


def test_instruments_are_cached_until_reloaded(tmp_path, settings):
    settings.EXTRA_INSTRUMENTS_DIR = str(tmp_path)
    assert "tiny" not in scoring.codes()
    write(tmp_path, TINY)
    assert "tiny" not in scoring.codes()
    scoring.reload()
    assert "tiny" in scoring.codes()


def broken(change):
    data = copy.deepcopy(TINY)
    change(data)
    return data


def _set(path, value):
    def change(data):
        *parents, last = path
        for key in parents:
            data = data[key]
        data[last] = value

    return change


BROKEN_FILES = {
    "missing key": (lambda d: d.pop("copyright"), "missing the key 'copyright'"),
    "unknown key": (_set(["urgnet"], []), "unknown key(s) 'urgnet'"),
    "band gap": (_set(["bands", 1, "low"], 3), "without gaps: nothing covers 2..2"),
    "band overlap": (_set(["bands", 1, "low"], 1), "without overlaps"),
    "band short of max": (_set(["bands", 1, "high"], 3), "the last band ends at 3"),
    "band past max": (_set(["bands", 1, "high"], 5), "cover 0..4 exactly"),
    "band not from zero": (_set(["bands", 0, "low"], 1), "nothing covers 0..0"),
    "options with a gap": (
        _set(["text", "en", "options", 2, "value"], 3),
        "values must be whole numbers without gaps",
    ),
    "languages disagree on questions": (
        _set(["text", "es", "questions"], ["Durmió mal"]),
        "language 'es' has 1 questions but 'en' has 2",
    ),
    "languages disagree on options": (
        _set(["text", "es", "options"], [{"value": 0, "label": "No"}, {"value": 1, "label": "Sí"}]),
        "language 'es' lists option values [0, 1] but 'en' lists [0, 1, 2]",
    ),
    "no english": (lambda d: d["text"].pop("en"), "no 'en' entry"),
    "urgent names a missing question": (
        _set(["urgent", 0, "question"], 3),
        "names question 3, which does not exist",
    ),
    "urgent threshold no answer reaches": (
        _set(["urgent", 0, "min_value"], 5),
        "min_value 5 is not an answer value of question 2",
    ),
    "value that is not a number": (
        _set(["text", "en", "options", 0, "value"], "0"),
        "must be a whole number",
    ),
    "code unlike the file name": (_set(["code"], "small"), "must match the file's name ('tiny')"),
}


@pytest.mark.parametrize("case", BROKEN_FILES)
def test_a_broken_extra_file_is_refused_naming_the_file_and_the_rule(case, tmp_path, settings):
    change, rule = BROKEN_FILES[case]
    path = write(tmp_path, broken(change))
    settings.EXTRA_INSTRUMENTS_DIR = str(tmp_path)
    scoring.reload()
    with pytest.raises(InstrumentError) as caught:
        scoring.codes()
    assert caught.value.path == str(path)
    assert str(path) in str(caught.value)
    assert rule in str(caught.value)


def test_a_file_that_is_not_json_is_refused_with_its_line(tmp_path, settings):
    path = write(tmp_path, '{"code": "tiny",\n  oops}')
    settings.EXTRA_INSTRUMENTS_DIR = str(tmp_path)
    scoring.reload()
    with pytest.raises(InstrumentError, match=r"is not valid JSON: .* line 2") as caught:
        scoring.get("phq9")
    assert caught.value.path == str(path)


def test_an_extra_file_cannot_replace_a_builtin_instrument(tmp_path, settings):
    write(tmp_path, {**TINY, "code": "phq9"}, name="phq9.json")
    settings.EXTRA_INSTRUMENTS_DIR = str(tmp_path)
    scoring.reload()
    with pytest.raises(InstrumentError, match="code 'phq9' is already used by"):
        scoring.codes()


def test_a_directory_that_does_not_exist_is_an_error_not_silence(tmp_path, settings):
    settings.EXTRA_INSTRUMENTS_DIR = str(tmp_path / "nowhere")
    scoring.reload()
    with pytest.raises(InstrumentError, match="names no directory"):
        scoring.codes()
