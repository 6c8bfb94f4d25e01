import functools
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, PolymorphicProxySerializer, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from apimodel.witness import witness_from_entry
from apimodel.witness_form import WITNESS_FORMAT, WITNESS_KEYS
from controlplane.drops import REASONS_HELP, DropCountsField
from controlplane.errors import TooLarge
from controlplane.memory import cyclic_gc_paused
from controlplane.pagination import API_PAGE_PARAMETERS, api_page, api_page_of
from controlplane.parsers import json_body
from controlplane.schema import errors
from projects.auth import ApiRequest, IngestThrottle
from projects.gate import ProjectApiView
from traces.builds import Build, model_builds
from traces.models import Trace, TraceStatus
from traces.reach import trace_reaches
from traces.selectors import trace_for_project, traces_for_project
from traces.services import (
    MAX_DURATION_MINUTES,
    TRACE_NAME_PATTERN,
    trace_delete,
    trace_rename,
    trace_start,
    trace_stop,
    witnesses_ingest,
)
from traces.uploads import HarUploadHandler, har_upload


class ModelBuildSerializer(serializers.Serializer[Build]):
    id = serializers.CharField(source="public_id", help_text="mdl_…: this version of the model.")
    version = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["queued", "building", "ready", "failed"])
    processed = serializers.IntegerField(help_text="Witnesses folded so far.")
    total = serializers.IntegerField(help_text="Witnesses this build folds.")
    skipped = serializers.IntegerField(help_text="Stored witnesses left out because they could not be read.")
    progress_percent = serializers.IntegerField()
    error = serializers.CharField(help_text="Why the build failed; empty otherwise.")
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class TraceSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(source="public_id", help_text="trc_…")
    name = serializers.CharField(help_text="Unique in the project, e.g. brisk-teal-heron-482.")
    # DRF takes declared fields off the class; this is the trace's source (live or har), not Field.source.
    source = serializers.ChoiceField(choices=Trace.Source.values)  # type: ignore[assignment]
    status = serializers.SerializerMethodField()
    started_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    stopped_at = serializers.DateTimeField(allow_null=True)
    sampling_rate = serializers.FloatField()
    witness_count = serializers.IntegerField()
    clamped = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Entries stored cut to fit, by reason: `path_truncated` (paths past 2,000 characters), "
        "`time_out_of_range` (durations past a day, dropped).",
    )
    dropped = DropCountsField(
        help_text="Entries the daemons lost before they reached the control plane, by reason, as their batches "
        f"reported them: the trace captured `witness_count` plus these. {REASONS_HELP}"
    )
    import_errors = serializers.ListField(
        child=serializers.CharField(), help_text="A HAR upload's import: what was wrong with the file or entries."
    )
    entries_skipped = serializers.IntegerField(help_text="A HAR upload's entries left out as invalid.")
    model_build = serializers.SerializerMethodField(help_text="The newest build of the trace's model, if any.")

    @extend_schema_field(serializers.ChoiceField(choices=TraceStatus.values))
    def get_status(self, trace: Trace) -> str:
        return str(trace.get_status(self.context["now"]))

    @functools.cached_property
    def _build_serializer(self) -> ModelBuildSerializer:
        """One for every row of a list: a serializer made per row copies all its fields each time."""
        return ModelBuildSerializer()

    @extend_schema_field(ModelBuildSerializer(allow_null=True))
    def get_model_build(self, trace: Trace) -> dict[str, Any] | None:
        build = self.context["builds"].get(trace.pk)
        return self._build_serializer.to_representation(build) if build else None


def traces_data(traces: Iterable[Trace]) -> list[dict[str, Any]]:
    """Traces as the API shows them, with their newest builds read in one query."""
    traces = list(traces)
    context = {"now": timezone.now(), "builds": model_builds().latest_builds(traces)}
    return list(TraceSerializer(traces, many=True, context=context).data)


def trace_data(trace: Trace) -> dict[str, Any]:
    return traces_data([trace])[0]


class TraceStartSerializer(serializers.Serializer[Any]):
    duration_minutes = serializers.IntegerField(
        min_value=1, max_value=MAX_DURATION_MINUTES, help_text="How long daemons capture."
    )
    name = serializers.RegexField(TRACE_NAME_PATTERN, required=False, help_text="Chosen for you when left out.")


@extend_schema(tags=["traces"])
class TraceListStartApi(ProjectApiView):
    @extend_schema(
        operation_id="traces_list",
        summary="List traces",
        description="The project's traces, newest first, each with its status and newest model build.",
        parameters=API_PAGE_PARAMETERS,
        responses={200: api_page_of(TraceSerializer, "TracePage"), **errors(400, 401, 403, 404)},
    )
    def get(self, request: ApiRequest) -> Response:
        return api_page(request, traces_for_project(project=self.project), traces_data)

    @extend_schema(
        operation_id="traces_start",
        summary="Start a trace",
        description="Every daemon of the project learns it within a second (its long poll returns) and captures "
        "traffic until the trace ends or is stopped.",
        request=TraceStartSerializer,
        responses={201: TraceSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def post(self, request: ApiRequest) -> Response:
        serializer = TraceStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        trace = trace_start(project=self.project, user=request.user, **serializer.validated_data)
        return Response(trace_data(trace), status=status.HTTP_201_CREATED)


class TraceRenameSerializer(serializers.Serializer[Any]):
    name = serializers.RegexField(TRACE_NAME_PATTERN, max_length=100, help_text="Unique in the project.")


class ReachSerializer(serializers.Serializer[Any]):
    change = serializers.ChoiceField(choices=["start", "stop"], help_text="The start while active, else the stop.")
    reached = serializers.IntegerField(help_text="Daemons whose long poll replied with the change.")
    daemons = serializers.IntegerField(help_text="The project's healthy daemons, and any other that learnt it.")


class TraceDetailSerializer(TraceSerializer):
    reach = ReachSerializer(allow_null=True, help_text="Null for an uploaded HAR, which no daemon captures.")


@extend_schema(tags=["traces"])
class TraceDetailApi(ProjectApiView):
    @extend_schema(
        operation_id="traces_retrieve",
        summary="Read a trace",
        description="A trace with its status, the newest build of its model, and how far its start (while "
        "active) or its stop reached the project's daemons.",
        responses={200: TraceDetailSerializer, **errors(401, 403, 404)},
    )
    def get(self, request: ApiRequest, trace: str) -> Response:
        found = trace_for_project(project=self.project, trace_ref=trace)
        reach = trace_reaches().reach(found, timezone.now())
        return Response({**trace_data(found), "reach": ReachSerializer(reach).data if reach else None})

    @extend_schema(
        operation_id="traces_rename",
        summary="Rename a trace",
        description="Its id stays the same; the name must be free in the project.",
        request=TraceRenameSerializer,
        responses={200: TraceSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def patch(self, request: ApiRequest, trace: str) -> Response:
        found = trace_for_project(project=self.project, trace_ref=trace)
        serializer = TraceRenameSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(trace_data(trace_rename(trace=found, name=serializer.validated_data["name"])))

    @extend_schema(
        operation_id="traces_delete",
        summary="Delete a trace",
        description="Deletes the trace, its stored witnesses and its models, and queues a build of the project's "
        "merged model without its traffic. Daemons still capturing it stop. The project's owner only.",
        request=None,
        responses={204: None, **errors(401, 403, 404)},
    )
    def delete(self, request: ApiRequest, trace: str) -> Response:
        trace_delete(trace=trace_for_project(project=self.project, trace_ref=trace))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["traces"])
class TraceStopApi(ProjectApiView):
    @extend_schema(
        operation_id="traces_stop",
        summary="Stop a trace",
        description="Stop capturing and queue the trace's final model build. Stopping a closed trace changes nothing.",
        request=None,
        responses={200: TraceSerializer, **errors(401, 403, 404)},
    )
    def post(self, request: ApiRequest, trace: str) -> Response:
        found = trace_for_project(project=self.project, trace_ref=trace)
        return Response(trace_data(trace_stop(trace=found)))


class HarUploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(help_text="A HAR 1.2 file, e.g. exported from a browser's dev tools; may be gzipped.")


@extend_schema(tags=["traces"])
class HarUploadApi(ProjectApiView):
    parser_classes = [MultiPartParser, FormParser]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Before anything reads the body (a session's CSRF check reads the form): the upload streams to disk.
        request._request.upload_handlers = [HarUploadHandler(request._request)]
        super().initial(request, *args, **kwargs)

    @extend_schema(
        operation_id="traces_upload_har",
        summary="Upload a HAR file",
        description="The file becomes a finished trace; a worker reads its HTTP exchanges and queues the model "
        "build (see the trace's witness_count, model_build and import_errors). Entries without a response (data: "
        "URLs, blocked requests) are left out; invalid entries are counted in entries_skipped. At most "
        f"{settings.HAR_UPLOAD_MAX_BYTES} bytes as sent (gzip the file to send a larger HAR).",
        request={"multipart/form-data": HarUploadSerializer},
        responses={201: TraceSerializer, **errors(400, 401, 403, 404, 413)},
    )
    def post(self, request: ApiRequest) -> Response:
        serializer = HarUploadSerializer(data=request.data)
        if any(getattr(handler, "too_large", False) for handler in request._request.upload_handlers):
            raise TooLarge(f"HAR files are limited to {settings.HAR_UPLOAD_MAX_BYTES} bytes as sent.")
        serializer.is_valid(raise_exception=True)
        trace = har_upload(project=self.project, user=request.user, stored=serializer.validated_data["file"])
        return Response(trace_data(trace), status=status.HTTP_201_CREATED)


class JsonItemsField(serializers.ListField):
    """A list of JSON values taken as they are: the service checks them one by one (and names the item and field
    at fault)."""

    child = serializers.JSONField()

    def run_child_validation(self, data: list[Any]) -> list[Any]:
        return data  # already plain JSON values; a per-item copy would cost more than the ingest itself


@extend_schema_field({"type": "array", "items": {"type": "object", "description": "A HAR 1.2 entry."}})
class HarEntriesField(JsonItemsField):
    """HAR entries, made into witnesses by the service."""


BATCH_DROPPED_HELP = (
    "The trace's entries the daemon lost since its previous batch of it, by reason; added to the trace's `dropped` "
    f"once, like the batch. {REASONS_HELP}"
)


class WitnessBatchSerializer(serializers.Serializer[Any]):
    daemon_name = serializers.CharField(max_length=200)
    batch_id = serializers.CharField(max_length=100, help_text="The same batch_id again is counted once.")
    entries = HarEntriesField(allow_empty=True, help_text=f"At most {settings.WITNESS_BATCH_MAX_ENTRIES}.")
    no_more_events = serializers.BooleanField(required=False, default=False)
    dropped = DropCountsField(required=False, default=dict, help_text=BATCH_DROPPED_HELP)


# A schema of a body, query parameter or header, as the daemon's `apimodel.schema` infers it (no values).
_SCHEMA = {
    "type": "object",
    "description": "JSON Schema keywords `type`, `format`, `properties`, `required`, `items` and "
    "`additionalProperties` only.",
}


def _message_schema(**more: dict[str, Any]) -> dict[str, Any]:
    properties = {
        "headers": {
            "type": "object",
            "additionalProperties": {**_SCHEMA, "nullable": True},
            "description": "Schemas by lower-cased name; null for a well-known header.",
        },
        "cookies": {"type": "array", "items": {"type": "string"}},
        "content_type": {"type": "string", "nullable": True, "description": "A media type without parameters."},
        "size": {"type": "integer", "minimum": 0},
        "body": {
            "type": "string",
            "nullable": True,
            "description": "The JSON Schema of the body as JSON text (the same text for the same schema): keywords "
            "`type`, `format`, `properties`, `required`, `items` and `additionalProperties` only.",
        },
        **more,
    }
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


WITNESS_SCHEMA = {
    "type": "object",
    "description": f"A witness (witness_format {WITNESS_FORMAT}) as the agent's `apimodel.witness_from_entry` makes "
    "it from an obfuscated entry: names, types, formats, sizes, timings, path segments and the auth scheme only.",
    "properties": {
        "started_at": {"type": "string", "nullable": True, "description": "ISO 8601"},
        "method": {"type": "string", "pattern": "^[A-Z][A-Z-]{0,15}$"},
        "scheme": {"type": "string", "enum": ["http", "https"]},
        "host": {"type": "string", "description": "host[:port], lower-cased"},
        "path": {"type": "string", "pattern": "^/"},
        "path_echoes": {
            "type": "array",
            "items": {"type": "integer", "minimum": 0},
            "description": "Indexes of the path segments the bodies name as identifiers.",
        },
        "query": {"type": "object", "additionalProperties": _SCHEMA},
        "auth": {
            "type": "object",
            "properties": {"scheme": {"type": "string"}, "claims": {"type": "array", "items": {"type": "string"}}},
            "required": ["scheme"],
            "additionalProperties": False,
        },
        "request": _message_schema(),
        "response": _message_schema(status={"type": "integer", "minimum": 100, "maximum": 599}),
        "time_ms": {"type": "number", "minimum": 0, "nullable": True},
    },
    "required": sorted(WITNESS_KEYS),
    "additionalProperties": False,
}


@extend_schema_field({"type": "array", "items": WITNESS_SCHEMA})
class WitnessesField(JsonItemsField):
    """Witnesses a daemon made, checked by the service."""


class WitnessFormBatchSerializer(serializers.Serializer[Any]):
    daemon_name = serializers.CharField(max_length=200)
    batch_id = serializers.CharField(max_length=100, help_text="The same batch_id again is counted once.")
    witness_format = serializers.IntegerField(
        help_text=f"The form of the witnesses: {WITNESS_FORMAT}. Another is refused (400), so that an agent of "
        "another version is told to upgrade rather than building wrong models."
    )
    witnesses = WitnessesField(allow_empty=True, help_text=f"At most {settings.WITNESS_BATCH_MAX_ENTRIES}.")
    no_more_events = serializers.BooleanField(required=False, default=False)
    dropped = DropCountsField(required=False, default=dict, help_text=BATCH_DROPPED_HELP)

    def validate_witness_format(self, value: int) -> int:
        if value != WITNESS_FORMAT:
            raise serializers.ValidationError(
                f"This server reads witness_format {WITNESS_FORMAT}, not {value}: upgrade the agent (or the server) "
                "so that both make witnesses the same way."
            )
        return value


class WitnessBatchAcceptedSerializer(serializers.Serializer[Any]):
    accepted = serializers.IntegerField(help_text="Entries stored (0 for a duplicate batch).")
    duplicate = serializers.BooleanField(help_text="This batch_id was stored before.")


ENTRY_EXAMPLE = {
    "startedDateTime": "2026-01-05T12:00:00.000Z",
    "time": 12.5,
    "request": {"method": "GET", "url": "https://api.shop.test/v1/products/7", "headers": [], "queryString": []},
    "response": {
        "status": 200,
        "headers": [{"name": "Content-Type", "value": "application/json"}],
        "content": {"mimeType": "application/json", "text": '{"id": 7, "name": "Lamp"}'},
    },
}

WITNESS_EXAMPLE = witness_from_entry(ENTRY_EXAMPLE)


@extend_schema(tags=["daemon"])
class WitnessUploadApi(ProjectApiView):
    throttle_classes = [IngestThrottle]
    served_whole = True  # daemons send a batch every few seconds each

    @extend_schema(
        operation_id="trace_witnesses_upload",
        summary="Upload witnesses",
        description="A daemon's batch captured for an active trace (accepted for 5 minutes after it closed), in "
        "one of two forms: `witnesses` the daemon made from its obfuscated entries (what the agent sends; each is "
        "checked to hold no values and stored as it is: anything else is a 400 naming the field, e.g. "
        "`witnesses[3].request.body.enum`), or HAR `entries`, obfuscated into witnesses here; either with the entries "
        "the daemon lost since its previous batch (`dropped`), added to the trace's. The body may be sent "
        f"with `Content-Encoding: gzip`; at most {settings.WITNESS_BATCH_MAX_BYTES} bytes inflated.",
        request=PolymorphicProxySerializer(
            component_name="WitnessUpload",
            serializers=[WitnessFormBatchSerializer, WitnessBatchSerializer],
            resource_type_field_name=None,
        ),
        responses={202: WitnessBatchAcceptedSerializer, **errors(400, 401, 404, 410, 413, 429)},
        examples=[
            OpenApiExample(
                "A batch of one witness",
                request_only=True,
                value={
                    "daemon_name": "web-1",
                    "batch_id": "web-1-0001",
                    "witness_format": WITNESS_FORMAT,
                    "witnesses": [WITNESS_EXAMPLE],
                    "dropped": {"queue_full": 3},
                },
            ),
            OpenApiExample(
                "A batch of one entry",
                request_only=True,
                value={"daemon_name": "web-1", "batch_id": "web-1-0001", "entries": [ENTRY_EXAMPLE]},
            ),
            OpenApiExample(
                "Stored", response_only=True, status_codes=["202"], value={"accepted": 1, "duplicate": False}
            ),
        ],
    )
    def post(self, request: ApiRequest, trace: str) -> Response:
        found = trace_for_project(project=self.project, trace_ref=trace)
        # A batch of 200 witnesses decodes to ~30,000 objects: the cyclic collector would scan them, and the heap,
        # several times while they live. So it is paused, and the batch is decoded here rather than as
        # `request.data`, which would keep it alive (and scanned) until the response is sent: it is freed (by
        # reference counting) before the collector resumes.
        with cyclic_gc_paused():
            body = json_body(request.body) if request._request.content_type == "application/json" else request.data
            accepted, duplicate = self._ingest(body, found)
            del body
        return Response({"accepted": accepted, "duplicate": duplicate}, status=status.HTTP_202_ACCEPTED)

    def _ingest(self, body: Any, found: Trace) -> tuple[int, bool]:
        made = isinstance(body, dict) and "witnesses" in body
        serializer = (WitnessFormBatchSerializer if made else WitnessBatchSerializer)(data=body)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # A serializer is cyclic (its fields point back to it): only the collector frees it, so it lets go of the batch
        # (of a JSON body: a form's is DRF's and immutable).
        items = data.pop("witnesses" if made else "entries")
        if type(body) is dict:
            body.pop("witnesses" if made else "entries")
        if len(items) > settings.WITNESS_BATCH_MAX_ENTRIES:
            raise TooLarge(f"A witness batch is limited to {settings.WITNESS_BATCH_MAX_ENTRIES} entries.")
        return witnesses_ingest(
            trace=found,
            daemon_name=data["daemon_name"],
            batch_id=data["batch_id"],
            witnesses=items if made else None,
            entries=None if made else items,
            dropped=data["dropped"],
        )
