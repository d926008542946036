"""Real-browser tests: Playwright's sync API driving Debian's Chromium against pytest-django's
live_server.

Chromium comes from the system (`apt-get install chromium`, done by `make test` where the machine
allows); Playwright's own browser download is not used. Without /usr/bin/chromium the browser
tests skip with one line, unless AFTERCARE_REQUIRE_BROWSER=1 (CI), where they fail instead.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import role_groups

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 15_000


def wait_for(check, *, seconds: float = 30, what: str):
    """Poll ``check`` until it returns something true (a worker's send, a file in the outbox)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _unavailable(reason: str) -> None:
    if os.environ.get("AFTERCARE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"AFTERCARE_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(f"browser tests skipped: {reason}")


@pytest.fixture()
def browser(monkeypatch) -> Iterator:
    """A headless Chromium for one test (closed afterwards, even when the test fails)."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install playwright)")
    from django.db import connections

    # Playwright's sync API keeps an asyncio loop in this thread; Django's ORM refuses to run
    # there unless told that the calls are in fact synchronous (they are: one thread, in order).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()
            # While that loop runs, Django keeps this thread's connections apart from the usual
            # ones (asgiref treats the thread as async). Close them here, or they stay open and
            # PostgreSQL refuses to drop the test database at the end of the session.
            connections.close_all()


@pytest.fixture()
def page(browser, live_server, settings) -> Iterator:
    # The server runs on the test's clock (tests/support/clock.py), Chromium on the machine's: a
    # cookie stamped to expire two weeks after the test's "now" may already be past for the
    # browser. Session-lifetime cookies keep logins independent of the day the suite runs.
    settings.SESSION_EXPIRE_AT_BROWSER_CLOSE = True
    settings.CSRF_COOKIE_AGE = None
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1400, "height": 1000}
    )
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture()
def screenshot(page):
    """screenshot("name") saves a full-page PNG under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture()
def demo_data(settings, transactional_db):
    """The demo clinic, its staff and patients (`seed_demo`), committed for the live server.

    A transactional test starts from whatever the previous one left: those flush every table,
    including the rows data migrations load (the protocol library and the role groups). They are
    loaded again here with the migrations' own functions, idempotently.
    """
    from django.apps import apps
    from django.core.management import call_command

    library = importlib.import_module("backend.protocols.migrations.0002_builtin_library")
    library.load_library(apps, None)
    role_groups.restore(apps)
    settings.DEMO_MODE = True
    call_command("seed_demo", verbosity=0)


@pytest.fixture()
def file_outbox(live_server, settings, tmp_path) -> Path:
    """The file backends `make run` uses, writing under a fresh folder (``email/*.log``,
    ``sms/*.json``), with links in messages pointing at the live server."""
    settings.PUBLIC_BASE_URL = live_server.url
    settings.OUTBOX_DIR = str(tmp_path)
    settings.EMAIL_BACKEND = "backend.reminders.channels.email.FileAndLogBackend"
    settings.SMS_BACKEND = "backend.reminders.channels.sms.FileBackend"
    return tmp_path
