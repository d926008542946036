"""Settings for the test suite: the development defaults, plus what only tests need.

The suite runs on the development defaults (DEBUG on at import, so the development secret key is
accepted; Django's test runner still runs each test with DEBUG off). Production settings are
tested in fresh interpreters (tests/backend/core/test_settings_guard.py).
"""

from __future__ import annotations

import os

os.environ.setdefault("DEBUG", "true")

from backend.settings import *  # noqa: F403
from backend.settings import DATABASES, STORAGES, VAR_DIR

# Pages render without collectstatic here: no manifest to look hashed names up in.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not the in-memory default: Celery worker threads in tests need their own
    # connections to the same database, with WAL and a busy timeout rather than shared-cache
    # table locks. Named per process so that parallel test runs never share (and corrupt) one.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-aftercare-{os.getpid()}.sqlite3")}

# Where the Twilio SDK sends its requests: a local test server (tests/backend/reminders/servers.py).
TWILIO_API_BASE_URL = os.environ.get("TWILIO_API_BASE_URL", "")
