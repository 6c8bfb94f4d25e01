"""Settings from the environment.

Embedded default (no variables set): SQLite and a filesystem Celery broker under var/,
an in-process notifier. Production: DATABASE_URL, REDIS_URL, SECRET_KEY, ALLOWED_HOSTS.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PAWPRINT_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
EMBEDDED = env_bool("PAWPRINT_EMBEDDED", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "") or ("embedded-insecure-key-change-me" if EMBEDDED else "")
# Outside the embedded mode, sessions and CSRF tokens rest on it: a missing, placeholder or short key stops start-up.
if not EMBEDDED and (
    len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith(("change-me", "django-insecure"))
):
    raise RuntimeError(
        "SECRET_KEY must be set outside the embedded mode, to at least 50 random characters "
        '(python -c "import secrets; print(secrets.token_urlsafe(50))")'
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
ADMINS = [("Admin", email) for email in env_list("ADMIN_EMAILS", "")]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "django_prometheus",
    "health_check",
    "projects",
    "traces",
    "daemons",
    "apimodels",
    "alerts",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "controlplane.middleware.StaticFilesMiddleware",
    "controlplane.middleware.request_checks_middleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "controlplane.error_handlers.ConsoleErrorsMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "controlplane.urls"
WSGI_APPLICATION = "controlplane.wsgi.application"
ASGI_APPLICATION = "controlplane.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            "libraries": {"console": "controlplane.templatetags.console"},
        },
    }
]

DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'pawprint.sqlite3'}")
# Under ASGI each request's sync code runs in a thread of its own: a persistent connection (CONN_MAX_AGE > 0)
# would stay open in every such thread. So each request gives its connection back when it ends (and a held long
# poll as soon as it has read): to a pool of at most DATABASE_POOL_SIZE per process on PostgreSQL, where opening
# a connection per request would cost a server process each (bench/RESULTS.md, "Fan-out at fleet scale").
# DATABASE_POOL_SIZE=0 turns the pool off (a pooler such as PgBouncer in front of PostgreSQL does that job).
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
DATABASE_POOL_SIZE = int(os.environ.get("DATABASE_POOL_SIZE", 8))
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DATABASE_POOL_SIZE:
    DATABASES["default"]["OPTIONS"] = {"pool": {"min_size": 1, "max_size": DATABASE_POOL_SIZE, "timeout": 20}}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the Celery worker writes.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A file, not memory, so that a Celery worker process in end-to-end tests sees it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "projects.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "project-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# Security behind a TLS-terminating proxy (README, "Running it for real"): `manage.py check --deploy` is clean
# with SECURE_COOKIES=1 SECURE_SSL_REDIRECT=1 SECURE_HSTS_SECONDS=31536000 SECURE_HSTS_PRELOAD=1.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# Load balancers and Prometheus probe these over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^health/$", r"^metrics$"]
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Console sign-in: this many wrong passwords for one username from one address, then a wait of LOGIN_LOCKOUT.
LOGIN_MAX_FAILURES = 10
LOGIN_LOCKOUT = timedelta(minutes=15)

# Uploads: HAR files may be large; witness batches are bounded separately.
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 8 * 1024 * 1024
WITNESS_BATCH_MAX_BYTES = int(os.environ.get("WITNESS_BATCH_MAX_BYTES", 5 * 1024 * 1024))
WITNESS_BATCH_MAX_ENTRIES = int(os.environ.get("WITNESS_BATCH_MAX_ENTRIES", 1000))
HAR_UPLOAD_MAX_BYTES = int(os.environ.get("HAR_UPLOAD_MAX_BYTES", 50 * 1024 * 1024))
# Bodies of /api/ requests (413 past it; for gzip, inflated): API_BODY_MAX_BYTES unless the endpoint is named in
# API_BODY_LIMITS, with the setting that holds its limit. The long poll takes no more than a list of trace ids.
API_BODY_MAX_BYTES = 256 * 1024
LONG_POLL_MAX_BYTES = 64 * 1024
API_BODY_LIMITS = {
    "api:trace-witnesses": "WITNESS_BATCH_MAX_BYTES",
    "api:trace-har-upload": "HAR_UPLOAD_MAX_BYTES",
    "api:daemon-long-poll": "LONG_POLL_MAX_BYTES",
}
WITNESS_GRACE = timedelta(seconds=int(os.environ.get("WITNESS_GRACE_SECONDS", 300)))
WITNESS_RETENTION = timedelta(days=int(os.environ.get("WITNESS_RETENTION_DAYS", 30)))
DAEMON_DELETE_AFTER = timedelta(days=7)
LONG_POLL_SECONDS = float(os.environ.get("LONG_POLL_SECONDS", 25))
# One daemon's polls a minute before 429: a poll replies at once only on a change, so more is a loop.
DAEMON_POLLS_PER_MINUTE = int(os.environ.get("DAEMON_POLLS_PER_MINUTE", 30))
HEARTBEAT_INTERVAL_SECONDS = 20

REDIS_URL = os.environ.get("REDIS_URL", "")
# Throttle counters must be shared by all web processes: Redis when there is one.
CACHES = {
    "default": (
        {"BACKEND": "controlplane.cache.FailOpenRedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "projects.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["projects.auth.FullAccess"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "controlplane.error_handlers.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "controlplane.parsers.JsonParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "UNAUTHENTICATED_USER": None,
    # Daemon traffic per user (all their daemons together); over it: 429 with Retry-After. A fleet of 2,000
    # daemons heartbeats 6,000 times a minute, and 20,000 entries/s are 6,000 batches of 200.
    "DEFAULT_THROTTLE_RATES": {
        "ingest": os.environ.get("INGEST_RATE", "30000/min"),
        "poll": os.environ.get("POLL_RATE", "6000/min"),
    },
    # `?format=yaml` on the OpenAPI export is ours, not DRF's renderer switch.
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Pawprint API",
    "DESCRIPTION": (
        "Control plane for API observability. Users manage projects, traces and API models with a session or a "
        "`full`-scope API key; daemons heartbeat, long-poll for traces to capture and upload witnesses with any "
        'key. Errors are JSON `{"error": {"code", "message", "field"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Swagger UI served by us (whitenoise), not from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "daemons.api.document_long_poll",
        "controlplane.schema.describe_path_parameters",
    ],
    "ENUM_NAME_OVERRIDES": {
        "AlertChannelKindEnum": "alerts.models.AlertChannel.Kind",
        "MonitorKindEnum": "alerts.models.Monitor.Kind",
        "DeliveryStatusEnum": "alerts.models.Delivery.Status",
        "AlertEventEnum": "alerts.models.Event",
        "TraceStatusEnum": [("active", "active"), ("stopped", "stopped"), ("finished", "finished")],
    },
}

CELERY_BROKER_URL = REDIS_URL or "filesystem://"
# The longest model build allowed (millions of witnesses at ~10,000/s). Redis redelivers an unacknowledged
# message after the visibility timeout, which outlasts it, so a redelivered build is never still running
# elsewhere (the build's claim relies on that); beat re-queues a build whose worker died long before.
MODEL_BUILD_TIME_LIMIT = 2 * 3600
if REDIS_URL:
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": MODEL_BUILD_TIME_LIMIT + 600}
else:
    _broker_dir = VAR_DIR / "celery-broker"
    _broker_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "store_processed": False,
        "control_folder": str(_broker_dir / "control"),
    }
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "structured": {
            "format": "ts=%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)s",
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "structured"},
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
        },
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"handlers": ["console", "mail_admins"], "propagate": False},
        # Its debug lines carry the paths of webhook URLs, and a Slack URL's path is its token.
        "urllib3": {"level": "WARNING"},
    },
}
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
# Where the file backend (the embedded `make run` uses it) writes each mail.
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", 25))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Pawprint <alerts@pawprint.localhost>")

# Alerts. Console links in notifications start with SITE_URL.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")
# Webhooks to private, loopback or link-local addresses are refused unless this is on (`make run` turns it on).
ALERTS_ALLOW_PRIVATE_URLS = env_bool("ALERTS_ALLOW_PRIVATE_URLS", False)
ALERTS_TIMEOUT_SECONDS = float(os.environ.get("ALERTS_TIMEOUT_SECONDS", 5))
ALERTS_MAX_ATTEMPTS = int(os.environ.get("ALERTS_MAX_ATTEMPTS", 6))
# Retries wait this, then twice as long each time (10 s, 20 s, … 160 s with the defaults).
ALERTS_RETRY_BASE_SECONDS = float(os.environ.get("ALERTS_RETRY_BASE_SECONDS", 10))
