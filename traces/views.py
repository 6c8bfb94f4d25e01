"""Console pages for traces, their model builds, endpoints and endpoint details."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from controlplane.errors import Conflict
from projects.forms import HarUploadForm, TraceStartForm, add_service_errors
from projects.models import Project
from projects.selectors import project_for_user
from traces.models import ApiModel, Trace, TraceStatus
from traces.selectors import (
    endpoint_filter_options,
    endpoint_for_model,
    endpoints_filtered,
    latest_model,
    latest_ready_model,
    trace_for_project,
    traces_for_project,
)
from traces.services import har_upload, trace_start, trace_stop

# htmx stops polling an element when it is answered with this status.
STOP_POLLING = 286
ENDPOINT_FILTERS = ("method", "auth", "status", "host", "q")
TRACE_LIST_LIMIT = 200


@dataclass
class TraceRow:
    trace: Trace
    status: TraceStatus
    build: ApiModel | None

    @property
    def can_change(self) -> bool:
        """Whether polling may still see something new: capture running, or a build pending or in progress."""
        if self.status == TraceStatus.ACTIVE or self.trace.final_build_queued_at is None:
            return True
        return self.build is not None and self.build.status in (
            ApiModel.BuildStatus.QUEUED,
            ApiModel.BuildStatus.BUILDING,
        )


def trace_row(trace: Trace, now: datetime) -> TraceRow:
    return TraceRow(trace=trace, status=trace.get_status(now), build=latest_model(trace=trace))


def _polled(request: HttpRequest, template: str, context: dict[str, Any], can_change: bool) -> HttpResponse:
    return render(request, template, {**context, "poll": can_change}, status=200 if can_change else STOP_POLLING)


def _trace_list_page(
    request: HttpRequest, project: Project, start_form: TraceStartForm, har_form: HarUploadForm, status: int = 200
) -> HttpResponse:
    now = timezone.now()
    traces = traces_for_project(project=project).prefetch_related("api_models")[:TRACE_LIST_LIMIT]
    rows = [trace_row(trace, now) for trace in traces]
    context = {
        "project": project,
        "section": "traces",
        "rows": rows,
        "poll": any(row.can_change for row in rows),
        "start_form": start_form,
        "har_form": har_form,
    }
    if request.htmx and request.htmx.target == "trace-table":
        return _polled(request, "traces/trace_list.html#trace-table", context, context["poll"])
    return render(request, "traces/trace_list.html", context, status=status)


@login_required
@require_GET
def trace_list(request: HttpRequest, project: str) -> HttpResponse:
    found = project_for_user(user=request.user, project_ref=project)
    return _trace_list_page(request, found, TraceStartForm(), HarUploadForm())


@login_required
@require_POST
def trace_new(request: HttpRequest, project: str) -> HttpResponse:
    found = project_for_user(user=request.user, project_ref=project)
    form = TraceStartForm(request.POST)
    if form.is_valid():
        try:
            trace_start(project=found, user=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error, default_field="duration_minutes")
        except Conflict as error:
            form.add_error("name", str(error.detail))
        else:
            return redirect("trace-list", project=found.public_id)
    return _trace_list_page(request, found, form, HarUploadForm(), status=400)


@login_required
@require_POST
def trace_har_upload(request: HttpRequest, project: str) -> HttpResponse:
    found = project_for_user(user=request.user, project_ref=project)
    form = HarUploadForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            if upload.size > settings.HAR_UPLOAD_MAX_BYTES:
                raise ValidationError({"file": [f"HAR files are limited to {settings.HAR_UPLOAD_MAX_BYTES} bytes."]})
            trace = har_upload(project=found, user=request.user, content=upload.read())
        except ValidationError as error:
            add_service_errors(form, error, default_field="file")
        else:
            return redirect("trace-detail", project=found.public_id, trace=trace.name)
    return _trace_list_page(request, found, TraceStartForm(), form, status=400)


@login_required
@require_POST
def trace_end(request: HttpRequest, project: str, trace: str) -> HttpResponse:
    found = trace_for_project(project=project_for_user(user=request.user, project_ref=project), trace_ref=trace)
    trace_stop(trace=found)
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(back)
    return redirect("trace-detail", project=found.project.public_id, trace=found.name)


def _live_context(trace: Trace, shown: ApiModel | None) -> dict[str, Any]:
    row = trace_row(trace, timezone.now())
    return {"row": row, "shown_model": shown}


@login_required
@require_GET
def trace_detail(request: HttpRequest, project: str, trace: str) -> HttpResponse:
    found_project = project_for_user(user=request.user, project_ref=project)
    found = trace_for_project(project=found_project, trace_ref=trace)
    ready = latest_ready_model(trace=found)
    filters = {name: request.GET.get(name, "").strip() for name in ENDPOINT_FILTERS}
    context: dict[str, Any] = {
        "project": found_project,
        "section": "traces",
        "trace": found,
        "filters": filters,
        "filtered": any(filters.values()),
        **_live_context(found, ready),
    }
    if ready is not None:
        context["endpoints"] = endpoints_filtered(api_model=ready, **filters)
        context["options"] = endpoint_filter_options(api_model=ready)
        context["openapi_url"] = (
            f"/api/v1/projects/{found_project.public_id}/traces/{found.public_id}/openapi?format=yaml"
        )
    if request.htmx and request.htmx.target == "endpoints":
        return render(request, "traces/trace_detail.html#endpoints", context)
    return render(request, "traces/trace_detail.html", {**context, "poll": context["row"].can_change})


@login_required
@require_GET
def trace_live(request: HttpRequest, project: str, trace: str) -> HttpResponse:
    """The polled part of the trace page: status, Stop, build progress; the page reloads when a new model is ready."""
    found = trace_for_project(project=project_for_user(user=request.user, project_ref=project), trace_ref=trace)
    ready = latest_ready_model(trace=found)
    shown_id = request.GET.get("shown", "")
    if ready is not None and ready.public_id != shown_id:
        response = HttpResponse(status=200)
        response["HX-Refresh"] = "true"
        return response
    context = {"project": found.project, "trace": found, **_live_context(found, ready)}
    return _polled(request, "traces/trace_detail.html#live", context, context["row"].can_change)


def schema_node(schema: Any, name: str = "", required: bool = False) -> dict[str, Any]:
    """A JSON Schema as a tree the template renders recursively (keys like `$ref` or `additionalProperties`
    are awkward in templates, and `type` may be a list)."""
    schema = schema if isinstance(schema, dict) else {}
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    shown = [kind for kind in types if kind != "null"] or types or ["any"]
    required_names = set(schema.get("required", []))
    children = [
        schema_node(child, key, key in required_names) for key, child in (schema.get("properties") or {}).items()
    ]
    if isinstance(schema.get("items"), dict):
        children.append(schema_node(schema["items"], "[ ]"))
    if isinstance(schema.get("additionalProperties"), dict):
        children.append(schema_node(schema["additionalProperties"], "{key}"))
    for keyword in ("anyOf", "oneOf"):
        children.extend(
            schema_node(variant, f"{keyword} #{index + 1}") for index, variant in enumerate(schema.get(keyword, []))
        )
    return {
        "name": name,
        "types": shown,
        "format": schema.get("format", ""),
        "enum": schema.get("enum", []),
        "required": required,
        "nullable": ("null" in types and len(types) > 1) or schema.get("nullable") is True,
        "children": children,
    }


def _content_trees(content: Any) -> list[dict[str, Any]]:
    return [{"content_type": kind, "tree": schema_node(schema)} for kind, schema in (content or {}).items()]


@login_required
@require_GET
def endpoint_detail(request: HttpRequest, project: str, trace: str, endpoint: str) -> HttpResponse:
    found_project = project_for_user(user=request.user, project_ref=project)
    found = trace_for_project(project=found_project, trace_ref=trace)
    ready = latest_ready_model(trace=found)
    if ready is None:
        raise Http404("This trace has no ready model yet.")
    found_endpoint = endpoint_for_model(api_model=ready, endpoint_id=endpoint)
    detail = found_endpoint.detail or {}
    parameters = [
        {**parameter, "node": schema_node(parameter.get("schema"))} for parameter in detail.get("parameters") or []
    ]
    responses = [
        {"status": code, "count": response.get("count"), "bodies": _content_trees(response.get("content"))}
        for code, response in sorted((detail.get("responses") or {}).items())
    ]
    context = {
        "project": found_project,
        "section": "traces",
        "trace": found,
        "endpoint": found_endpoint,
        "parameters": parameters,
        "request_bodies": _content_trees(detail.get("request_body")),
        "responses": responses,
    }
    return render(request, "traces/endpoint_detail.html", context)
