"""`PawprintMiddleware`: put it first in `MIDDLEWARE`; WSGI and ASGI."""

import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponseBase

from agent.logs import EveryMinute
from pawprint_django.capture import exchange_of
from pawprint_django.config import config_from_settings
from pawprint_django.link import AgentLink, link_for

logger = logging.getLogger("pawprint_django")
_every_minute = EveryMinute()

GetResponse = Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]]


class PawprintMiddleware:
    """Sends each request and response to the agent while a trace is active; never raises into the app."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        config = config_from_settings()
        if config is None:
            raise MiddlewareNotUsed("PAWPRINT_PROJECT is not set")
        self.get_response = get_response
        self.config = config
        self._link: AgentLink = link_for(config)
        self._pid = os.getpid()
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self._async:
            return self.__acall__(request)
        started, clock = time.time(), time.perf_counter()
        response = cast(HttpResponseBase, self.get_response(request))
        self._capture(request, response, started, clock)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        started, clock = time.time(), time.perf_counter()
        response = await cast(Awaitable[HttpResponseBase], self.get_response(request))
        self._capture(request, response, started, clock)
        return response

    def _capture(self, request: HttpRequest, response: HttpResponseBase, started: float, clock: float) -> None:
        traces: tuple[str, ...] = ()
        try:
            if self._pid != os.getpid():  # forked after start-up (gunicorn --preload): this process's own link
                self._link, self._pid = link_for(self.config), os.getpid()
            traces = self._link.capturing()
            if traces:
                elapsed_ms = (time.perf_counter() - clock) * 1000
                self._link.offer(
                    exchange_of(
                        request,
                        response,
                        traces=traces,
                        started=started,
                        elapsed_ms=elapsed_ms,
                        max_body_bytes=self.config.max_body_bytes,
                    )
                )
        except Exception as error:  # whatever happens here, the app's response goes out untouched
            self._link.count_drop(traces, "capture_failed")
            if _every_minute.due("capture"):
                logger.warning("cannot capture %s %s: %r", request.method, request.path, error)
