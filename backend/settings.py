"""Django settings for Aftercare, read from the environment in this one place.

DEBUG is off unless the environment turns it on (`make run` and the test settings do, for
themselves), and with DEBUG off the service refuses to start on the development secret key or an
empty ALLOWED_HOSTS, see `backend.core.checks.guard_production_settings`: a forgotten variable
fails closed instead of signing patient links with a public key.
"""

from __future__ import annotations

from pathlib import Path

import environ

from backend.core import logging as aftercare_logging
from backend.core.checks import guard_production_settings

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEV_SECRET_KEY = "aftercare-dev-only-secret-key-not-for-production"

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
DEMO_MODE = env.bool("AFTERCARE_DEMO", default=False)
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")


INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc as our own static files (docs work offline)
    "django_celery_beat",
    "phonenumber_field",
    "simple_history",
    "axes",
    "backend.core",
    "backend.clinics",
    "backend.patients",
    "backend.protocols",
    "backend.plans",
    "backend.reminders",
    "backend.measures",
    "backend.safety",
]

MIDDLEWARE = [
    "backend.core.logging.RequestIdMiddleware",  # first: every line a request logs carries its id
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "backend.core.middleware.ClinicTimeZoneMiddleware",  # staff read their clinic's clock
    "axes.middleware.AxesMiddleware",  # last: answers a locked-out login with 429
]

# Login lockout (django-axes): after AXES_FAILURE_LIMIT wrong passwords an account, and
# separately an address, is locked for AXES_COOLOFF_HOURS, for the admin and the API's token
# login alike; a successful login resets its counters.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "backend.core.client_address.client_address"
AXES_VERBOSE = False

ROOT_URLCONF = "backend.urls"
WSGI_APPLICATION = "backend.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# Embedded default: SQLite in WAL mode (readers do not block the writer, so web, worker and beat
# can share one file); IMMEDIATE transactions take the write lock up front instead of failing
# with "database is locked" on upgrade. Production: DATABASE_URL=postgres://...
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'aftercare.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    # Prepared statements, off unless DB_PREPARE_THRESHOLD is set: psycopg then prepares a query
    # once a connection has run it that many times, and PostgreSQL skips parsing and planning it.
    # They need server-side binding, which types parameters on the server (a bare `%s` in raw
    # SQL may need a cast), and a transaction-mode PgBouncer of 1.21 or later with
    # max_prepared_statements. Measured with bench/api_load.py before a deployment turns it on.
    if prepare_threshold := env.str("DB_PREPARE_THRESHOLD", default=""):
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            {"server_side_binding": True, "prepare_threshold": int(prepare_threshold)}
        )
# Behind PgBouncer in transaction pooling (a clinic network's many send workers: bench/scale_out.py)
# a connection is shared between clients from one transaction to the next, so nothing may be set
# on the session: no server-side cursors, and workers do not turn synchronous_commit off for
# their session (backend/reminders/worker_db.py); give the workers' database role
# `ALTER ROLE ... SET synchronous_commit = off` instead, which PgBouncer pools apart.
DATABASE_TRANSACTION_POOLING = env.bool("DATABASE_TRANSACTION_POOLING", default=False)
if DATABASE_TRANSACTION_POOLING:
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
# Patient pages and automatic replies are translated with gettext catalogues; `make` compiles the
# .po files into .mo (Debian's gettext), which are not committed.
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
FORMAT_MODULE_PATH = ["backend.formats"]  # times shown with their zone named

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
# WhiteNoise serves collected static files (the admin's CSS and JS) from gunicorn itself, so the
# production stack needs no separate file server.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed names (a manifest) so whitenoise serves them cached for a year, immutable; the
    # tests render pages without collectstatic and use the plain storage (settings_test).
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
LOGIN_URL = "/admin/login/"

# --- Celery ----------------------------------------------------------------------------------
# Redis is the broker. Task messages carry ids only (Redis keeps them in plain text). The
# visibility timeout must exceed the longest task plus its longest Celery retry delay, otherwise
# Redis redelivers a message a worker is still holding; see backend/celery.py for the numbers.
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery's Django fixup closes the database connection around every task unless this is set;
# reopening one per task cost more than sending a reminder. Workers instead check their
# connections before each task the way Django does per request (backend/reminders/worker_db.py).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)

# Leases of the reminder outbox (backend/reminders/outbox.py), timed by the database's clock. The
# send lease must exceed the Celery task time limit (60 s). The dispatch lease bounds how long a
# broker message lost with Redis delays its row (the recovery goal is 60 s); a row claimed again is
# still sent once.
REMINDER_DISPATCH_LEASE_S = env.int("REMINDER_DISPATCH_LEASE_S", default=45)
REMINDER_SEND_LEASE_S = env.int("REMINDER_SEND_LEASE_S", default=90)

# --- Messages --------------------------------------------------------------------------------
OUTBOX_DIR = env.path("OUTBOX_DIR", default=str(VAR_DIR / "outbox"))
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND", default="backend.reminders.channels.email.FileAndLogBackend"
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Aftercare <care@aftercare.invalid>")
ANYMAIL = env.dict("ANYMAIL", default={})

SMS_BACKEND = env.str("SMS_BACKEND", default="backend.reminders.channels.sms.FileBackend")
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")

PHONENUMBER_DEFAULT_REGION = env.str("PHONENUMBER_DEFAULT_REGION", default="US")
PHONENUMBER_DB_FORMAT = "E164"

# --- REST framework --------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "backend.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "backend.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "backend.api.errors.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "backend.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # Writes are limited per user (scope "writes"), token requests per client address ("login").
    "DEFAULT_THROTTLE_CLASSES": ["backend.api.throttles.WriteRateThrottle"],
    # Client addresses come from REMOTE_ADDR unless this many trusted proxies sit in front;
    # never from a client-supplied X-Forwarded-For.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "DEFAULT_THROTTLE_RATES": {
        "writes": env.str("API_WRITE_RATE", default="120/min"),
        "login": env.str("API_LOGIN_RATE", default="10/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Aftercare API",
    "VERSION": "1.0.0",
    "DESCRIPTION": "Treatment plans, their items and reminders. Errors have one shape: "
    '{"type": "validation_error" | "client_error" | "server_error", '
    '"errors": [{"field": ..., "code": ..., "detail": ...}]}.',
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs pages load Swagger UI and ReDoc from this service's static files, never a CDN: a
    # clinic behind a strict firewall must still read them.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "backend.api.schema.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "PlanStatusEnum": "backend.plans.models.TreatmentPlan.Status",
        "ItemStatusEnum": "backend.plans.models.PlanItem.Status",
        "ReminderStatusEnum": "backend.reminders.models.Reminder.Status",
        "ConsentMethodEnum": "backend.patients.models.ConsentMethod",
        "ItemKindEnum": "backend.plans.models.PlanItem.Kind",
        "FlagKindEnum": "backend.safety.models.Flag.Kind",
    },
}

# One JSON object per line in production (LOG_FORMAT=json, the default with DEBUG off), plain
# lines in development; either way every line carries the request or task id and is redacted of
# link tokens, addresses and numbers (backend/core/logging.py). Celery's processes use this too.
LOG_FORMAT = "json" if aftercare_logging.json_logs() else "plain"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": "backend.core.logging.RedactingFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s%(trace)s: %(message)s",
        },
        "json": {"()": "backend.core.logging.RedactingJsonFormatter"},
    },
    "filters": {
        "redact_links": {"()": "backend.core.logging.RedactLinkTokens"},
        "trace": {"()": "backend.core.logging.TraceContext"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["redact_links", "trace"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own loggers (request errors name the path; the development server logs every
        # request line) through the redacting handler only, instead of Django's default console
        # handler, which has no filter.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # lockouts are warnings; every login's bookkeeping is not
        # The Twilio SDK logs every API request's URL and headers at INFO: noise, and a risk.
        "twilio.http_client": {"level": "WARNING"},
    },
}

# /metrics and /health/detail/ (backend.core.views.operator_only): a monitoring system presents
# this as a bearer token; administrators' sessions get in without it. Unset: administrators only.
MONITORING_TOKEN = env.str("MONITORING_TOKEN", default="")

if not DEBUG:
    # HTTPS only. X-Forwarded-Proto is believed only when a trusted proxy sits in front (the same
    # NUM_PROXIES the API's client addresses use); without one, a client could claim https.
    if env.int("NUM_PROXIES", default=0) > 0:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Container and uptime probes, and Prometheus on the internal network, speak plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^health/$", r"^health/live/$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    # Preloading is a commitment about the whole domain that its owner makes, not this service:
    # off unless asked for, and the check that recommends it is silenced while it is off.
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)

# Local memory per process: the API's cache of rendered plan-detail bodies lives here (keyed on
# what the database says at each read, see api/views/plans.py), so cached patient data never
# leaves the process.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Rate-limit counters: shared by every web process when THROTTLE_CACHE_URL points at Redis
    # (production: a Redis database of its own), per process otherwise.
    "throttle": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env.str("THROTTLE_CACHE_URL"),
            "KEY_PREFIX": "throttle",
        }
        if env.str("THROTTLE_CACHE_URL", default="")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "throttle"}
    ),
}

guard_production_settings(
    debug=DEBUG,
    secret_key=SECRET_KEY,
    dev_secret_key=DEV_SECRET_KEY,
    allowed_hosts=ALLOWED_HOSTS,
    email_backend=EMAIL_BACKEND,
    anymail=ANYMAIL,
)
