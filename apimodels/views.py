"""Console pages that show models: a trace with its model, the project's merged model, endpoint pages,
diffs, rebuilds and the path hints that shape every build."""

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from apimodel.diff import diff_models
from apimodels.charts import timeline_chart
from apimodels.forms import PathHintsForm
from apimodels.models import ModelEndpoint, ModelVersion
from apimodels.selectors import (
    ENDPOINT_GROUPS,
    ENDPOINT_SORTS,
    documents_for_diff,
    endpoint_filter_options,
    endpoint_for_project,
    endpoint_group_sizes,
    endpoints_filtered,
    endpoints_sorted,
    latest_project_model,
    latest_ready_model,
    latest_ready_project_model,
    model_by_ref,
    path_hints_of,
    project_builds_pending,
    traces_with_ready_model,
)
from apimodels.services import (
    model_rebuild,
    models_rebuild_all,
    project_model_enqueue,
    project_path_hints_update,
)
from controlplane.errors import Conflict, Invalid, NotFound
from controlplane.pagination import page_links, query_with
from controlplane.polling import polled
from projects.auth import ConsoleRequest
from projects.models import Project
from traces.selectors import trace_for_project, trace_rows

ENDPOINT_FILTERS = ("method", "auth", "status", "host", "q")
ENDPOINTS_PER_PAGE = 50
# Tabs of the endpoints table, like Postman's, and the sort each opens with: Errors keeps the endpoints that
# answered a 5xx, Latency those with timings.
ENDPOINT_TABS = {"endpoints": "path", "errors": "errors", "latency": "p99"}
# The columns whose header sorts, in table order, with the text of the header.
SORT_HEADERS = {"path": "Path", "count": "Count", "errors": "5xx", "p99": "p99", "last_seen": "Last seen"}
# The order a header sorts in first: biggest numbers, newest and A to Z first.
NATURAL_DIRECTION = {"path": "asc", "count": "desc", "errors": "desc", "p99": "desc", "last_seen": "desc"}
GROUP_CHOICES = {"": "None", "host": "Host", "prefix": "Path prefix"}


def _mark_groups(endpoints: list[ModelEndpoint], matching: QuerySet[ModelEndpoint], group: str) -> None:
    """Mark the first endpoint of each group on the page with the group's name and its size over all pages."""
    column = ENDPOINT_GROUPS[group]
    sizes = endpoint_group_sizes(matching, group=group, values={getattr(e, column) for e in endpoints})
    previous = None
    for endpoint in endpoints:
        value = getattr(endpoint, column)
        endpoint.group_start = value if value != previous else None  # type: ignore[attr-defined]
        endpoint.group_size = sizes.get(value, 0)  # type: ignore[attr-defined]
        previous = value


def _endpoints_context(request: ConsoleRequest, shown: ModelVersion | None) -> dict[str, Any]:
    """The endpoints table of a model as the query asks for it: tab, filters, sort, grouping and page (trace page
    and project model page alike). Unknown values fall back to the defaults."""
    params = request.GET
    filters = {name: params.get(name, "").strip() for name in ENDPOINT_FILTERS}
    sensitive = params.get("sensitive") == "1"
    tab = params.get("tab", "") if params.get("tab", "") in ENDPOINT_TABS else "endpoints"
    default_sort = ENDPOINT_TABS[tab]
    sort = params.get("sort", "") if params.get("sort", "") in ENDPOINT_SORTS else default_sort
    direction = params.get("dir", "") if params.get("dir", "") in ("asc", "desc") else NATURAL_DIRECTION[sort]
    group = params.get("group", "") if params.get("group", "") in ENDPOINT_GROUPS else ""
    context: dict[str, Any] = {
        "shown_model": shown,
        "filters": filters,
        "sensitive": sensitive,
        "filtered": any(filters.values()) or sensitive,
        "endpoints_url": request.path,
        "tab": tab,
        "sort": sort,
        "group": group,
        "group_choices": GROUP_CHOICES,
    }
    if shown is None:
        return context
    matching = endpoints_filtered(
        version=shown, sensitive=sensitive, errors=tab == "errors", timed=tab == "latency", **filters
    ).defer("detail")
    ordered = endpoints_sorted(matching, sort=sort, reverse=direction != NATURAL_DIRECTION[sort], group=group)
    page = Paginator(ordered, ENDPOINTS_PER_PAGE).get_page(params.get("page"))
    endpoints = list(page)
    if group:
        _mark_groups(endpoints, matching, group)
    flipped = {"asc": "desc", "desc": "asc"}[direction]

    def header_url(key: str) -> str:
        """Another column sorts in its natural order; the sorted one flips."""
        if key != sort:
            return query_with(params, sort=key, dir="")
        return query_with(params, sort=key, dir="" if flipped == NATURAL_DIRECTION[key] else flipped)

    context.update(
        page=page,
        endpoints=endpoints,
        options=endpoint_filter_options(version=shown),
        tabs={
            name: query_with(params, tab="" if name == "endpoints" else name, sort="", dir="") for name in ENDPOINT_TABS
        },
        headers=[
            {"key": key, "label": label, "sorted": direction if key == sort else "", "url": header_url(key)}
            for key, label in SORT_HEADERS.items()
        ],
        page_links=page_links(page, params),
        clear_url=query_with(params, **dict.fromkeys(ENDPOINT_FILTERS, ""), sensitive=""),
        kept={name: params.get(name, "") for name in ("tab", "sort", "dir")},
    )
    return context


def _endpoints_page(request: ConsoleRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """The page, or only its endpoints table for htmx (sort, filter, page): never for a history restore, which
    needs the whole page; `Vary` keeps the browser's cache from showing the table alone on Back."""
    htmx = request.htmx
    if htmx and htmx.target == "endpoints" and not htmx.history_restore_request:
        response = render(request, "apimodels/_endpoints.html", context)
    else:
        response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request",))
    return response


def _refresh_if_newer(ready: ModelVersion | None, shown_id: str) -> HttpResponse | None:
    """The polled part asks the page to reload when a newer model than the one shown is ready."""
    if ready is None or ready.public_id == shown_id:
        return None
    response = HttpResponse(status=200)
    response["HX-Refresh"] = "true"
    return response


def trace_detail(request: ConsoleRequest, project: Project, trace: str) -> HttpResponse:
    found = trace_for_project(project=project, trace_ref=trace)
    ready = latest_ready_model(trace=found)
    context: dict[str, Any] = {
        "project": project,
        "section": "traces",
        "trace": found,
        "row": trace_rows(traces=[found], now=timezone.now())[0],
        **_endpoints_context(request, ready),
    }
    if ready is not None:
        url = reverse("api:trace-openapi", kwargs={"project": project.public_id, "trace": found.public_id})
        context["openapi_url"] = f"{url}?format=yaml"
    return _endpoints_page(request, "apimodels/trace_detail.html", {**context, "poll": context["row"].can_change})


def trace_live(request: ConsoleRequest, project: Project, trace: str) -> HttpResponse:
    """The polled part of the trace page: status, Stop, build progress; the page reloads when a new model is ready."""
    found = trace_for_project(project=project, trace_ref=trace)
    ready = latest_ready_model(trace=found)
    if refresh := _refresh_if_newer(ready, request.GET.get("shown", "")):
        return refresh
    (row,) = trace_rows(traces=[found], now=timezone.now())
    context = {"project": found.project, "trace": found, "row": row, "shown_model": ready}
    return polled(request, "apimodels/trace_detail.html#live", context, row.can_change)


def trace_model_rebuild(request: ConsoleRequest, project: Project, trace: str) -> HttpResponse:
    found = trace_for_project(project=project, trace_ref=trace)
    try:
        model_rebuild(trace=found)
    except Conflict as error:  # the stored witnesses were purged
        messages.error(request, error.message)
    return redirect("trace-detail", project=found.project.public_id, trace=found.name)


def _project_model_live(project: Project) -> dict[str, Any]:
    build = latest_project_model(project=project)
    # A trace build still running queues a new merged build when it ends.
    pending = project_builds_pending(project=project)
    return {"build": build, "pending": pending}


def project_model(request: ConsoleRequest, project: Project) -> HttpResponse:
    """The project's model merged over all its stored traffic."""
    ready = latest_ready_project_model(project=project)
    context: dict[str, Any] = {
        "project": project,
        "section": "model",
        **_project_model_live(project),
        **_endpoints_context(request, ready),
    }
    if ready is not None:
        context["openapi_url"] = reverse("api:project-openapi", kwargs={"project": project.public_id}) + "?format=yaml"
    return _endpoints_page(request, "apimodels/project_model.html", {**context, "poll": context["pending"]})


def project_model_live(request: ConsoleRequest, project: Project) -> HttpResponse:
    ready = latest_ready_project_model(project=project)
    if refresh := _refresh_if_newer(ready, request.GET.get("shown", "")):
        return refresh
    context = {"project": project, "shown_model": ready, **_project_model_live(project)}
    return polled(request, "apimodels/project_model.html#live", context, context["pending"])


def project_model_rebuild(request: ConsoleRequest, project: Project) -> HttpResponse:
    project_model_enqueue(project=project)
    return redirect("project-model", project=project.public_id)


def model_label(version: ModelVersion) -> str:
    if version.trace is None:
        return f"Project model (merged) v{version.version}"
    return f"{version.trace.name} v{version.version}"


def _model_ref(version: ModelVersion) -> str:
    """How the diff page's selects name a model: `project`, or the trace's id (a trace may be named `project`)."""
    return "project" if version.trace is None else version.trace.public_id


def model_diff(request: ConsoleRequest, project: Project) -> HttpResponse:
    """Compare two models of the project: the merged one or a trace's latest ready one."""
    choices = [("project", "Project model (merged)"), *traces_with_ready_model(project=project)]
    refs = {side: request.GET.get(side, "").strip() for side in ("base", "head")}
    context: dict[str, Any] = {"project": project, "section": "diff", "choices": choices, **refs}
    if all(refs.values()):
        try:
            models = {side: model_by_ref(project=project, ref=ref) for side, ref in refs.items()}
        except NotFound as error:
            context["error"] = error.message
        else:
            diff = diff_models(*documents_for_diff(models["base"], models["head"]))
            context.update(
                diff=diff,
                same=not any(diff.values()),
                labels={side: model_label(version) for side, version in models.items()},
                **{side: _model_ref(version) for side, version in models.items()},
            )
    return render(request, "apimodels/model_diff.html", context, status=404 if "error" in context else 200)


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
    version = found_endpoint.model_version
    owner = version.trace
    if model is not None and version.public_id != model:
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
        "model_version": version,
        "newest_model": newest if newest is not None and newest.pk != version.pk else None,
        "endpoint": found_endpoint,
        "parameters": parameters,
        "request_bodies": _content_trees(detail.get("request_body")),
        "responses": responses,
        "timeline": timeline_chart(detail.get("timeline")),
    }
    return render(request, "apimodels/endpoint_detail.html", context)


def path_hints(request: ConsoleRequest, project: Project) -> HttpResponse:
    """Settings → Path hints: they apply to past traffic too, by rebuilding every trace from stored witnesses."""
    form = PathHintsForm(
        request.POST if request.method == "POST" else None, initial=PathHintsForm.initial_from(path_hints_of(project))
    )
    if request.method == "POST" and form.is_valid():
        try:
            project_path_hints_update(project=project, **form.templates())
        except Invalid as error:
            form.add_invalid(error)
        else:
            rebuilds = models_rebuild_all(project=project)
            messages.success(
                request, f"Saved; rebuilding {rebuilds} trace{'s' if rebuilds != 1 else ''} from stored traffic."
            )
            return redirect("path-hints", project=project.public_id)
    context = {"project": project, "section": "settings", "form": form}
    return render(request, "apimodels/path_hints.html", context, status=400 if form.errors else 200)
