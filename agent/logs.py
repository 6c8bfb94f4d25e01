"""Structured log lines (`ts=… level=… event=… key=value`) on stderr."""

import logging
import sys

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


def configure_logging(level: str = "INFO") -> None:
    """Send the agent's log lines to stderr as `ts=… level=… logger=agent event=…`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("ts=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False
