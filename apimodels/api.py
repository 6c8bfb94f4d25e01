from collections.abc import Iterator
from typing import Any

import orjson
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from apimodel.diff import diff_models
from apimodel.openapi import openapi_json, openapi_yaml, to_openapi
from apimodels.models import ModelVersion
from apimodels.selectors import (
    documents_for_diff,
    endpoint_rows,
    endpoints_filtered,
    latest_ready_model,
    latest_ready_project_model,
    model_by_ref,
    model_document,
    path_hints_of,
)
from apimodels.services import model_rebuild, models_rebuild_all, project_model_enqueue, project_path_hints_update
from controlplane.errors import Invalid, NotFound
from controlplane.memory import cyclic_gc_paused
from controlplane.schema import errors
from controlplane.streaming import streaming_response
from projects.auth import ApiRequest
from projects.gate import ProjectApiView
from projects.models import Project
from traces.api import ModelBuildSerializer
from traces.models import Trace
from traces.selectors import trace_for_project

MODEL_FILTERS = {
    "method": "Only endpoints of this HTTP method.",
    "auth": "Only endpoints seen with this auth scheme (e.g. bearer, basic, none).",
    "status": "Only endpoints that answered this status code.",
    "host": "Only endpoints of this host.",
    "q": "Only endpoints whose path contains this text.",
}
JSON_SCHEMA = {"type": "object", "description": "A JSON Schema (draft 2020-12) of what was seen."}


@extend_schema_field(
    {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["name", "in", "required", "schema"],
            "properties": {
                "name": {"type": "string"},
                "in": {"type": "string", "enum": ["path", "query", "header", "cookie"]},
                "required": {"type": "boolean"},
                "schema": JSON_SCHEMA,
            },
        },
    }
)
class ParametersField(serializers.JSONField):
    pass


@extend_schema_field(
    {"type": "object", "description": "Body schema by content type.", "additionalProperties": JSON_SCHEMA}
)
class BodiesField(serializers.JSONField):
    pass


@extend_schema_field(
    {
        "type": "object",
        "description": "By status code: how many responses, and body schema by content type.",
        "additionalProperties": {
            "type": "object",
            "required": ["count", "content"],
            "properties": {
                "count": {"type": "integer"},
                "content": {"type": "object", "additionalProperties": JSON_SCHEMA},
            },
        },
    }
)
class ResponsesField(serializers.JSONField):
    pass


@extend_schema_field(
    {"type": "object", "description": "OpenAPI security schemes by name.", "additionalProperties": {"type": "object"}}
)
class SecuritySchemesField(serializers.JSONField):
    pass


class LatencySerializer(serializers.Serializer[Any]):
    p50 = serializers.FloatField(source="latency_p50_ms", allow_null=True)
    p90 = serializers.FloatField(source="latency_p90_ms", allow_null=True)
    p99 = serializers.FloatField(source="latency_p99_ms", allow_null=True)


class ModelEndpointSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(source="public_id", help_text="ept_…")
    method = serializers.CharField()
    host = serializers.CharField()
    path = serializers.CharField(help_text="A path template, e.g. /v1/users/{user_id}.")
    count = serializers.IntegerField(help_text="Requests seen.")
    auth = serializers.ListField(source="auth_list", child=serializers.CharField())
    status_codes = serializers.ListField(source="status_code_list", child=serializers.CharField())
    latency_ms = LatencySerializer(source="*")
    first_seen = serializers.DateTimeField(allow_null=True)
    last_seen = serializers.DateTimeField(allow_null=True)
    parameters = ParametersField(source="detail.parameters")
    request_body = BodiesField(source="detail.request_body")
    responses = ResponsesField(source="detail.responses")


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


class ApiModelSerializer(ModelVersionSerializer):
    """The model as the API documents it; `model_json` writes it (a serializer per endpoint is too slow for
    models of thousands of endpoints)."""

    endpoints = ModelEndpointSerializer(many=True, help_text="Narrowed by the query's filters.")


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


def model_json(version: ModelVersion, query: Any) -> Iterator[bytes]:
    """A ready model as ApiModelSerializer shows it, its endpoints narrowed by the query's filters, as JSON."""
    filters = {name: query.get(name, "") for name in MODEL_FILTERS}
    endpoints = endpoints_filtered(version=version, **filters)
    head = orjson.dumps(ModelVersionSerializer(version).data)
    yield head[:-1] + b',"endpoints":['
    for index, row in enumerate(endpoint_rows(endpoints, *ENDPOINT_COLUMNS)):
        yield (b"," if index else b"") + _endpoint_json(row)
    yield b"]}"


def model_response(version: ModelVersion, query: Any) -> HttpResponse:
    with cyclic_gc_paused():
        return HttpResponse(b"".join(model_json(version, query)), content_type="application/json")


def openapi_response(request: ApiRequest, version: ModelVersion, *, name: str) -> HttpResponseBase:
    """The model as an OpenAPI document, written a path item at a time into 64 KB chunks, all made before the
    cyclic GC runs again: its first collection after the pause would scan every object of a live document (40%
    of an export's CPU at 10,000 endpoints), while a document already written is freed by reference counting."""
    output = request.query_params.get("format", "json")
    if output not in ("json", "yaml"):
        raise Invalid("Must be json or yaml.", field="format")
    writer, content_type = (
        (openapi_yaml, "application/yaml") if output == "yaml" else (openapi_json, "application/json")
    )
    with cyclic_gc_paused():
        chunks = list(writer(to_openapi(model_document(version), title=name)))
    response = streaming_response(request._request, iter(chunks), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{slugify(name)}.openapi.{output}"'
    return response


MODEL_PARAMETERS = [
    OpenApiParameter(name, str, required=False, description=text) for name, text in MODEL_FILTERS.items()
]
OPENAPI_PARAMETERS = [
    OpenApiParameter("format", str, enum=["json", "yaml"], required=False, description="json (the default) or yaml.")
]
OPENAPI_RESPONSES = {
    (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description="An OpenAPI 3.1 document."),
    (200, "application/yaml"): OpenApiResponse(OpenApiTypes.STR, description="The same document as YAML."),
    **{(status, "application/json"): response for status, response in errors(400, 401, 403, 404).items()},
}


def trace_ready_model(project: Project, trace_ref: str) -> tuple[Trace, ModelVersion]:
    trace = trace_for_project(project=project, trace_ref=trace_ref)
    version = latest_ready_model(trace=trace)
    if version is None:
        raise NotFound("This trace has no ready model yet; see the trace's model_build for progress.")
    return trace, version


@extend_schema(tags=["models"])
class TraceModelApi(ProjectApiView):
    @extend_schema(
        operation_id="trace_model_retrieve",
        summary="Read a trace's model",
        description="The newest ready model built from the trace's traffic: endpoints with their parameters, "
        "bodies, responses, auth and latency. While a newer version builds, this one is served.",
        parameters=MODEL_PARAMETERS,
        responses={200: ApiModelSerializer, **errors(401, 403, 404)},
    )
    def get(self, request: ApiRequest, trace: str) -> HttpResponse:
        _, version = trace_ready_model(self.project, trace)
        return model_response(version, request.query_params)


@extend_schema(tags=["models"])
class TraceOpenApiApi(ProjectApiView):
    @extend_schema(
        operation_id="trace_openapi_export",
        summary="Export a trace's model as OpenAPI",
        description="The trace's newest ready model as an OpenAPI 3.1 document, as a download.",
        parameters=OPENAPI_PARAMETERS,
        responses=OPENAPI_RESPONSES,
    )
    def get(self, request: ApiRequest, trace: str) -> HttpResponseBase:
        found, version = trace_ready_model(self.project, trace)
        return openapi_response(request, version, name=f"{found.project.name} {found.name}")


@extend_schema(tags=["models"])
class TraceRebuildApi(ProjectApiView):
    @extend_schema(
        operation_id="trace_model_rebuild",
        summary="Rebuild a trace's model",
        description="Queue a new version built from the trace's stored witnesses, with today's inference and path "
        "hints. 409 once the witnesses are past retention.",
        request=None,
        responses={202: ModelBuildSerializer, **errors(401, 403, 404, 409)},
    )
    def post(self, request: ApiRequest, trace: str) -> Response:
        found = trace_for_project(project=self.project, trace_ref=trace)
        return Response(ModelBuildSerializer(model_rebuild(trace=found)).data, status=status.HTTP_202_ACCEPTED)


def project_ready_model(project: Project) -> ModelVersion:
    version = latest_ready_project_model(project=project)
    if version is None:
        raise NotFound("The project has no merged model yet; it builds after a trace's model does.")
    return version


@extend_schema(tags=["models"])
class ProjectModelApi(ProjectApiView):
    @extend_schema(
        operation_id="project_model_retrieve",
        summary="Read the project's merged model",
        description="The project's model merged over all its stored traffic; it rebuilds after each trace's model.",
        parameters=MODEL_PARAMETERS,
        responses={200: ApiModelSerializer, **errors(401, 403, 404)},
    )
    def get(self, request: ApiRequest) -> HttpResponse:
        return model_response(project_ready_model(self.project), request.query_params)


@extend_schema(tags=["models"])
class ProjectOpenApiApi(ProjectApiView):
    @extend_schema(
        operation_id="project_openapi_export",
        summary="Export the merged model as OpenAPI",
        description="The project's merged model as an OpenAPI 3.1 document, as a download.",
        parameters=OPENAPI_PARAMETERS,
        responses=OPENAPI_RESPONSES,
    )
    def get(self, request: ApiRequest) -> HttpResponseBase:
        return openapi_response(request, project_ready_model(self.project), name=self.project.name)


@extend_schema(tags=["models"])
class ProjectModelRebuildApi(ProjectApiView):
    @extend_schema(
        operation_id="project_model_rebuild",
        summary="Rebuild the merged model",
        description="Queue a build of the project's merged model, unless one is already waiting to start.",
        request=None,
        responses={202: ModelBuildSerializer, **errors(401, 403, 404)},
    )
    def post(self, request: ApiRequest) -> Response:
        version = project_model_enqueue(project=self.project)
        return Response(ModelBuildSerializer(version).data, status=status.HTTP_202_ACCEPTED)


class PathHintsUpdateSerializer(PathHintsSerializer):
    rebuild = serializers.BooleanField(default=True, help_text="Rebuild past traces from stored witnesses.")


class PathHintsSavedSerializer(PathHintsSerializer):
    rebuilds_queued = serializers.IntegerField(required=False, help_text="Traces queued to rebuild.")


@extend_schema(tags=["models"])
class PathHintsApi(ProjectApiView):
    @extend_schema(
        operation_id="project_path_hints_retrieve",
        summary="Read the path hints",
        description="The project's corrections to path templating, applied on every build and rebuild.",
        responses={200: PathHintsSerializer, **errors(401, 403, 404)},
    )
    def get(self, request: ApiRequest) -> Response:
        return Response(PathHintsSerializer(path_hints_of(self.project)).data)

    @extend_schema(
        operation_id="project_path_hints_update",
        summary="Replace the path hints",
        description="Save the project's path hints (templates like /files/{path}, starting with /); by default "
        "every trace with stored witnesses is rebuilt with them, so they apply to past traffic too.",
        request=PathHintsUpdateSerializer,
        responses={200: PathHintsSavedSerializer, **errors(400, 401, 403, 404)},
    )
    def put(self, request: ApiRequest) -> Response:
        serializer = PathHintsUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rebuild = serializer.validated_data.pop("rebuild")
        project_path_hints_update(project=self.project, **serializer.validated_data)
        data = dict(PathHintsSerializer(path_hints_of(self.project)).data)
        if rebuild:
            data["rebuilds_queued"] = models_rebuild_all(project=self.project)
        return Response(data)


class EndpointRefSerializer(serializers.Serializer[Any]):
    method = serializers.CharField()
    host = serializers.CharField()
    path = serializers.CharField()


class ChangeMarkSerializer(serializers.Serializer[Any]):
    breaking = serializers.BooleanField(help_text="Whether the change can break existing clients.")
    reason = serializers.CharField(help_text="Why, e.g. `response field removed`, `new optional request field`.")


class EndpointChangeSerializer(EndpointRefSerializer, ChangeMarkSerializer):
    pass


class SchemeChangeSerializer(ChangeMarkSerializer):
    scheme = serializers.CharField()


MARK = {
    "breaking": {"type": "boolean", "description": "Whether the change can break existing clients."},
    "reason": {"type": "string", "description": "Why, e.g. `response field removed`."},
}


def _changes(**properties: dict[str, Any]) -> dict[str, Any]:
    properties = {**properties, **MARK}
    return {"type": "array", "items": {"type": "object", "required": list(properties), "properties": properties}}


def _field_change(**properties: dict[str, Any]) -> dict[str, Any]:
    return _changes(
        **{
            "in": {"type": "string", "description": "query, header, cookie, request or response NNN."},
            "field": {"type": "string", "description": "A JSON path, e.g. $.items[].id."},
        },
        **properties,
    )


STRING, BOOLEAN = {"type": "string"}, {"type": "boolean"}


@extend_schema_field(
    {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "method": {"type": "string"},
                "host": {"type": "string"},
                "path": {"type": "string"},
                "fields_added": _field_change(type=STRING, required=BOOLEAN),
                "fields_removed": _field_change(type=STRING, required=BOOLEAN),
                "fields_changed": _field_change(
                    old_type=STRING, new_type=STRING, old_required=BOOLEAN, new_required=BOOLEAN
                ),
                "statuses_added": _changes(status=STRING),
                "statuses_removed": _changes(status=STRING),
                "auth_added": _changes(scheme=STRING),
                "auth_removed": _changes(scheme=STRING),
                "breaking": {"type": "boolean", "description": "Whether any of its changes is breaking."},
            },
        },
    }
)
class EndpointChangesField(serializers.JSONField):
    """Endpoints found in both models whose fields, status codes or auth changed, as apimodel.diff reports them."""


class ModelDiffSerializer(serializers.Serializer[Any]):
    base = ModelVersionSerializer()
    head = ModelVersionSerializer()
    endpoints_added = EndpointChangeSerializer(many=True)
    endpoints_removed = EndpointChangeSerializer(many=True)
    endpoints_changed = EndpointChangesField()
    security_schemes_added = SchemeChangeSerializer(many=True)
    security_schemes_removed = SchemeChangeSerializer(many=True)
    breaking = serializers.BooleanField(help_text="Whether any change can break existing clients.")


MODEL_REF = "A trace id or name (its newest ready model), a model id (mdl_…), or `project` (the merged model)."


@extend_schema(tags=["models"])
class ModelDiffApi(ProjectApiView):
    @extend_schema(
        operation_id="project_models_diff",
        summary="Compare two models",
        description="What changed from the base model to the head: endpoints added and removed, and per endpoint "
        "the fields added, removed, retyped or newly required, status codes and auth schemes; each change says "
        "whether it can break clients (`breaking`) and why (`reason`). Endpoints match by method, host and path "
        "template.",
        parameters=[
            OpenApiParameter("base", str, required=True, description=MODEL_REF),
            OpenApiParameter("head", str, required=True, description=MODEL_REF),
        ],
        responses={200: ModelDiffSerializer, **errors(400, 401, 403, 404)},
    )
    def get(self, request: ApiRequest) -> Response:
        refs = {side: request.query_params.get(side, "") for side in ("base", "head")}
        for side, ref in refs.items():
            if not ref:
                raise Invalid("A trace id or name, a model id, or `project` is required.", field=side)
        models = {side: model_by_ref(project=self.project, ref=ref) for side, ref in refs.items()}
        diff = diff_models(*documents_for_diff(models["base"], models["head"]))
        return Response(ModelDiffSerializer({**models, **diff}).data)
