from collections.abc import Iterator, Sequence
from typing import Any, cast

from django.core.cache import cache
from django.db.models import Count, Exists, F, OuterRef, QuerySet, Subquery
from django.db.models.expressions import OrderBy

from apimodel.builder import PathHints
from apimodel.model_types import ApiModel
from apimodels.models import ModelEndpoint, ModelVersion, ProjectPathHints
from controlplane.errors import NotFound
from projects.models import Project
from traces.models import Trace
from traces.selectors import trace_for_project

READY = ModelVersion.BuildStatus.READY


def path_hints_of(project: Project) -> PathHints:
    """The project's path hints; none saved yet means the defaults."""
    saved = ProjectPathHints.objects.filter(project=project).first()
    if saved is None:
        return PathHints()
    return PathHints(
        force=saved.force, static=saved.static, hidden=saved.hidden, show_default_hidden=saved.show_default_hidden
    )


def latest_builds(*, traces: Sequence[Trace]) -> dict[int, ModelVersion]:
    """The newest build of each of these traces that has one, by trace pk, in one query."""
    newest = ModelVersion.objects.filter(trace_id=OuterRef("trace_id")).order_by("-version").values("version")[:1]
    builds = ModelVersion.objects.filter(trace__in=[trace.pk for trace in traces], version=Subquery(newest))
    return {build.trace_id: build for build in builds.defer("builder_state") if build.trace_id}


def endpoint_rows(endpoints: QuerySet[ModelEndpoint], *fields: str) -> Iterator[tuple[Any, ...]]:
    """`fields` of each endpoint, then its detail, fetched in chunks: a model's 10,000 details decoded at once
    cost a third more CPU than a chunk at a time, whose memory the next chunk reuses."""
    return endpoints.values_list(*fields, "detail").iterator(chunk_size=2000)


def model_document(version: ModelVersion) -> ApiModel:
    """The whole model as apimodel shapes it (for OpenAPI and diffs), assembled from the stored rows."""
    endpoints = [row[0] for row in endpoint_rows(version.endpoints.order_by("pk"))]
    return {
        "witness_count": version.witness_count,
        "servers": version.servers,
        "endpoints": endpoints,
        "security_schemes": version.security_schemes,
    }


def documents_for_diff(base: ModelVersion, head: ModelVersion) -> tuple[ApiModel, ApiModel]:
    """The two models as `diff_models` compares them, less the endpoints whose shape (method, host, path and all a
    diff compares) is in both: they can make no change. The database finds the others (an anti-join of two
    index-only scans) and only they are read whole."""

    def document(version: ModelVersion, other: ModelVersion) -> ApiModel:
        unmatched = version.endpoints.filter(~Exists(other.endpoints.filter(shape=OuterRef("shape")))).values("pk")
        # one plain query: a chunked read's cursor would be planned for its first rows (a nested loop, 5x slower)
        details = ModelEndpoint.objects.filter(pk__in=unmatched).order_by("pk").values_list("detail", flat=True)
        return {
            "witness_count": version.witness_count,
            "servers": version.servers,
            "endpoints": list(details),
            "security_schemes": version.security_schemes,
        }

    return document(base, head), document(head, base)


def latest_ready_model(*, trace: Trace) -> ModelVersion | None:
    """What the console shows while a newer version builds."""
    return trace.model_versions.filter(status=READY).first()


def endpoints_filtered(
    *,
    version: ModelVersion,
    method: str = "",
    auth: str = "",
    status: str = "",
    host: str = "",
    q: str = "",
    sensitive: bool = False,
    errors: bool = False,
    timed: bool = False,
) -> QuerySet[ModelEndpoint]:
    """The model's endpoints narrowed by each filter given: `sensitive` keeps those handling personal or secret
    data, `errors` those that answered a 5xx, `timed` those with latency."""
    endpoints = version.endpoints.all()
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
    if sensitive:
        endpoints = endpoints.exclude(sensitive="")
    if errors:
        endpoints = endpoints.filter(error_count__gt=0)
    if timed:
        endpoints = endpoints.filter(latency_p99_ms__isnull=False)
    return endpoints


# How the endpoints table sorts: each key's columns, in the order its header sorts first (numbers biggest first).
ENDPOINT_SORTS: dict[str, tuple[str, ...]] = {
    "path": ("host", "path", "method"),
    "count": ("-count",),
    "errors": ("-error_rate", "-error_count"),
    "p99": ("-latency_p99_ms",),
    "last_seen": ("-last_seen",),
}
ENDPOINT_GROUPS = {"host": "host", "prefix": "path_prefix"}


def _ordered(column: str, reverse: bool) -> OrderBy:
    descending = column.startswith("-") != reverse
    field = F(column.lstrip("-"))
    return field.desc(nulls_last=True) if descending else field.asc(nulls_last=True)


def endpoints_sorted(
    endpoints: QuerySet[ModelEndpoint], *, sort: str, reverse: bool = False, group: str = ""
) -> QuerySet[ModelEndpoint]:
    """Endpoints in the order of an ENDPOINT_SORTS key (`reverse` flips it), within groups of an
    ENDPOINT_GROUPS key when one is given; ties keep one stable order, so pages never overlap."""
    columns = [_ordered(column, reverse) for column in ENDPOINT_SORTS[sort]]
    if group:
        columns.insert(0, F(ENDPOINT_GROUPS[group]).asc())
    return endpoints.order_by(*columns, "pk")


def endpoint_group_sizes(endpoints: QuerySet[ModelEndpoint], *, group: str, values: set[str]) -> dict[str, int]:
    """How many of these endpoints are in each of the groups named by `values` (one query)."""
    column = ENDPOINT_GROUPS[group]
    sizes = endpoints.filter(**{f"{column}__in": values}).order_by().values(column).annotate(size=Count("pk"))
    return {row[column]: row["size"] for row in sizes}


def newest_ready_trace_model(*, project: Project) -> ModelVersion | None:
    """The newest ready model of any of the project's traces (the overview links to it)."""
    return (
        ModelVersion.objects.filter(trace__project=project, status=READY)
        .select_related("trace")
        .order_by("-finished_at", "-pk")
        .first()
    )


def endpoint_filter_options(*, version: ModelVersion) -> dict[str, list[str]]:
    """The values each endpoint filter can take in this model, for the console's select boxes. A ready model
    never changes, so they are worked out once (each a scan of its endpoints) and cached."""

    def distinct(column: str) -> list[str]:
        return list(version.endpoints.order_by().values_list(column, flat=True).distinct())

    def items(column: str) -> list[str]:
        return sorted({item for value in distinct(column) for item in value.split(",") if item})

    def options() -> dict[str, list[str]]:
        return {
            "method": sorted(distinct("method")),
            "host": sorted(distinct("host")),
            "auth": items("auth"),
            "status": items("status_codes"),
        }

    return cast(dict[str, list[str]], cache.get_or_set(f"endpoint-filter-options:{version.public_id}", options, None))


def latest_ready_project_model(*, project: Project) -> ModelVersion | None:
    """The project's newest ready merged model (over all its stored traffic)."""
    return project.model_versions.filter(trace=None, status=READY).first()


def model_by_ref(*, project: Project, ref: str) -> ModelVersion:
    """A ready model of the project: `project` (merged), a `mdl_` id, or a trace id or name (its latest)."""
    if ref == "project":
        version = latest_ready_project_model(project=project)
    elif ref.startswith("mdl_"):
        version = project.model_versions.filter(public_id=ref, status=READY).first()
    else:
        version = latest_ready_model(trace=trace_for_project(project=project, trace_ref=ref))
    if version is None:
        raise NotFound(f"No ready model for {ref!r}.")
    return version


def endpoint_for_project(*, project: Project, endpoint_id: str) -> ModelEndpoint:
    """An endpoint of any ready model of the project, with its model, so links outlive rebuilds; NotFound
    otherwise."""
    endpoint = (
        ModelEndpoint.objects.filter(public_id=endpoint_id, model_version__project=project, model_version__status=READY)
        .select_related("model_version__trace")
        .first()
    )
    if endpoint is None:
        raise NotFound("No such endpoint.")
    return endpoint


def latest_project_model(*, project: Project) -> ModelVersion | None:
    """The newest build of the project's merged model, whatever its state."""
    return project.model_versions.filter(trace=None).first()


def project_builds_pending(*, project: Project) -> bool:
    """Whether any model of the project (a trace's or the merged one) is queued or building."""
    return project.model_versions.filter(status__in=ModelVersion.PENDING).exists()


def traces_with_ready_model(*, project: Project) -> list[tuple[str, str]]:
    """(id, name) of the project's traces that have a ready model (what can be compared), newest first."""
    ready = ModelVersion.objects.filter(trace=OuterRef("pk"), status=READY)
    return list(Trace.objects.filter(Exists(ready), project=project).values_list("public_id", "name"))
