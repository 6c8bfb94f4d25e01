from datetime import datetime

from django.db.models import QuerySet

from controlplane.errors import NotFound
from projects.models import Project
from traces.models import ApiModel, Endpoint, Trace


def traces_for_project(*, project: Project) -> QuerySet[Trace]:
    return Trace.objects.filter(project=project)


def trace_for_project(*, project: Project, trace_ref: str) -> Trace:
    """A trace of the project by id or name; NotFound otherwise."""
    field = "public_id" if trace_ref.startswith("trc_") else "name"
    trace = Trace.objects.filter(project=project, **{field: trace_ref}).first()
    if trace is None:
        raise NotFound("No such trace.")
    return trace


def active_traces(*, project_id: int, now: datetime) -> list[Trace]:
    return list(
        Trace.objects.filter(
            project_id=project_id,
            source=Trace.Source.LIVE,
            started_at__lte=now,
            ends_at__gt=now,
            stopped_at__isnull=True,
        ).order_by("ends_at")
    )


def latest_model(*, trace: Trace) -> ApiModel | None:
    """The newest build of the trace, whatever its state (without the heavy model document)."""
    return trace.api_models.defer("document", "builder_state").first()


def latest_ready_model(*, trace: Trace) -> ApiModel | None:
    """What the console shows while a newer version builds."""
    return trace.api_models.filter(status=ApiModel.BuildStatus.READY).first()


def endpoints_filtered(
    *,
    api_model: ApiModel,
    method: str = "",
    auth: str = "",
    status: str = "",
    host: str = "",
    q: str = "",
) -> QuerySet[Endpoint]:
    endpoints = api_model.endpoints.all()
    if method:
        endpoints = endpoints.filter(method=method.upper())
    if auth:
        endpoints = endpoints.filter(auth__contains=f",{auth},")
    if status:
        endpoints = endpoints.filter(status_codes__contains=f",{status},")
    if host:
        endpoints = endpoints.filter(host=host)
    if q:
        endpoints = endpoints.filter(path__icontains=q)
    return endpoints


def newest_ready_trace_model(*, project: Project) -> ApiModel | None:
    """The newest ready model of any of the project's traces (the overview links to it)."""
    return (
        ApiModel.objects.filter(trace__project=project, status=ApiModel.BuildStatus.READY)
        .select_related("trace")
        .order_by("-finished_at", "-pk")
        .first()
    )


def endpoint_filter_options(*, api_model: ApiModel) -> dict[str, list[str]]:
    """The values each endpoint filter can take in this model, for the console's select boxes."""
    rows = list(api_model.endpoints.values_list("method", "host", "auth", "status_codes"))
    return {
        "method": sorted({method for method, _, _, _ in rows}),
        "host": sorted({host for _, host, _, _ in rows}),
        "auth": sorted({item for _, _, auth, _ in rows for item in auth.split(",") if item}),
        "status": sorted({item for _, _, _, codes in rows for item in codes.split(",") if item}),
    }


def latest_ready_project_model(*, project: Project) -> ApiModel | None:
    """The project's newest ready merged model (over all its stored traffic)."""
    return project.api_models.filter(trace=None, status=ApiModel.BuildStatus.READY).first()


def model_by_ref(*, project: Project, ref: str) -> ApiModel:
    """A ready model of the project: `project` (merged), a `mdl_` id, or a trace id or name (its latest)."""
    if ref == "project":
        api_model = latest_ready_project_model(project=project)
    elif ref.startswith("mdl_"):
        api_model = project.api_models.filter(public_id=ref, status=ApiModel.BuildStatus.READY).first()
    else:
        api_model = latest_ready_model(trace=trace_for_project(project=project, trace_ref=ref))
    if api_model is None:
        raise NotFound(f"No ready model for {ref!r}.")
    return api_model


def endpoint_for_project(*, project: Project, endpoint_id: str) -> Endpoint:
    """An endpoint of any ready model of the project, with its model, so links outlive rebuilds; NotFound otherwise."""
    endpoint = (
        Endpoint.objects.filter(
            public_id=endpoint_id, api_model__project=project, api_model__status=ApiModel.BuildStatus.READY
        )
        .select_related("api_model__trace")
        .first()
    )
    if endpoint is None:
        raise NotFound("No such endpoint.")
    return endpoint


def latest_project_model(*, project: Project) -> ApiModel | None:
    """The newest build of the project's merged model, whatever its state."""
    return project.api_models.filter(trace=None).first()


def project_builds_pending(*, project: Project) -> bool:
    """Whether any model of the project (a trace's or the merged one) is queued or building."""
    pending = (ApiModel.BuildStatus.QUEUED, ApiModel.BuildStatus.BUILDING)
    return project.api_models.filter(status__in=pending).exists()


def traces_with_ready_model(*, project: Project) -> QuerySet[Trace]:
    """The project's traces that have a ready model (what can be compared), newest first."""
    return Trace.objects.filter(project=project, api_models__status=ApiModel.BuildStatus.READY).distinct()
