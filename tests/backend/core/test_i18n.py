"""Patient pages in English and Spanish (Django's i18n; the catalogue is locale/es).

The catalogue is complete (every msgid translated, none fuzzy) and the compiled one is what Django
loads. Every patient page, rendered for a Spanish-speaking patient, is in Spanish from ``<html
lang>`` down: no visible text of the English page is left on it but proper nouns and numbers. The
switch on the page overrides the patient's own language, and the choice holds on the next page.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from backend.measures import services as measure_services
from backend.plans import readiness
from backend.plans.models import PlanItem
from backend.reminders import links
from tests import factories

ROOT = Path(settings.BASE_DIR)
CATALOGUE = ROOT / "locale" / "es" / "LC_MESSAGES" / "django.po"
COMPILED = CATALOGUE.with_suffix(".mo")

# --- the catalogue ------------------------------------------------------------------------------


def _entries(po: Path) -> list[dict]:
    """The .po file's entries: {"ctx", "id", "str", "fuzzy"} (the header left out)."""
    entries, current, field = [], None, None
    for line in [*po.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if current is not None and current["id"]:
                entries.append(current)
            current, field = None, None
            continue
        if current is None:
            current = {"ctx": None, "id": "", "str": "", "fuzzy": False}
        if line.startswith("#,") and "fuzzy" in line:
            current["fuzzy"] = True
        elif line.startswith("#"):
            continue
        elif match := re.match(r'(msgctxt|msgid|msgstr) (".*")$', line):
            field = {"msgctxt": "ctx", "msgid": "id", "msgstr": "str"}[match[1]]
            current[field] = (current[field] or "") + _unquote(match[2])
        elif line.startswith('"') and field:
            current[field] += _unquote(line)
    return entries


def _unquote(text: str) -> str:
    """A .po string literal's text (its escapes are C's, which Python's literals read alike)."""
    return ast.literal_eval(text)


def test_every_message_in_the_spanish_catalogue_is_translated_and_none_is_fuzzy():
    entries = _entries(CATALOGUE)
    assert len(entries) > 60  # the patient pages' words, not an empty file
    assert [e["id"] for e in entries if not e["str"]] == []
    assert [e["id"] for e in entries if e["fuzzy"]] == []
    msgfmt = shutil.which("msgfmt")
    assert msgfmt, "msgfmt is missing: `make install` installs Debian's gettext"
    stats = subprocess.run(
        [msgfmt, "--check", "--statistics", "-o", "/dev/null", str(CATALOGUE)],
        capture_output=True,
        text=True,
        check=True,
    ).stderr.strip()
    assert stats == f"{len(entries)} translated messages.", stats


def test_the_compiled_catalogue_is_the_one_django_loads_and_matches_the_po_file():
    assert COMPILED.exists(), "run `make install` (compilemessages) first"
    assert COMPILED.stat().st_mtime >= CATALOGUE.stat().st_mtime, "locale/es .mo is older: make"
    with translation.override("es"):
        for entry in _entries(CATALOGUE):
            if entry["ctx"] is not None:
                loaded = translation.pgettext(entry["ctx"], entry["id"])
            else:
                loaded = translation.gettext(entry["id"])
            assert loaded == entry["str"], entry["id"]
    with translation.override("en"):
        assert translation.gettext("Back to my schedule") == "Back to my schedule"


# --- the pages ----------------------------------------------------------------------------------


class _Visible(HTMLParser):
    """The text a reader sees (or hears): text nodes outside <style>/<script>, the <title>, and
    the labels of controls (button and input values, aria-labels, titles)."""

    HIDDEN = {"style", "script"}

    def __init__(self):
        super().__init__()
        self.texts: list[str] = []
        self.lang: str | None = None
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.lang = attrs.get("lang")
        if tag in self.HIDDEN:
            self._skip += 1
        for name in ("aria-label", "title", "placeholder", "alt"):
            if attrs.get(name):
                self.texts.append(attrs[name].strip())

    def handle_endtag(self, tag):
        if tag in self.HIDDEN:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.texts.append(" ".join(data.split()))


def _read(response) -> _Visible:
    parser = _Visible()
    parser.feed(response.content.decode())
    return parser


def _allowed(text: str, proper: set[str]) -> bool:
    """Proper nouns, numbers and punctuation read the same in both languages."""
    if re.fullmatch(r"[\d\W_]+", text):
        return True
    return text in proper or any(text == p or text.startswith(p + " ") for p in proper)


# What the patient writes is theirs, in whatever language they wrote it.
OWN_WORDS = ("Slept well", "Feeling steady")


def _proper_nouns(*patients) -> set[str]:
    # The product's name, and each language's own name (the switch and the language choice).
    nouns = {"Aftercare", "✓", *OWN_WORDS, *(name for _code, name in settings.LANGUAGES)}
    for patient in patients:
        nouns |= {patient.first_name, patient.clinic.name, patient.time_zone}
    for instrument in ("phq9", "gad7"):
        # A published instrument's name and its authors' attribution are quoted as published.
        found = measure_services.scoring.get(instrument)
        nouns |= {found.name, found.copyright}
    return nouns


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


@pytest.fixture()
def people(clinic, patient, make_plan):
    """An English-speaking and a Spanish-speaking patient of one clinic, on the same plan."""
    english = patient
    spanish = factories.PatientFactory(
        clinic=clinic, first_name="Lucía", time_zone=english.time_zone, language="es"
    )
    plans = {"en": make_plan(patient=english), "es": make_plan(patient=spanish)}
    return {"en": english, "es": spanish}, plans


def _item(plan, kind: str, **extra) -> PlanItem:
    return plan.items.filter(kind=kind, **extra).order_by("start").first()


def _pages(patient, plan) -> dict[str, tuple[str, str, dict | None]]:
    """Each patient page: (method, path, form data)."""
    assessment = next(
        i
        for i in plan.items.filter(kind=PlanItem.Kind.ASSESSMENT).order_by("start")
        if measure_services.instruments_for(i)
    )
    other = plan.items.filter(
        kind__in=[PlanItem.Kind.INTEGRATION, PlanItem.Kind.PREPARATION]
    ).first()
    dosing = _item(plan, PlanItem.Kind.DOSING)
    check_in = _item(plan, PlanItem.Kind.CHECK_IN)
    item = lambda i: _path(links.patient_item_url(patient, i.pk))  # noqa: E731
    pages = {
        "schedule": ("get", _path(links.patient_schedule_url(patient)), None),
        "preferences": ("get", _path(links.patient_schedule_url(patient)) + "preferences/", None),
        "preferences saved": (
            "post",
            _path(links.patient_schedule_url(patient)) + "preferences/",
            {
                "language": patient.language,
                "prefers_email": "on",
                "prefers_sms": "on",
                "quiet_start": "21:00",
                "quiet_end": "08:00",
                "email_consent": "on",
                "sms_consent": "on",
            },
        ),
        "journal": ("get", _path(links.patient_journal_url(patient)), None),
        "journal refused": ("post", _path(links.patient_journal_url(patient)), {"text": " "}),
        "journal saved": (
            "post",
            _path(links.patient_journal_url(patient)),
            {"text": OWN_WORDS[0], "shared": "on"},
        ),
        "questionnaire": ("get", item(assessment), None),
        "questionnaire incomplete": ("post", item(assessment), {"phq9-q1": "1"}),
        "check-in note": ("get", item(check_in), None),
        "check-in note sent": ("post", item(check_in), {"text": OWN_WORDS[1]}),
        "readiness": ("get", item(dosing), None),
        "readiness not confirmed": ("post", item(dosing), {"fasting": "on"}),
        "unsubscribe": ("get", _path(links.unsubscribe_url(patient.pk)), None),
        "unsubscribe done": ("post", _path(links.unsubscribe_url(patient.pk)), {}),
    }
    if other is not None:
        pages["item"] = ("get", item(other), None)
    return pages


def _get(client, method: str, path: str, data):
    response = client.post(path, data) if method == "post" else client.get(path)
    assert response.status_code in (200, 400), (path, response.status_code)
    return response


@pytest.mark.django_db
def test_every_patient_page_is_in_the_patients_language_with_no_english_left(client, people):
    patients, plans = people
    proper = _proper_nouns(*patients.values())
    english_pages = _pages(patients["en"], plans["en"])
    spanish_pages = _pages(patients["es"], plans["es"])
    assert set(english_pages) == set(spanish_pages)
    for name, (method, path, data) in english_pages.items():
        english = _read(_get(client, method, path, data))
        spanish_method, spanish_path, spanish_data = spanish_pages[name]
        spanish = _read(_get(client, spanish_method, spanish_path, spanish_data))
        assert (english.lang, spanish.lang) == ("en", "es"), name
        assert len(spanish.texts) >= 5, name
        left = [t for t in english.texts if t in spanish.texts and not _allowed(t, proper)]
        assert left == [], f"{name}: English left on the Spanish page: {left}"
        assert "Idioma:" in spanish.texts and "English" in spanish.texts, name
        assert "Language:" in english.texts and "Español" in english.texts, name


@pytest.mark.django_db
def test_refused_links_and_the_404_page_follow_the_patient_or_the_switch(client, people):
    patients, _plans = people
    spanish = patients["es"]
    url = _path(links.patient_schedule_url(spanish))
    spanish.link_generation += 1
    spanish.save(update_fields=["link_generation"])

    replaced = client.get(url)
    assert replaced.status_code == 410
    assert _read(replaced).lang == "es" and "Este enlace se ha reemplazado" in replaced.text
    forged = client.get("/p/forged-token/")
    assert _read(forged).lang == "en" and "This link does not work" in forged.text
    invalid = client.get("/unsubscribe/forged/")
    assert invalid.status_code == 400 and "This link is not valid any more" in invalid.text
    missing = client.get("/no-such-page/")
    assert missing.status_code == 404 and _read(missing).lang == "en"

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    assert "Este enlace no funciona" in client.get("/p/forged-token/").text
    assert "Este enlace ya no es válido" in client.get("/unsubscribe/forged/").text
    missing = client.get("/no-such-page/")
    assert _read(missing).lang == "es" and "Esta página no existe" in missing.text


def _switch(client, page_html: str, language: str):
    """Submit the page's own language switch, as its button does: the form's action, its hidden
    ``next`` and the button's name and value."""
    form = re.search(r'<form action="([^"]+)" method="post" class="language-switch".*?</form>',
                     page_html, re.S)  # fmt: skip
    assert form, "no language switch on the page"
    next_url = re.search(r'name="next" value="([^"]+)"', form[0])[1]
    button = re.search(rf'<button name="language" value="{language}"', form[0])
    assert button, f"no {language} button in the switch"
    return client.post(form[1], {"next": next_url, "language": language})


@pytest.mark.django_db
def test_the_switch_overrides_the_patients_language_and_holds_on_the_next_page(client, people):
    patients, _plans = people
    english = patients["en"]
    schedule = _path(links.patient_schedule_url(english))
    first = client.get(schedule)
    assert _read(first).lang == "en"

    switched = _switch(client, first.text, "es")
    assert switched.status_code == 302 and switched["Location"] == schedule
    again = client.get(schedule)
    assert _read(again).lang == "es" and "Su calendario" in again.text
    # The choice holds on the patient's other pages, and the patient's own setting is unchanged.
    journal = client.get(_path(links.patient_journal_url(english)))
    assert _read(journal).lang == "es" and "Mi diario" in journal.text
    english.refresh_from_db()
    assert english.language == "en"

    # A Spanish-speaking patient switches to English the same way.
    client.cookies.clear()
    spanish = patients["es"]
    page = client.get(_path(links.patient_schedule_url(spanish)))
    assert _read(page).lang == "es"
    _switch(client, page.text, "en")
    page = client.get(_path(links.patient_schedule_url(spanish)))
    assert _read(page).lang == "en" and "Your schedule" in page.text


@pytest.mark.django_db
def test_the_switch_never_sends_anyone_off_the_site(client, people):
    response = client.post(
        "/i18n/setlang/", {"next": "https://elsewhere.example/", "language": "es"}
    )
    assert response.status_code == 302
    assert not response["Location"].startswith("https://elsewhere")


@pytest.mark.django_db
def test_spanish_pages_show_spanish_dates_statements_questionnaires_and_crisis_lines(
    client, people
):
    patients, plans = people
    spanish = patients["es"]
    page = client.get(_path(links.patient_schedule_url(spanish)))
    dates = re.findall(r"<tr><td>([^<]+)</td>", page.text)
    days = ("lun", "mar", "mié", "jue", "vie", "sáb", "dom")
    assert dates and all(d.split()[0] in days for d in dates), dates
    dosing = _item(plans["es"], PlanItem.Kind.DOSING)
    page = client.get(_path(links.patient_item_url(spanish, dosing.pk)))
    for _field, text in readiness.statements(readiness.engine_protocol_of(dosing), "es"):
        assert text in page.text
    # The English patient who chose Spanish gets the Spanish questionnaire.
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    english = patients["en"]
    assessment = next(
        i
        for i in plans["en"].items.filter(kind=PlanItem.Kind.ASSESSMENT)
        if measure_services.instruments_for(i)
    )
    page = client.get(_path(links.patient_item_url(english, assessment.pk)))
    phq9 = measure_services.scoring.get("phq9")
    assert phq9.questions("es")[0].text in page.text
    assert phq9.questions("en")[0].text not in page.text


@pytest.mark.django_db
def test_a_patient_who_chooses_spanish_in_their_preferences_reads_the_answer_in_spanish(
    client, people
):
    patients, _plans = people
    english = patients["en"]
    preferences = _path(links.patient_schedule_url(english)) + "preferences/"
    saved = client.post(
        preferences,
        {"language": "es", "prefers_email": "on", "prefers_sms": "on", "quiet_start": "21:00",
         "quiet_end": "08:00", "email_consent": "on", "sms_consent": "on"},
    )  # fmt: skip
    assert _read(saved).lang == "es" and f"Guardado. Gracias, {english.first_name}." in saved.text
    english.refresh_from_db()
    assert english.language == "es"
