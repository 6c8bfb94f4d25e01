import zlib
from typing import Any

from django.http import HttpResponse
from django.utils.cache import patch_vary_headers
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from apimodel.diff import diff_models
from apimodels.exports import (
    MODEL_FILTERS,
    ModelVersionSerializer,
    PathHintsSerializer,
    export_gzipped,
    export_title,
    model_json,
)
from apimodels.models import ModelExport, ModelVersion
from apimodels.selectors import (
    documents_for_diff,
    latest_ready_model,
    latest_ready_project_model,
    model_by_ref,
    path_hints_of,
)
from apimodels.services import model_rebuild, models_rebuild_all, project_model_enqueue, project_path_hints_update
from controlplane.errors import Invalid, NotFound
from controlplane.memory import cyclic_gc_paused
from controlplane.schema import errors
from projects.auth import ApiRequest
from projects.gate import ProjectApiView
from projects.models import Project
from traces.api import ModelBuildSerializer
from traces.selectors import trace_for_project

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


class ApiModelSerializer(ModelVersionSerializer):
    """The model as the API documents it; `model_json` writes it (a serializer per endpoint is too slow for
    models of thousands of endpoints)."""

    endpoints = ModelEndpointSerializer(many=True, help_text="Narrowed by the query's filters.")


def _accepts_gzip(accept_encoding: str) -> bool:
    """Whether `gzip` (or `*`) is among the content codings an Accept-Encoding header accepts (a weight above 0)."""
    for coding in accept_encoding.lower().split(","):
        name, _, weight = coding.partition(";")
        if name.strip() in ("gzip", "*"):
            q = weight.strip().removeprefix("q=")
            try:
                return not q or float(q) > 0
            except ValueError:
                return False
    return False


def export_response(request: ApiRequest, version: ModelVersion, export: ModelExport.Format) -> HttpResponse:
    """The version's stored export: its gzip bytes as they are (`Content-Encoding: gzip`) to a client that
    accepts gzip, else decompressed."""
    content = export_gzipped(version, export)
    content_type = "application/yaml" if export == ModelExport.Format.OPENAPI_YAML else "application/json"
    if _accepts_gzip(request.headers.get("Accept-Encoding", "")):
        response = HttpResponse(content, content_type=content_type, headers={"Content-Encoding": "gzip"})
    else:
        response = HttpResponse(zlib.decompress(content, wbits=31), content_type=content_type)
    patch_vary_headers(response, ["Accept-Encoding"])
    return response


def model_response(request: ApiRequest, version: ModelVersion) -> HttpResponse:
    """The model JSON: as stored, or narrowed by the query's filters and written afresh."""
    filters = {name: request.query_params.get(name, "") for name in MODEL_FILTERS}
    if not any(filters.values()):
        return export_response(request, version, ModelExport.Format.MODEL_JSON)
    with cyclic_gc_paused():
        return HttpResponse(b"".join(model_json(version, filters)), content_type="application/json")


def openapi_response(request: ApiRequest, version: ModelVersion) -> HttpResponse:
    output = request.query_params.get("format", "json")
    if output not in ("json", "yaml"):
        raise Invalid("Must be json or yaml.", field="format")
    response = export_response(request, version, ModelExport.Format(f"openapi.{output}"))
    response["Content-Disposition"] = f'attachment; filename="{slugify(export_title(version))}.openapi.{output}"'
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


def trace_ready_model(project: Project, trace_ref: str) -> ModelVersion:
    trace = trace_for_project(project=project, trace_ref=trace_ref)
    version = latest_ready_model(trace=trace)
    if version is None:
        raise NotFound("This trace has no ready model yet; see the trace's model_build for progress.")
    return version


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
        return model_response(request, trace_ready_model(self.project, trace))


@extend_schema(tags=["models"])
class TraceOpenApiApi(ProjectApiView):
    @extend_schema(
        operation_id="trace_openapi_export",
        summary="Export a trace's model as OpenAPI",
        description="The trace's newest ready model as an OpenAPI 3.1 document, as a download.",
        parameters=OPENAPI_PARAMETERS,
        responses=OPENAPI_RESPONSES,
    )
    def get(self, request: ApiRequest, trace: str) -> HttpResponse:
        return openapi_response(request, trace_ready_model(self.project, trace))


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
        return model_response(request, project_ready_model(self.project))


@extend_schema(tags=["models"])
class ProjectOpenApiApi(ProjectApiView):
    @extend_schema(
        operation_id="project_openapi_export",
        summary="Export the merged model as OpenAPI",
        description="The project's merged model as an OpenAPI 3.1 document, as a download.",
        parameters=OPENAPI_PARAMETERS,
        responses=OPENAPI_RESPONSES,
    )
    def get(self, request: ApiRequest) -> HttpResponse:
        return openapi_response(request, project_ready_model(self.project))


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
