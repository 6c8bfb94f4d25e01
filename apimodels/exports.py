"""A ready model version's exports (the API model JSON, OpenAPI JSON and YAML): written afresh, or as stored.

A ready version never changes, so its build stores its exports gzip-compressed (`exports_store`) and the API serves
those bytes, as they are to a client that accepts gzip: 10,000 endpoints take seconds of CPU to write and
milliseconds to send. An export missing (a live preview's, or a version's built before exports were stored), or an
OpenAPI document whose title (the project's and trace's names) changed since, is written afresh when asked for,
and stored.
"""

import zlib
from collections.abc import Iterator, Mapping
from typing import Any

import orjson
from django.db import IntegrityError, transaction
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apimodel.openapi import openapi_json, openapi_yaml, to_openapi
from apimodels.models import ModelExport, ModelVersion
from apimodels.selectors import endpoint_rows, endpoints_filtered, model_document
from controlplane.memory import cyclic_gc_paused

MODEL_FILTERS = {
    "method": "Only endpoints of this HTTP method.",
    "auth": "Only endpoints seen with this auth scheme (e.g. bearer, basic, none).",
    "status": "Only endpoints that answered this status code.",
    "host": "Only endpoints of this host.",
    "q": "Only endpoints whose path contains this text.",
}


@extend_schema_field(
    {"type": "object", "description": "OpenAPI security schemes by name.", "additionalProperties": {"type": "object"}}
)
class SecuritySchemesField(serializers.JSONField):
    pass


class PathHintsSerializer(serializers.Serializer[Any]):
    force = serializers.ListField(
        child=serializers.CharField(max_length=500),
        default=list,
        help_text="Templates that win over inference; a {name} segment matches any one segment.",
    )
    static = serializers.ListField(
        child=serializers.CharField(max_length=500), default=list, help_text="Paths whose segments stay static."
    )
    hidden = serializers.ListField(
        child=serializers.CharField(max_length=500), default=list, help_text="Templates or prefixes left out."
    )
    show_default_hidden = serializers.BooleanField(default=False, help_text="Show health checks and static assets.")


class ModelVersionSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(source="public_id", help_text="mdl_…")
    version = serializers.IntegerField()
    trace_id = serializers.CharField(
        source="trace.public_id", allow_null=True, default=None, help_text="None for the project's merged model."
    )
    witness_count = serializers.IntegerField()
    witnesses_skipped = serializers.IntegerField(
        source="skipped", help_text="Stored witnesses left out because they could not be read."
    )
    path_hints = PathHintsSerializer(help_text="The path hints this version was built with.")
    finished_at = serializers.DateTimeField()
    security_schemes = SecuritySchemesField()


ENDPOINT_COLUMNS = (
    "public_id",
    "method",
    "host",
    "path",
    "count",
    "auth",
    "status_codes",
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p99_ms",
    "first_seen",
    "last_seen",
)


def _listed(delimited: str) -> list[str]:
    return [item for item in delimited.split(",") if item]


def _endpoint_json(row: tuple[Any, ...]) -> bytes:
    public_id, method, host, path, count, auth, codes, p50, p90, p99, first_seen, last_seen, detail = row
    endpoint = {
        "id": public_id,
        "method": method,
        "host": host,
        "path": path,
        "count": count,
        "auth": _listed(auth),
        "status_codes": _listed(codes),
        "latency_ms": {"p50": p50, "p90": p90, "p99": p99},
        "first_seen": first_seen,
        "last_seen": last_seen,
        "parameters": detail["parameters"],
        "request_body": detail["request_body"],
        "responses": detail["responses"],
    }
    return orjson.dumps(endpoint, option=orjson.OPT_UTC_Z)


def model_json(version: ModelVersion, filters: Mapping[str, Any]) -> Iterator[bytes]:
    """A ready model as ApiModelSerializer shows it, its endpoints narrowed by MODEL_FILTERS, as JSON."""
    endpoints = endpoints_filtered(version=version, **filters)
    head = orjson.dumps(ModelVersionSerializer(version).data)
    yield head[:-1] + b',"endpoints":['
    for index, row in enumerate(endpoint_rows(endpoints, *ENDPOINT_COLUMNS)):
        yield (b"," if index else b"") + _endpoint_json(row)
    yield b"]}"


def export_title(version: ModelVersion) -> str:
    """The title of the version's OpenAPI document: the project's name, and its trace's for a trace's model."""
    if version.trace is None:
        return version.project.name
    return f"{version.project.name} {version.trace.name}"


def export_written(version: ModelVersion, export: ModelExport.Format, title: str) -> list[bytes]:
    """The export written afresh from the stored model, all of it before the cyclic GC runs again: its first
    collection after the pause would scan every object of a live OpenAPI document (40% of an export's CPU at
    10,000 endpoints), while a document already written is freed by reference counting."""
    with cyclic_gc_paused():
        if export == ModelExport.Format.MODEL_JSON:
            return list(model_json(version, {}))
        writer = openapi_yaml if export == ModelExport.Format.OPENAPI_YAML else openapi_json
        return list(writer(to_openapi(model_document(version), title=title)))


def gzipped(chunks: list[bytes]) -> bytes:
    compressor = zlib.compressobj(6, wbits=31)  # 31: a gzip header and trailer
    return b"".join([*(compressor.compress(chunk) for chunk in chunks), compressor.flush()])


def _keep(version: ModelVersion, export: ModelExport.Format, title: str, content: bytes) -> None:
    row = ModelExport(model_version=version, format=export, title=title, gzipped=content)
    ModelExport.objects.bulk_create(
        [row], update_conflicts=True, unique_fields=["model_version", "format"], update_fields=["title", "gzipped"]
    )


def exports_store(version: ModelVersion) -> None:
    """Write and store every export of a version the build is making ready (in its transaction)."""
    title = export_title(version)
    for export in ModelExport.Format:
        _keep(version, export, title, gzipped(export_written(version, export, title)))


def export_gzipped(version: ModelVersion, export: ModelExport.Format) -> bytes:
    """The export, gzip-compressed: as stored, or written and stored when missing or titled otherwise."""
    title = export_title(version)
    stored = ModelExport.objects.filter(model_version=version, format=export, title=title).values_list("gzipped")
    for (content,) in stored:
        return bytes(content)
    content = gzipped(export_written(version, export, title))
    try:
        with transaction.atomic():
            _keep(version, export, title, content)
    except IntegrityError:
        pass  # the version was superseded and deleted meanwhile: served, not stored
    return content
