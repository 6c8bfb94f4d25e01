"""Console pages for traces, their model builds, endpoints and endpoint details."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from apimodel.diff import diff_models
from controlplane.errors import Conflict, Invalid, NotFound
from controlplane.forms import add_invalid
from projects.models import Project
from traces.forms import HarUploadForm, TraceStartForm
from traces.models import ApiModel, Trace, TraceStatus
from traces.selectors import (
    endpoint_filter_options,
    endpoint_for_project,
    endpoints_filtered,
    latest_model,
    latest_project_model,
    latest_ready_model,
    latest_ready_project_model,
    model_by_ref,
    project_builds_pending,
    trace_for_project,
    traces_for_project,
    traces_with_ready_model,
)
from traces.services import har_upload, model_rebuild, project_model_enqueue, trace_start, trace_stop

# htmx stops polling an element when it is answered with this status.
STOP_POLLING = 286
ENDPOINT_FILTERS = ("method", "auth", "status", "host", "q")
TRACE_LIST_LIMIT = 200
PENDING = (ApiModel.BuildStatus.QUEUED, ApiModel.BuildStatus.BUILDING)
# Beat queues an ended trace's final build within ~15 s; past this wait, nothing will (no beat runs).
FINAL_BUILD_WAIT = timedelta(minutes=1)


@dataclass
class TraceRow:
    trace: Trace
    status: TraceStatus
    build: ApiModel | None
    now: datetime

    @property
    def pending(self) -> bool:
        return self.build is not None and self.build.status in PENDING

    @property
    def idle_label(self) -> str:
        """What the build column says when the trace has no build."""
        return "builds as witnesses arrive" if self.status == TraceStatus.ACTIVE else "—"

    @property
    def can_change(self) -> bool:
        """Whether polling may still see something new: capture running, a build pending, or beat about to queue one."""
        if self.status == TraceStatus.ACTIVE or self.pending:
            return True
        awaits_final_build = self.build is None and self.trace.final_build_queued_at is None
        return awaits_final_build and self.now < self.trace.closed_at + FINAL_BUILD_WAIT


def trace_row(trace: Trace, now: datetime) -> TraceRow:
    return TraceRow(trace=trace, status=trace.get_status(now), build=latest_model(trace=trace), now=now)


def _polled(request: HttpRequest, template: str, context: dict[str, Any], can_change: bool) -> HttpResponse:
    return render(request, template, {**context, "poll": can_change}, status=200 if can_change else STOP_POLLING)


def _trace_list_page(
    request: HttpRequest, project: Project, start_form: TraceStartForm, har_form: HarUploadForm, status: int = 200
) -> HttpResponse:
    now = timezone.now()
    traces = traces_for_project(project=project)[:TRACE_LIST_LIMIT]
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


def trace_list(request: HttpRequest, project: Project) -> HttpResponse:
    """The traces; POST starts one (on the list URL, so no action word can clash with a trace's name)."""
    if request.method == "GET":
        return _trace_list_page(request, project, TraceStartForm(), HarUploadForm())
    form = TraceStartForm(request.POST)
    if form.is_valid():
        try:
            trace_start(project=project, user=request.user, **form.cleaned_data)
        except Invalid as error:
            add_invalid(form, error, default_field="duration_minutes")
        except Conflict as error:
            form.add_error("name", error.message)
        else:
            return redirect("trace-list", project=project.public_id)
    return _trace_list_page(request, project, form, HarUploadForm(), status=400)


def trace_har_upload(request: HttpRequest, project: Project) -> HttpResponse:
    form = HarUploadForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            if upload.size > settings.HAR_UPLOAD_MAX_BYTES:
                raise Invalid(f"HAR files are limited to {settings.HAR_UPLOAD_MAX_BYTES} bytes.", field="file")
            trace = har_upload(project=project, user=request.user, content=upload.read())
        except Invalid as error:
            add_invalid(form, error, default_field="file")
        else:
            return redirect("trace-detail", project=project.public_id, trace=trace.name)
    return _trace_list_page(request, project, TraceStartForm(), form, status=400)


def trace_end(request: HttpRequest, project: Project, trace: str) -> HttpResponse:
    found = trace_for_project(project=project, trace_ref=trace)
    trace_stop(trace=found)
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(back)
    return redirect("trace-detail", project=found.project.public_id, trace=found.name)


def trace_model_rebuild(request: HttpRequest, project: Project, trace: str) -> HttpResponse:
    found = trace_for_project(project=project, trace_ref=trace)
    try:
        model_rebuild(trace=found)
    except Conflict as error:  # the stored witnesses were purged
        messages.error(request, error.message)
    return redirect("trace-detail", project=found.project.public_id, trace=found.name)


def _endpoints_context(request: HttpRequest, shown: ApiModel | None) -> dict[str, Any]:
    """The endpoints table of a model with the query's filters (trace page and project model page alike)."""
    filters = {name: request.GET.get(name, "").strip() for name in ENDPOINT_FILTERS}
    context: dict[str, Any] = {
        "shown_model": shown,
        "filters": filters,
        "filtered": any(filters.values()),
        "endpoints_url": request.path,
    }
    if shown is not None:
        context["endpoints"] = endpoints_filtered(api_model=shown, **filters)
        context["options"] = endpoint_filter_options(api_model=shown)
    return context


def _refresh_if_newer(ready: ApiModel | None, shown_id: str) -> HttpResponse | None:
    """The polled part asks the page to reload when a newer model than the one shown is ready."""
    if ready is None or ready.public_id == shown_id:
        return None
    response = HttpResponse(status=200)
    response["HX-Refresh"] = "true"
    return response


def trace_detail(request: HttpRequest, project: Project, trace: str) -> HttpResponse:
    found = trace_for_project(project=project, trace_ref=trace)
    ready = latest_ready_model(trace=found)
    context: dict[str, Any] = {
        "project": project,
        "section": "traces",
        "trace": found,
        "row": trace_row(found, timezone.now()),
        **_endpoints_context(request, ready),
    }
    if request.htmx and request.htmx.target == "endpoints":
        return render(request, "traces/_endpoints.html", context)
    if ready is not None:
        url = reverse("api:trace-openapi", kwargs={"project": project.public_id, "trace": found.public_id})
        context["openapi_url"] = f"{url}?format=yaml"
    return render(request, "traces/trace_detail.html", {**context, "poll": context["row"].can_change})


def trace_live(request: HttpRequest, project: Project, trace: str) -> HttpResponse:
    """The polled part of the trace page: status, Stop, build progress; the page reloads when a new model is ready."""
    found = trace_for_project(project=project, trace_ref=trace)
    ready = latest_ready_model(trace=found)
    if refresh := _refresh_if_newer(ready, request.GET.get("shown", "")):
        return refresh
    row = trace_row(found, timezone.now())
    context = {"project": found.project, "trace": found, "row": row, "shown_model": ready}
    return _polled(request, "traces/trace_detail.html#live", context, row.can_change)


def _project_model_live(project: Project) -> dict[str, Any]:
    build = latest_project_model(project=project)
    # A trace build still running queues a new merged build when it ends.
    pending = project_builds_pending(project=project)
    return {"build": build, "pending": pending}


def project_model(request: HttpRequest, project: Project) -> HttpResponse:
    """The project's model merged over all its stored traffic."""
    ready = latest_ready_project_model(project=project)
    context: dict[str, Any] = {
        "project": project,
        "section": "model",
        **_project_model_live(project),
        **_endpoints_context(request, ready),
    }
    if request.htmx and request.htmx.target == "endpoints":
        return render(request, "traces/_endpoints.html", context)
    if ready is not None:
        context["openapi_url"] = reverse("api:project-openapi", kwargs={"project": project.public_id}) + "?format=yaml"
    return render(request, "traces/project_model.html", {**context, "poll": context["pending"]})


def project_model_live(request: HttpRequest, project: Project) -> HttpResponse:
    ready = latest_ready_project_model(project=project)
    if refresh := _refresh_if_newer(ready, request.GET.get("shown", "")):
        return refresh
    context = {"project": project, "shown_model": ready, **_project_model_live(project)}
    return _polled(request, "traces/project_model.html#live", context, context["pending"])


def project_model_rebuild(request: HttpRequest, project: Project) -> HttpResponse:
    project_model_enqueue(project=project)
    return redirect("project-model", project=project.public_id)


def model_label(api_model: ApiModel) -> str:
    if api_model.trace is None:
        return f"Project model (merged) v{api_model.version}"
    return f"{api_model.trace.name} v{api_model.version}"


def _model_ref(api_model: ApiModel) -> str:
    """How the diff page's selects name a model: `project`, or the trace's id (a trace may be named `project`)."""
    return "project" if api_model.trace is None else api_model.trace.public_id


def model_diff(request: HttpRequest, project: Project) -> HttpResponse:
    """Compare two models of the project: the merged one or a trace's latest ready one."""
    choices = [("project", "Project model (merged)")] + [
        (trace.public_id, trace.name) for trace in traces_with_ready_model(project=project)
    ]
    refs = {side: request.GET.get(side, "").strip() for side in ("base", "head")}
    context: dict[str, Any] = {"project": project, "section": "diff", "choices": choices, **refs}
    if all(refs.values()):
        try:
            models = {side: model_by_ref(project=project, ref=ref) for side, ref in refs.items()}
        except NotFound as error:
            context["error"] = error.message
        else:
            diff = diff_models(models["base"].document or {}, models["head"].document or {})
            context.update(
                diff=diff,
                same=not any(diff.values()),
                labels={side: model_label(api_model) for side, api_model in models.items()},
                **{side: _model_ref(api_model) for side, api_model in models.items()},
            )
    return render(request, "traces/model_diff.html", context, status=404 if "error" in context else 200)


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


def endpoint_detail(
    request: HttpRequest, project: Project, endpoint: str, model: str | None = None, trace: str | None = None
) -> HttpResponse:
    """An endpoint of the model it belongs to (not "the latest"), so links keep working after a rebuild.

    Reached under its model (`models/<mdl_…>/endpoints/…`) or, for older links, under its trace.
    """
    found_endpoint = endpoint_for_project(project=project, endpoint_id=endpoint)
    api_model = found_endpoint.api_model
    owner = api_model.trace
    if model is not None and api_model.public_id != model:
        raise NotFound("No such endpoint in this model.")
    if trace is not None and (owner is None or trace not in (owner.public_id, owner.name)):
        raise NotFound("No such endpoint in this trace.")
    newest = latest_ready_model(trace=owner) if owner else latest_ready_project_model(project=project)
    detail = found_endpoint.detail or {}
    parameters = [
        {**parameter, "node": schema_node(parameter.get("schema"))} for parameter in detail.get("parameters") or []
    ]
    responses = [
        {"status": code, "count": response.get("count"), "bodies": _content_trees(response.get("content"))}
        for code, response in sorted((detail.get("responses") or {}).items())
    ]
    context = {
        "project": project,
        "section": "traces" if owner else "model",
        "trace": owner,
        "api_model": api_model,
        "newest_model": newest if newest is not None and newest.pk != api_model.pk else None,
        "endpoint": found_endpoint,
        "parameters": parameters,
        "request_bodies": _content_trees(detail.get("request_body")),
        "responses": responses,
    }
    return render(request, "traces/endpoint_detail.html", context)
