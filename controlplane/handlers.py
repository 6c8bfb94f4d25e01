"""The ASGI handler: Django's, except for views marked `served_on_the_event_loop` (the daemons' long poll).

Django's handler gives every request a thread of its own (`ThreadSensitiveContext`) and sends request_started and
request_finished, whose receivers are sync: two thread hops per request, plus a thread started and joined. A Start
wakes thousands of polls that re-poll at once, so hundreds of such threads convoyed on the GIL and the Start's own
reply waited behind them (bench/RESULTS.md, "Fan-out at fleet scale"). A marked view is served on the event loop
alone: the request checks, the view, the reply; no middleware, no signals, no thread. Its sync steps go to the loop's
shared executor and give their database connection back themselves (`controlplane.notify.run_sync`).
"""

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any, cast

from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import Resolver404, ResolverMatch, resolve, set_script_prefix
from django.utils.log import log_response

from controlplane.middleware import check_request
from controlplane.notify import on_the_event_loop


def served_on_the_event_loop(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark an async view to be served by the event loop alone (see the module). Such a view serves JSON to API
    keys: no session, CSRF, cookies, messages or HTML, and it is left out of the Prometheus request metrics."""
    view.served_on_the_event_loop = True  # type: ignore[attr-defined]
    return view


class AsgiHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        # An exception becomes the 500 page (JSON for the API), as in Django's handler
        self.serve_marked = cast(
            Callable[[HttpRequest], Coroutine[Any, Any, HttpResponseBase]],
            convert_exception_to_response(self._marked_view_response),
        )

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        match = _marked_view(scope) if scope["type"] == "http" else None
        if match is None:
            await super().__call__(scope, receive, send)
        else:
            await self.handle_on_the_loop(match, scope, receive, send)

    async def handle_on_the_loop(
        self, match: ResolverMatch, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        """Django's `handle` without the signals: the reply, unless the client leaves first (the view is
        cancelled then)."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        on_the_event_loop.set(True)  # this task's context: the request's own
        with contextlib.closing(body_file):
            set_script_prefix(get_script_prefix(scope))
            request, refused = self.create_request(scope, body_file)
            response: HttpResponseBase | None = refused
            if request is not None:
                request.resolver_match = match
                serving = asyncio.create_task(self.serve_marked(request))
                leaving = asyncio.create_task(self.listen_for_disconnect(receive))
                await asyncio.wait([serving, leaving], return_when=asyncio.FIRST_COMPLETED)
                for task in (serving, leaving):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, RequestAborted):
                        await task
                if serving.cancelled():
                    return
                response = serving.result()
            assert response is not None
            await self.send_response(response, send)

    async def _marked_view_response(self, request: HttpRequest) -> HttpResponse:
        match = request.resolver_match
        assert match is not None
        response: HttpResponse = check_request(request) or await match.func(request, *match.args, **match.kwargs)
        response.headers.setdefault("Content-Length", str(len(response.content)))  # as CommonMiddleware does
        if response.status_code >= 400:
            log_response("%s: %s", response.reason_phrase, request.path, response=response, request=request)
        return response


def _marked_view(scope: dict[str, Any]) -> ResolverMatch | None:
    path = scope["path"].removeprefix(get_script_prefix(scope).rstrip("/"))
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return match if getattr(match.func, "served_on_the_event_loop", False) else None
