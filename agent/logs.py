"""Structured log lines (`ts=… level=… event=… key=value`) on stderr, some of them at most once a minute."""

import logging
import sys
import threading
import time

logger = logging.getLogger("agent")


def _quoted(value: object) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' "=\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


def log_event(level: int, event: str, **fields: object) -> None:
    """Log one event with its fields as `key=value` pairs."""
    if logger.isEnabledFor(level):
        pairs = " ".join(f"{key}={_quoted(value)}" for key, value in fields.items())
        logger.log(level, "event=%s%s", event, f" {pairs}" if pairs else "")


class EveryMinute:
    """Whether a recurring condition (any string key) is due to be logged again: at once, then once a minute."""

    def __init__(self, interval: float = 60.0) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def due(self, key: str) -> bool:
        """True the first time, then again once `interval` seconds have passed since it last was."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                return False
            self._last[key] = now
            return True

    def clear(self, key: str) -> bool:
        """Forget a condition (it is over); whether it had been logged."""
        with self._lock:
            return self._last.pop(key, None) is not None


def configure_logging(level: str = "INFO") -> None:
    """Send the agent's log lines to stderr as `ts=… level=… logger=agent event=…`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("ts=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False
