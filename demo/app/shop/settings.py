"""The demo shop: no database, one middleware chosen by DEMO_MIDDLEWARE (`akita`, the default, or `pawprint`).

Both middlewares read the same `AKITA_*` settings, taken from environment variables of the same names.
"""

import os

SECRET_KEY = "demo-only-not-secret"  # noqa: S105 - a demo with no sessions and no database
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "shop.urls"
WSGI_APPLICATION = "shop.wsgi.application"
INSTALLED_APPS: list[str] = []
DATABASES: dict[str, dict[str, str]] = {}
# akita-django needs USE_TZ = True: with False every traced request fails (PROTOCOL.md A.8).
USE_TZ = True

MIDDLEWARES = {
    "akita": "akita_django.middleware.AkitaMiddleware",
    "pawprint": "pawprint_django.middleware.PawprintMiddleware",
}
MIDDLEWARE = [
    # First, so that it sees the final response of every other layer.
    MIDDLEWARES[os.environ.get("DEMO_MIDDLEWARE", "akita")],
    "django.middleware.common.CommonMiddleware",
]

AKITA_SERVICE_NAME = os.environ.get("AKITA_SERVICE_NAME", "demo-shop")
AKITA_MIDDLEWARE_NAME = os.environ.get("AKITA_MIDDLEWARE_NAME", "demo-django")
AKITA_DAEMON_HOST = os.environ.get("AKITA_DAEMON_HOST", "127.0.0.1:50080")
AKITA_MAX_QUEUE_LEN = int(os.environ.get("AKITA_MAX_QUEUE_LEN", "200"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "akita_django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "pawprint_django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
