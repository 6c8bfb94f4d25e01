from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from controlplane.errors import TooLarge
from projects.auth import ApiRequest, IngestThrottle
from projects.gate import ProjectApiView
from traces.builds import Build, model_builds
from traces.models import Trace
from traces.selectors import trace_for_project, traces_for_project
from traces.services import har_upload, trace_start, trace_stop, witnesses_ingest

TRACE_LIST_LIMIT = 200


class ModelBuildOutput(serializers.Serializer[Build]):
    id = serializers.CharField(source="public_id")
    version = serializers.IntegerField()
    status = serializers.CharField()
    processed = serializers.IntegerField()
    total = serializers.IntegerField()
    progress_percent = serializers.IntegerField()
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class TraceOutput(serializers.Serializer[Any]):
    id = serializers.CharField(source="public_id")
    name = serializers.CharField()
    # DRF takes declared fields off the class; this is the trace's source (live or har), not Field.source.
    source = serializers.CharField()  # type: ignore[assignment]
    status = serializers.SerializerMethodField()
    started_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    stopped_at = serializers.DateTimeField(allow_null=True)
    sampling_rate = serializers.FloatField()
    witness_count = serializers.IntegerField()
    model_build = serializers.SerializerMethodField()

    def get_status(self, trace: Trace) -> str:
        return str(trace.get_status(self.context["now"]))

    @extend_schema(responses=ModelBuildOutput(allow_null=True))
    def get_model_build(self, trace: Trace) -> dict[str, Any] | None:
        build = self.context["builds"].get(trace.pk)
        return ModelBuildOutput(build).data if build else None


def traces_data(traces: Iterable[Trace]) -> list[dict[str, Any]]:
    """Traces as the API shows them, with their newest builds read in one query."""
    traces = list(traces)
    context = {"now": timezone.now(), "builds": model_builds().latest_builds(traces)}
    return list(TraceOutput(traces, many=True, context=context).data)


def trace_data(trace: Trace) -> dict[str, Any]:
    return traces_data([trace])[0]


class TraceListStartApi(ProjectApiView):
    class InputSerializer(serializers.Serializer[Any]):
        duration_minutes = serializers.IntegerField()
        name = serializers.RegexField(r"^[a-z0-9][a-z0-9-]{0,98}[a-z0-9]$", required=False)

    @extend_schema(responses=TraceOutput(many=True), operation_id="traces_list")
    def get(self, request: ApiRequest) -> Response:
        return Response(traces_data(traces_for_project(project=self.project)[:TRACE_LIST_LIMIT]))

    @extend_schema(request=InputSerializer, responses={201: TraceOutput}, operation_id="traces_start")
    def post(self, request: ApiRequest) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        trace = trace_start(project=self.project, user=request.user, **serializer.validated_data)
        return Response(trace_data(trace), status=status.HTTP_201_CREATED)


class TraceDetailApi(ProjectApiView):
    @extend_schema(responses=TraceOutput, operation_id="traces_retrieve")
    def get(self, request: ApiRequest, trace: str) -> Response:
        return Response(trace_data(trace_for_project(project=self.project, trace_ref=trace)))


class TraceStopApi(ProjectApiView):
    @extend_schema(request=None, responses=TraceOutput, operation_id="traces_stop")
    def post(self, request: ApiRequest, trace: str) -> Response:
        found = trace_for_project(project=self.project, trace_ref=trace)
        return Response(trace_data(trace_stop(trace=found)))


class HarUploadApi(ProjectApiView):
    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer[Any]):
        file = serializers.FileField()

    @extend_schema(
        request={"multipart/form-data": InputSerializer}, responses={201: TraceOutput}, operation_id="traces_upload_har"
    )
    def post(self, request: ApiRequest) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        if upload.size > settings.HAR_UPLOAD_MAX_BYTES:
            raise TooLarge(f"HAR files are limited to {settings.HAR_UPLOAD_MAX_BYTES} bytes.")
        trace = har_upload(project=self.project, user=request.user, content=upload.read())
        return Response(trace_data(trace), status=status.HTTP_201_CREATED)


class WitnessUploadApi(ProjectApiView):
    throttle_classes = [IngestThrottle]

    class InputSerializer(serializers.Serializer[Any]):
        daemon_name = serializers.CharField(max_length=200)
        batch_id = serializers.CharField(max_length=100)
        entries = serializers.ListField(child=serializers.JSONField(), allow_empty=True)
        no_more_events = serializers.BooleanField(required=False, default=False)

    class OutputSerializer(serializers.Serializer[Any]):
        accepted = serializers.IntegerField()
        duplicate = serializers.BooleanField()

    @extend_schema(request=InputSerializer, responses={202: OutputSerializer}, operation_id="trace_witnesses_upload")
    def post(self, request: ApiRequest, trace: str) -> Response:
        found = trace_for_project(project=self.project, trace_ref=trace)
        if int(request.META.get("CONTENT_LENGTH") or 0) > settings.WITNESS_BATCH_MAX_BYTES:
            raise TooLarge(f"A witness batch is limited to {settings.WITNESS_BATCH_MAX_BYTES} bytes.")
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if len(data["entries"]) > settings.WITNESS_BATCH_MAX_ENTRIES:
            raise TooLarge(f"A witness batch is limited to {settings.WITNESS_BATCH_MAX_ENTRIES} entries.")
        accepted, duplicate = witnesses_ingest(
            trace=found, daemon_name=data["daemon_name"], batch_id=data["batch_id"], entries=data["entries"]
        )
        return Response({"accepted": accepted, "duplicate": duplicate}, status=status.HTTP_202_ACCEPTED)
