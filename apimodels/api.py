from typing import Any

import yaml
from django.http import HttpResponse
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from apimodel.diff import diff_models
from apimodel.openapi import to_openapi
from apimodels.models import ModelVersion
from apimodels.selectors import (
    endpoints_filtered,
    latest_ready_model,
    latest_ready_project_model,
    model_by_ref,
    model_document,
    path_hints_of,
)
from apimodels.services import model_rebuild, models_rebuild_all, project_model_enqueue, project_path_hints_update
from controlplane.errors import Invalid, NotFound
from projects.auth import ApiRequest
from projects.gate import ProjectApiView
from projects.models import Project
from traces.api import ModelBuildOutput
from traces.models import Trace
from traces.selectors import trace_for_project

MODEL_FILTERS = ("method", "auth", "status", "host", "q")


class EndpointOutput(serializers.Serializer[Any]):
    id = serializers.CharField(source="public_id")
    method = serializers.CharField()
    host = serializers.CharField()
    path = serializers.CharField()
    count = serializers.IntegerField()
    auth = serializers.ListField(source="auth_list", child=serializers.CharField())
    status_codes = serializers.ListField(source="status_code_list", child=serializers.CharField())
    latency_ms = serializers.SerializerMethodField()
    first_seen = serializers.DateTimeField(allow_null=True)
    last_seen = serializers.DateTimeField(allow_null=True)
    parameters = serializers.JSONField(source="detail.parameters")
    request_body = serializers.JSONField(source="detail.request_body")
    responses = serializers.JSONField(source="detail.responses")

    def get_latency_ms(self, endpoint: Any) -> dict[str, float | None]:
        return {"p50": endpoint.latency_p50_ms, "p90": endpoint.latency_p90_ms, "p99": endpoint.latency_p99_ms}


class ModelOutput(serializers.Serializer[Any]):
    id = serializers.CharField(source="public_id")
    version = serializers.IntegerField()
    trace_id = serializers.CharField(source="trace.public_id", allow_null=True, default=None)
    witness_count = serializers.IntegerField()
    path_hints = serializers.JSONField()
    finished_at = serializers.DateTimeField()
    security_schemes = serializers.JSONField()


def model_data(version: ModelVersion, query: Any) -> dict[str, Any]:
    """A ready model with its endpoints narrowed by the query's filters."""
    filters = {name: query.get(name, "") for name in MODEL_FILTERS}
    endpoints = endpoints_filtered(version=version, **filters)
    return {**ModelOutput(version).data, "endpoints": EndpointOutput(endpoints, many=True).data}


def openapi_response(version: ModelVersion, query: Any, *, name: str) -> HttpResponse:
    output = query.get("format", "json")
    if output not in ("json", "yaml"):
        raise Invalid("Must be json or yaml.", field="format")
    spec = to_openapi(model_document(version), title=name)
    response: HttpResponse
    if output == "yaml":
        response = HttpResponse(yaml.safe_dump(spec, sort_keys=False), content_type="application/yaml")
    else:
        response = Response(spec)
    response["Content-Disposition"] = f'attachment; filename="{slugify(name)}.openapi.{output}"'
    return response


MODEL_PARAMETERS = [OpenApiParameter(name, str, required=False) for name in MODEL_FILTERS]
OPENAPI_PARAMETERS = [OpenApiParameter("format", str, enum=["json", "yaml"], required=False)]
OPENAPI_RESPONSES = {(200, "application/json"): OpenApiTypes.OBJECT, (200, "application/yaml"): OpenApiTypes.STR}


def trace_ready_model(project: Project, trace_ref: str) -> tuple[Trace, ModelVersion]:
    trace = trace_for_project(project=project, trace_ref=trace_ref)
    version = latest_ready_model(trace=trace)
    if version is None:
        raise NotFound("This trace has no ready model yet; see the trace's model_build for progress.")
    return trace, version


class TraceModelApi(ProjectApiView):
    @extend_schema(parameters=MODEL_PARAMETERS, responses=ModelOutput, operation_id="trace_model_retrieve")
    def get(self, request: ApiRequest, trace: str) -> Response:
        _, version = trace_ready_model(self.project, trace)
        return Response(model_data(version, request.query_params))


class TraceOpenApiApi(ProjectApiView):
    @extend_schema(parameters=OPENAPI_PARAMETERS, responses=OPENAPI_RESPONSES, operation_id="trace_openapi_export")
    def get(self, request: ApiRequest, trace: str) -> HttpResponse:
        found, version = trace_ready_model(self.project, trace)
        return openapi_response(version, request.query_params, name=f"{found.project.name} {found.name}")


class TraceRebuildApi(ProjectApiView):
    @extend_schema(request=None, responses={202: ModelBuildOutput}, operation_id="trace_model_rebuild")
    def post(self, request: ApiRequest, trace: str) -> Response:
        found = trace_for_project(project=self.project, trace_ref=trace)
        return Response(ModelBuildOutput(model_rebuild(trace=found)).data, status=status.HTTP_202_ACCEPTED)


def project_ready_model(project: Project) -> ModelVersion:
    version = latest_ready_project_model(project=project)
    if version is None:
        raise NotFound("The project has no merged model yet; it builds after a trace's model does.")
    return version


class ProjectModelApi(ProjectApiView):
    @extend_schema(parameters=MODEL_PARAMETERS, responses=ModelOutput, operation_id="project_model_retrieve")
    def get(self, request: ApiRequest) -> Response:
        return Response(model_data(project_ready_model(self.project), request.query_params))


class ProjectOpenApiApi(ProjectApiView):
    @extend_schema(parameters=OPENAPI_PARAMETERS, responses=OPENAPI_RESPONSES, operation_id="project_openapi_export")
    def get(self, request: ApiRequest) -> HttpResponse:
        return openapi_response(project_ready_model(self.project), request.query_params, name=self.project.name)


class ProjectModelRebuildApi(ProjectApiView):
    @extend_schema(request=None, responses={202: ModelBuildOutput}, operation_id="project_model_rebuild")
    def post(self, request: ApiRequest) -> Response:
        version = project_model_enqueue(project=self.project)
        return Response(ModelBuildOutput(version).data, status=status.HTTP_202_ACCEPTED)


class PathHintsApi(ProjectApiView):
    class PathHintsSerializer(serializers.Serializer[Any]):
        force = serializers.ListField(child=serializers.CharField(max_length=500), default=list)
        static = serializers.ListField(child=serializers.CharField(max_length=500), default=list)
        hidden = serializers.ListField(child=serializers.CharField(max_length=500), default=list)
        show_default_hidden = serializers.BooleanField(default=False)

    class InputSerializer(PathHintsSerializer):
        rebuild = serializers.BooleanField(default=True, help_text="Rebuild past traces from stored witnesses.")

    class OutputSerializer(PathHintsSerializer):
        rebuilds_queued = serializers.IntegerField(required=False)

    @extend_schema(responses=OutputSerializer, operation_id="project_path_hints_retrieve")
    def get(self, request: ApiRequest) -> Response:
        return Response(self.PathHintsSerializer(path_hints_of(self.project)).data)

    @extend_schema(request=InputSerializer, responses=OutputSerializer, operation_id="project_path_hints_update")
    def put(self, request: ApiRequest) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rebuild = serializer.validated_data.pop("rebuild")
        project_path_hints_update(project=self.project, **serializer.validated_data)
        data = dict(self.PathHintsSerializer(path_hints_of(self.project)).data)
        if rebuild:
            data["rebuilds_queued"] = models_rebuild_all(project=self.project)
        return Response(data)


class ModelDiffApi(ProjectApiView):
    @extend_schema(
        parameters=[
            OpenApiParameter("base", str, required=True, description="A trace id or name, a mdl_ id, or `project`."),
            OpenApiParameter("head", str, required=True, description="A trace id or name, a mdl_ id, or `project`."),
        ],
        responses=OpenApiTypes.OBJECT,
        operation_id="project_models_diff",
    )
    def get(self, request: ApiRequest) -> Response:
        refs = {side: request.query_params.get(side, "") for side in ("base", "head")}
        for side, ref in refs.items():
            if not ref:
                raise Invalid("A trace id or name, a model id, or `project` is required.", field=side)
        models = {side: model_by_ref(project=self.project, ref=ref) for side, ref in refs.items()}
        diff = diff_models(model_document(models["base"]), model_document(models["head"]))
        return Response({"base": ModelOutput(models["base"]).data, "head": ModelOutput(models["head"]).data, **diff})
