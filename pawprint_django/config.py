"""Settings: `PAWPRINT_*` preferred, Akita's `AKITA_*` names accepted; Django settings first, then the environment."""

import logging
import os
import platform
from dataclasses import dataclass

from django.conf import settings

logger = logging.getLogger("pawprint_django")

MIB = 1024 * 1024


@dataclass(frozen=True)
class Config:
    """How the middleware of this process reaches the agent, and how much it may hold."""

    project: str  # the Pawprint project (Akita's service name)
    client_name: str = platform.node()
    agent: str = "127.0.0.1:50080"  # host:port, like AKITA_DAEMON_HOST
    max_queue: int = 1000  # entries waiting for the agent; beyond, new ones are dropped and counted
    max_queue_bytes: int = 16 * MIB
    max_body_bytes: int = MIB  # larger bodies are left out of the entry (their size is kept)
    retry_seconds: float = 30.0  # how long a batch is retried while the agent is down or busy


# our name, then Akita's name, for each setting
NAMES = {
    "project": ("PAWPRINT_PROJECT", "AKITA_SERVICE_NAME"),
    "client_name": ("PAWPRINT_CLIENT_NAME", "AKITA_MIDDLEWARE_NAME"),
    "agent": ("PAWPRINT_AGENT", "AKITA_DAEMON_HOST"),
    "max_queue": ("PAWPRINT_MAX_QUEUE", "AKITA_MAX_QUEUE_LEN"),
    "max_queue_bytes": ("PAWPRINT_MAX_QUEUE_BYTES",),
    "max_body_bytes": ("PAWPRINT_MAX_BODY_BYTES",),
    "retry_seconds": ("PAWPRINT_RETRY_SECONDS",),
}


def _setting(names: tuple[str, ...]) -> tuple[str, object]:
    """(name, value) of the first setting, then environment variable, that is set; ("", None) if none is."""
    for name in names:
        if getattr(settings, name, None) not in (None, ""):
            return name, getattr(settings, name)
    for name in names:
        if os.environ.get(name):
            return name, os.environ[name]
    return "", None


def config_from_settings() -> Config | None:
    """The configuration, or None (after a warning) when no project is set: the middleware then steps aside."""
    values: dict[str, object] = {}
    for field, names in NAMES.items():
        name, value = _setting(names)
        if value is None:
            continue
        default = getattr(Config, field, "")
        try:
            converted = type(default)(value)
            if isinstance(converted, int | float) and converted <= 0:
                raise ValueError(value)
            values[field] = converted
        except (TypeError, ValueError):
            kind = "string" if isinstance(default, str) else f"positive {type(default).__name__}"
            logger.warning("ignoring %s=%r, expected a %s", name, value, kind)
    if not values.get("project"):
        logger.warning("set PAWPRINT_PROJECT (or AKITA_SERVICE_NAME); the middleware is off")
        return None
    return Config(**values)  # type: ignore[arg-type]
