"""Which language a patient's page is shown in.

The patient's own setting decides, unless they chose another with the switch on the page
(Django's ``set_language`` view, which keeps the choice in the language cookie). The cookie holds
a language code only, so a shared computer learns nothing from it but that.

Pages rendered inside ``patient_page`` show the switch (templates/pages/base.html reads
``request.page_language``); staff pages, which are English only, do not.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.views import defaults

SUPPORTED = frozenset(code for code, _name in settings.LANGUAGES)


def page_language(request: HttpRequest | None, preferred: str | None) -> str:
    """The cookie's choice if it is one we have, else the patient's language, else English."""
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) if request is not None else None
    for code in (chosen, preferred):
        if code in SUPPORTED:
            return code
    return settings.LANGUAGE_CODE


@contextlib.contextmanager
def patient_page(request: HttpRequest, preferred: str | None) -> Iterator[str]:
    """Render the rest of the request in the page's language (gettext and template tags alike)."""
    language = page_language(request, preferred)
    with translation.override(language):
        request.LANGUAGE_CODE = language
        request.page_language = language
        yield language


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 404 page, in the language the visitor chose with the switch (else English): a
    patient who follows a stale address reads it in their language."""
    with patient_page(request, None):
        return defaults.page_not_found(request, exception)
