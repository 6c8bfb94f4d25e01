import hashlib
from typing import Any

import orjson
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.expressions import Expression

from apimodel.model_types import Endpoint
from controlplane.ids import PublicIdField
from projects.models import Project
from traces.models import Trace


class JsonTextField(models.TextField):  # type: ignore[type-arg]
    """JSON kept as the text orjson writes, decoded by orjson. PostgreSQL hands text back as stored, where it
    writes a jsonb value out anew on every read: 10,000 endpoint details read three times faster (bench/RESULTS.md,
    "Pages at 10,000 endpoints"). For documents read whole, never queried inside."""

    _pyi_private_set_type: Any  # what django-stubs' plugin types the attribute by: any JSON value
    _pyi_private_get_type: Any

    def from_db_value(self, value: str | None, expression: Expression, connection: BaseDatabaseWrapper) -> Any:
        return None if value is None else orjson.loads(value)

    def get_prep_value(self, value: Any) -> str:
        return orjson.dumps(value).decode()


class ModelVersion(models.Model):
    """One build of an API model: of a trace, or (no trace) the project's model merged over its stored traffic.

    The build state is stored because it is work state.
    """

    class BuildStatus(models.TextChoices):
        QUEUED = "queued"
        BUILDING = "building"
        READY = "ready"
        FAILED = "failed"

    PENDING = (BuildStatus.QUEUED, BuildStatus.BUILDING)

    public_id = PublicIdField(prefix="mdl")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_versions")
    trace = models.ForeignKey(Trace, null=True, blank=True, on_delete=models.CASCADE, related_name="model_versions")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=BuildStatus.choices, default=BuildStatus.QUEUED)
    processed = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    # Witnesses the build could not read (corrupt, or anything the builder refused): left out and counted.
    skipped = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # Who runs the build and whether it lives: the Celery task that claimed it, its last sign of progress,
    # and how many times it was claimed (a build that kills its worker is given up after a few).
    task_id = models.CharField(max_length=64, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When the build's message last went to the broker (None: not yet, e.g. the broker was down), and for a
    # follow-up build of a closed trace, when it may start (once no more in-flight uploads can arrive).
    sent_at = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(null=True, blank=True)
    # The project's path hints when the build ran, so a model says which settings shaped it.
    path_hints = models.JSONField(default=dict, blank=True)
    # Live builds of an active trace fold only the witnesses received since the previous live build,
    # continuing from its stored ModelBuilder; every other build starts over from the stored witnesses.
    incremental = models.BooleanField(default=False)
    builder_state = models.BinaryField(null=True, blank=True, editable=False)
    folded_until = models.DateTimeField(null=True, blank=True)
    # The model-level parts of a ready model (apimodel's ApiModel); its endpoints are the ModelEndpoint rows.
    witness_count = models.PositiveIntegerField(default=0)
    servers = models.JSONField(default=list, blank=True)
    security_schemes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["trace", "version"], condition=models.Q(trace__isnull=False), name="model_version_unique"
            ),
            models.UniqueConstraint(
                fields=["project", "version"],
                condition=models.Q(trace__isnull=True),
                name="project_model_version_unique",
            ),
        ]
        ordering = ["-version"]

    @property
    def progress_percent(self) -> int:
        if self.status == self.BuildStatus.READY:
            return 100
        return int(100 * self.processed / self.total) if self.total else 0

    @property
    def is_pending(self) -> bool:
        return self.status in self.PENDING


def _delimited(items: list[str]) -> str:
    return "," + ",".join(items) + "," if items else ""


def endpoint_shape(endpoint: Endpoint) -> str:
    """A digest of an endpoint's method, host and path and of the parts `apimodel.diff` compares; counts, times and
    latency aside."""
    parts = {
        "key": [endpoint["method"], endpoint["host"], endpoint["path"]],
        "parameters": endpoint.get("parameters", []),
        "request_body": endpoint.get("request_body", {}),
        "responses": {code: response.get("content", {}) for code, response in endpoint.get("responses", {}).items()},
        "auth": endpoint.get("auth", []),
    }
    return hashlib.blake2b(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS), digest_size=16).hexdigest()


PREFIX_SEGMENTS = 2


def path_prefix(path: str) -> str:
    """The leading static segments of a path template, at most PREFIX_SEGMENTS (`/` when it starts with a
    parameter): what the endpoints table groups by."""
    static = []
    for segment in path.split("/")[1 : PREFIX_SEGMENTS + 1]:
        if not segment or "{" in segment:
            break
        static.append(segment)
    return "/" + "/".join(static)


class ModelEndpoint(models.Model):
    """An endpoint of a ready model version: its JSON (apimodel's Endpoint) as the builder made it, and beside
    it the columns the console and API filter and sort on."""

    public_id = PublicIdField(prefix="ept")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="endpoints")
    method = models.CharField(max_length=16)
    host = models.CharField(max_length=255)
    path = models.CharField(max_length=2000)
    count = models.PositiveIntegerField()
    # Delimited lists (",bearer,none,") so that filters are one portable `contains` lookup.
    auth = models.TextField()  # one API-key header name after another: no length fits them all
    status_codes = models.TextField()
    latency_p50_ms = models.FloatField(null=True)
    latency_p90_ms = models.FloatField(null=True)
    latency_p99_ms = models.FloatField(null=True)
    first_seen = models.DateTimeField(null=True)
    last_seen = models.DateTimeField(null=True)
    # Responses with a 5xx status, and their share of `count` (the Errors tab ranks by it).
    error_count = models.PositiveIntegerField(default=0)
    error_rate = models.FloatField(default=0)
    # Up to two leading static segments (`/v1/users` of `/v1/users/{user_id}/orders`): the path grouping.
    path_prefix = models.CharField(max_length=2000, default="/")
    # Delimited kinds of personal or secret data (`,email,secret,`), like `auth`.
    sensitive = models.CharField(max_length=500, default="")
    # A digest of the endpoint's method, host, path and of what a diff compares (parameters, bodies, status codes,
    # auth): endpoints of two models with the same shape differ in nothing a diff reports, so it skips them.
    shape = models.CharField(max_length=32, default="")
    detail = JsonTextField()  # the endpoint as apimodel.model_types.Endpoint

    class Meta:
        ordering = ["host", "path", "method"]
        # The console pages a model's endpoints by one of these orders; each is an index scan from the top.
        indexes = [
            models.Index(fields=["model_version", "host", "path", "method"], name="endpoint_by_host_path"),
            models.Index(fields=["model_version", "path_prefix", "path"], name="endpoint_by_prefix"),
            models.Index(fields=["model_version", "method"], name="endpoint_by_method"),
            models.Index(fields=["model_version", "shape", "id"], name="endpoint_by_shape"),
            models.Index(fields=["model_version", "count"], name="endpoint_by_count"),
            models.Index(fields=["model_version", "error_rate"], name="endpoint_by_error_rate"),
            models.Index(fields=["model_version", "latency_p99_ms"], name="endpoint_by_p99"),
            models.Index(fields=["model_version", "last_seen"], name="endpoint_by_last_seen"),
        ]

    @classmethod
    def of(cls, model_id: int, endpoint: Endpoint) -> "ModelEndpoint":
        """The row of an endpoint of the model version `model_id`, its columns taken from the endpoint."""
        latency = endpoint.get("latency_ms") or {}
        errors = sum(response["count"] for code, response in endpoint.get("responses", {}).items() if int(code) >= 500)
        return cls(
            model_version_id=model_id,
            method=endpoint["method"],
            host=endpoint["host"],
            path=endpoint["path"],
            count=endpoint["count"],
            auth=_delimited(endpoint.get("auth", [])),
            status_codes=_delimited(sorted(endpoint.get("responses", {}))),
            latency_p50_ms=latency.get("p50"),
            latency_p90_ms=latency.get("p90"),
            latency_p99_ms=latency.get("p99"),
            first_seen=endpoint.get("first_seen"),
            last_seen=endpoint.get("last_seen"),
            error_count=errors,
            error_rate=errors / endpoint["count"] if endpoint["count"] else 0,
            path_prefix=path_prefix(endpoint["path"]),
            sensitive=_delimited(endpoint.get("sensitive", [])),
            shape=endpoint_shape(endpoint),
            detail=endpoint,
        )

    @property
    def auth_list(self) -> list[str]:
        return [item for item in self.auth.split(",") if item]

    @property
    def status_code_list(self) -> list[str]:
        return [item for item in self.status_codes.split(",") if item]

    @property
    def sensitive_list(self) -> list[str]:
        return [item for item in self.sensitive.split(",") if item]


class ProjectPathHints(models.Model):
    """A project's path hints (`apimodel.PathHints`): every build and rebuild of its models applies them."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, primary_key=True, related_name="path_hints")
    force = models.JSONField(default=list)
    static = models.JSONField(default=list)
    hidden = models.JSONField(default=list)
    show_default_hidden = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)


class ModelExport(models.Model):
    """An export of a ready model version, gzip-compressed: written when the build makes the version ready (a ready
    version never changes), served as stored. The OpenAPI documents carry a title from the project's and trace's
    names, which can change: an export whose `title` is not today's is written again."""

    class Format(models.TextChoices):
        MODEL_JSON = "model.json"
        OPENAPI_JSON = "openapi.json"
        OPENAPI_YAML = "openapi.yaml"

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="exports")
    format = models.CharField(max_length=16, choices=Format.choices)
    title = models.TextField()
    gzipped = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model_version", "format"], name="model_export_unique")]
