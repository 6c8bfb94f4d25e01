"""Clear words for what needs a human: a refused key, an unknown project, an unreachable control plane.

Each condition is logged when it starts and then at most once a minute while it lasts, never once per call.
"""

import logging
import threading
import time

from agent.client import ApiError, TransportError
from agent.logs import EveryMinute, log_event

KEY_HINT = "check --key / PAWPRINT_KEY (or AKITA_API_KEY_ID and AKITA_API_KEY_SECRET)"


class ControlPlaneHealth:
    """Shared by the heartbeat, the polls and the uploads, so one outage gives one line a minute."""

    def __init__(self, url: str, recovered: threading.Event | None = None) -> None:
        self.url = url
        self.recovered = recovered or threading.Event()  # set when an outage ends: waiting uploads retry at once
        self._every_minute = EveryMinute()
        self._lock = threading.Lock()
        self._down_since: float | None = None

    @property
    def reachable(self) -> bool:
        return self._down_since is None

    def ok(self) -> None:
        """A call got an answer: an outage (if any) is over."""
        with self._lock:
            down_since, self._down_since = self._down_since, None
        if down_since is not None:
            self.recovered.set()
            self._every_minute.clear("unreachable")
            down_for = f"{time.monotonic() - down_since:.0f}s"
            log_event(logging.INFO, "control_plane_reachable", url=self.url, after=down_for)

    def failed(self, error: ApiError | TransportError, *, project: str = "", spooled: int | None = None) -> None:
        """A call failed; say why if it is news or a minute has passed."""
        if isinstance(error, ApiError) and error.status in (401, 403):
            self.ok()
            if self._every_minute.due(f"key-{error.status}"):
                what = "does not know this key, or it was revoked" if error.status == 401 else "refuses this key"
                log_event(
                    logging.ERROR, "api_key_refused", status=error.status, message=error.message,
                    hint=f"the control plane {what}: {KEY_HINT}; the agent keeps retrying",
                )  # fmt: skip
            return
        if isinstance(error, ApiError) and error.status == 404 and project:
            self.ok()
            if self._every_minute.due(f"project-{project}"):
                log_event(
                    logging.ERROR, "project_unknown", project=project, message=error.message,
                    hint="create the project in the console, or fix --project / the middleware's PAWPRINT_PROJECT "
                    "(AKITA_SERVICE_NAME); the agent asks again in a minute",
                )  # fmt: skip
            return
        if isinstance(error, ApiError) and error.status < 500:
            log_event(logging.WARNING, "control_plane_refused", status=error.status, message=error.message)
            return
        with self._lock:
            if self._down_since is None:
                self._down_since = time.monotonic()
            down_for = time.monotonic() - self._down_since
        if self._every_minute.due("unreachable"):
            fields: dict[str, object] = {"url": self.url, "error": error, "down_for": f"{down_for:.0f}s"}
            if spooled is not None:
                fields["spooled_batches"] = spooled
            log_event(logging.WARNING, "control_plane_unreachable", **fields, retrying="yes")
