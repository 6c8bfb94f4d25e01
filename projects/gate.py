"""The project gate: the one way a URL with a project in it reaches a view.

Routes are declared with `project_page` (console) or `project_api` (REST API), naming each HTTP method with
its `Access`. Before the view runs, the gate authenticates, resolves the project by id or name and checks
the user's membership: outsiders get 404 (never 403), members get 403 on owner-only methods. The view
receives the `Project` (DRF views: `self.project`), never the reference from the URL. A system check and the
access-matrix test fail for any route with a project in it that was not declared through the gate.
"""

import functools
import math
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from asgiref.sync import iscoroutinefunction
from django.contrib.auth.decorators import login_required
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseNotAllowed, JsonResponse
from django.urls import URLPattern, URLResolver, get_resolver, path
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from controlplane.error_handlers import domain_error_body, error_body
from controlplane.errors import DomainError, Forbidden
from controlplane.handlers import served_on_the_event_loop
from controlplane.notify import run_sync
from projects.auth import REALM, FullAccess, IngestAccess, PollThrottle, authenticate_api_key
from projects.models import Project, User
from projects.selectors import project_for_user


class Access(StrEnum):
    MEMBER = "member"  # the owner and members, with a session or a full-scope key
    OWNER = "owner"  # the owner only; members get 403
    DAEMON = "daemon"  # the owner and members with any key, ingest scope included (API only)


def project_for_access(*, user: User, project_ref: str, access: Access) -> Project:
    """The project for this access, or NotFound (not a member) / Forbidden (a member, but owner-only)."""
    project = project_for_user(user=user, project_ref=project_ref)
    if access == Access.OWNER and project.owner_id != user.pk:
        raise Forbidden("Only the project's owner can do this.")
    return project


def _access_of(methods: dict[str, Access], method: str | None) -> Access | None:
    return methods.get("GET" if method == "HEAD" else (method or ""))


def _declared(callback: Callable[..., Any], methods: dict[str, Access]) -> Callable[..., Any]:
    """Mark a view as gated, with its access per method, for the system check and the access-matrix test."""
    callback.project_access = methods  # type: ignore[attr-defined]
    return callback


# Console


def project_page(route: str, view: Callable[..., HttpResponseBase], *, name: str, **methods: Access) -> URLPattern:
    """A console page: `view(request, project, **url_kwargs)` for a logged-in member; others are sent to log in."""
    if Access.DAEMON in methods.values():
        raise ImproperlyConfigured(f"{name}: console pages take sessions, not daemon keys")

    @functools.wraps(view)
    def gated(request: HttpRequest, project: str, **kwargs: Any) -> HttpResponseBase:
        access = _access_of(methods, request.method)
        if access is None:
            return HttpResponseNotAllowed(list(methods))
        user = cast(User, request.user)  # login_required let only users in
        return view(request, project_for_access(user=user, project_ref=project, access=access), **kwargs)

    return path(route, _declared(login_required(gated), methods), name=name)


# API


class ProjectApiView(APIView):
    """Base of every project-scoped DRF view: after authentication, `initial` resolves `self.project` for the
    access that `project_api` declared for the request's method. Handlers take the other URL parts only."""

    project_access: dict[str, Access] = {}
    # Served on the event loop in one hop to the executor, without Django's middleware (`served_whole`): for a daemon
    # endpoint called at a high rate whose replies are JSON to API keys only.
    served_whole = False
    project: Project

    def dispatch(self, request: HttpRequest, *args: Any, project: str = "", **kwargs: Any) -> HttpResponseBase:
        self.project_ref = project
        return super().dispatch(request, *args, **kwargs)

    def get_permissions(self) -> list[BasePermission]:
        if _access_of(self.project_access, self.request.method) == Access.DAEMON:
            return [IngestAccess()]
        return [FullAccess()]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        access = _access_of(self.project_access, request.method)
        if access is None:
            raise exceptions.MethodNotAllowed(request.method or "")
        user = cast(User, request.user)  # both permissions require authentication
        self.project = project_for_access(user=user, project_ref=self.project_ref, access=access)


def _handled_methods(view: type[APIView]) -> set[str]:
    return {method.upper() for method in view.http_method_names if method != "options" and hasattr(view, method)}


def _json_error(status: int, code: str, message: str, field: str | None = None) -> JsonResponse:
    response = JsonResponse(error_body(code, message, field), status=status)
    if status == 401:
        response["WWW-Authenticate"] = REALM
    return response


AsyncProjectView = Callable[..., Awaitable[HttpResponse]]


def _authorize_key(request: HttpRequest, project_ref: str, access: Access) -> Project | JsonResponse:
    """The API-key gate of an async view, all of it sync work, so that it costs the view one thread hop:
    the key, its scope, the per-user poll throttle, then the project."""
    key = authenticate_api_key(request.headers.get("Authorization", ""))
    if key is None:
        return _json_error(401, "not_authenticated", "A valid API key is required (HTTP Basic KEY_ID:SECRET).")
    if access != Access.DAEMON and key.scope != key.Scope.FULL:
        return _json_error(403, "permission_denied", FullAccess.message)
    request.user = key.user
    throttle = PollThrottle()
    if not throttle.allow_request(request, None):  # type: ignore[arg-type]
        response = _json_error(429, "throttled", "Request was throttled.")
        response["Retry-After"] = str(max(1, math.ceil(throttle.wait())))  # int() said 0 in a window's last second
        return response
    try:
        return project_for_access(user=key.user, project_ref=project_ref, access=access)
    except DomainError as error:
        status, body = domain_error_body(error)
        return JsonResponse(body, status=status)


def _gate_async(view: AsyncProjectView, methods: dict[str, Access]) -> AsyncProjectView:
    """An async API view (the long poll): API keys only, throttled per user, then the project."""

    @served_on_the_event_loop
    @csrf_exempt
    @functools.wraps(view)
    async def gated(request: HttpRequest, project: str, **kwargs: Any) -> HttpResponse:
        access = _access_of(methods, request.method)
        if access is None:
            response = _json_error(405, "method_not_allowed", f"Use {', '.join(methods)}.")
            response["Allow"] = ", ".join(methods)
            return response
        found = await run_sync(_authorize_key, request, project, access)
        if isinstance(found, JsonResponse):
            return found
        return await view(request, found, **kwargs)

    return gated


def served_whole(view: Callable[..., HttpResponseBase]) -> Callable[..., Any]:
    """A sync API view served on the event loop (`controlplane.handlers`): the request checks, then the view and its
    rendering in one hop to the loop's executor. Django's middleware would cost each request a hop per sync
    middleware (eight of them, twice each: a sixth of a witness upload's CPU, bench/RESULTS.md "served whole"); this
    view needs none of them (no session, CSRF, cookies or HTML), and it is left out of the Prometheus request metrics.
    Under WSGI (tests, Django's test client) it is the view in the request's thread."""

    @served_on_the_event_loop
    @functools.wraps(view)
    async def whole(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return await run_sync(_rendered, view, request, *args, **kwargs)

    return whole


def _rendered(view: Callable[..., HttpResponseBase], request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """The view's response, rendered (a DRF `Response` is rendered by Django's handler, which a served view skips)."""
    response = view(request, *args, **kwargs)
    render = getattr(response, "render", None)
    if callable(render):
        render()
    return cast(HttpResponse, response)


def project_api(
    route: str, view: type[ProjectApiView] | AsyncProjectView, *, name: str, **methods: Access
) -> URLPattern:
    """An API operation on a project: a `ProjectApiView` subclass whose handlers are exactly `methods`, or an
    async view `view(request, project, **url_kwargs)` reached with an API key."""
    if isinstance(view, type) and issubclass(view, ProjectApiView):
        if _handled_methods(view) != set(methods):
            raise ImproperlyConfigured(f"{name}: {view.__name__} handles {sorted(_handled_methods(view))}")
        callback = _declared(view.as_view(project_access=methods), methods)
        return path(route, served_whole(callback) if view.served_whole else callback, name=name)
    if iscoroutinefunction(view):
        return path(route, _declared(_gate_async(cast(AsyncProjectView, view), methods), methods), name=name)
    raise ImproperlyConfigured(f"{name}: project API views are ProjectApiView subclasses or async views")


# What the gate covers


@dataclass(frozen=True)
class Route:
    name: str
    route: str
    parameters: frozenset[str]
    access: dict[str, Access] | None  # None: the route was not declared through the gate


def project_routes(
    patterns: list[URLPattern | URLResolver] | None = None,
    prefix: str = "",
    namespace: str = "",
    inherited: frozenset[str] = frozenset(),
) -> Iterator[Route]:
    """Every route of the URLconf with a `project` in its URL, with the access the gate declared for it."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        parameters = inherited | frozenset(pattern.pattern.regex.groupindex)
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from project_routes(pattern.url_patterns, route, inner, parameters)
        elif "project" in parameters:
            access = getattr(pattern.callback, "project_access", None)
            yield Route(name=namespace + (pattern.name or route), route=route, parameters=parameters, access=access)


def check_project_routes(**kwargs: Any) -> list[checks.CheckMessage]:
    """System check: no route with a project in it bypasses the gate."""
    return [
        checks.Error(
            f"{route.route} ({route.name}) takes a project but was not declared with project_page or project_api",
            id="projects.E001",
        )
        for route in project_routes()
        if route.access is None
    ]
