import asyncio
import math
from collections import defaultdict
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from controlplane.batches import LoopBatches
from controlplane.drops import MAX_COUNT, REASONS_HELP, DropCountsField
from controlplane.error_handlers import error_body
from controlplane.errors import Invalid
from controlplane.notify import project_watch, run_sync
from controlplane.pagination import API_PAGE_PARAMETERS, api_page, api_page_of
from controlplane.parsers import json_body
from controlplane.schema import ERROR_MEANINGS, errors
from daemons.models import Daemon, DaemonStatus
from daemons.reach import reach_acknowledge
from daemons.selectors import daemons_for_project
from daemons.services import daemon_heartbeat, daemon_poll_throttle, daemons_touch
from projects.auth import ApiRequest, IngestAccess, IngestThrottle
from projects.gate import ProjectApiView
from projects.models import Project
from traces.models import Trace
from traces.selectors import active_traces


class MiddlewareClientSerializer(serializers.Serializer[Any]):
    project = serializers.CharField(max_length=64, help_text="One of this heartbeat's projects.")
    client_name = serializers.CharField(max_length=200, help_text="The middleware, e.g. akita-django.")


class DaemonTrafficSerializer(serializers.Serializer[Any]):
    since = serializers.DateTimeField(
        help_text="When the daemon started counting (its start); a new value means the counts started over."
    )
    received = serializers.IntegerField(min_value=0, max_value=MAX_COUNT, help_text="Entries that reached the daemon.")
    uploaded = serializers.IntegerField(
        min_value=0, max_value=MAX_COUNT, help_text="Entries the control plane accepted."
    )
    pending = serializers.IntegerField(
        min_value=0, max_value=MAX_COUNT, help_text="Entries in memory or in the spool, not yet uploaded."
    )
    dropped = DropCountsField(
        required=False,
        default=dict,
        help_text="Entries lost, by reason; received = uploaded + pending + the drops other than the middleware's "
        f"(`queue_full`, `agent_unreachable`, `capture_failed`). {REASONS_HELP}",
    )


class TrafficSerializer(DaemonTrafficSerializer):
    project = serializers.CharField(max_length=64, help_text="One of this heartbeat's projects.")


# A daemon serving more is not one daemon; each item of every list costs the heartbeat a write.
HEARTBEAT_MAX_ITEMS = 100


class HeartbeatSerializer(serializers.Serializer[Any]):
    daemon_name = serializers.CharField(max_length=200, help_text="Unique per project, e.g. the host name.")
    version = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    projects = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        default=list,
        max_length=HEARTBEAT_MAX_ITEMS,
        help_text="Project names or ids this daemon serves; left out, those it served before.",
    )
    middleware: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=MiddlewareClientSerializer(), required=False, default=list, max_length=HEARTBEAT_MAX_ITEMS
    )
    traffic: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=TrafficSerializer(),
        required=False,
        default=list,
        max_length=HEARTBEAT_MAX_ITEMS,
        help_text="What became of each project's entries since the daemon started; the latest is kept per project.",
    )


class HeartbeatReplySerializer(serializers.Serializer[Any]):
    server_time = serializers.DateTimeField()
    heartbeat_interval_seconds = serializers.IntegerField(help_text="When to send the next heartbeat.")


@extend_schema(tags=["daemon"])
class HeartbeatApi(APIView):
    permission_classes = [IngestAccess]
    throttle_classes = [IngestThrottle]

    @extend_schema(
        operation_id="daemon_heartbeat",
        summary="Heartbeat",
        description="Tell the control plane a daemon is alive, for each of its projects (which middleware sends it "
        "traffic, and what became of that traffic: received, uploaded, pending, dropped by reason). The console "
        "shows it healthy for a minute after, unhealthy until an hour has passed.",
        request=HeartbeatSerializer,
        responses={200: HeartbeatReplySerializer, **errors(400, 401, 429)},
        examples=[
            OpenApiExample(
                "A daemon of one project",
                request_only=True,
                value={
                    "daemon_name": "web-1",
                    "version": "0.1",
                    "projects": ["shop"],
                    "middleware": [{"project": "shop", "client_name": "akita-django"}],
                    "traffic": [
                        {
                            "project": "shop",
                            "since": "2026-01-05T11:00:00Z",
                            "received": 12408,
                            "uploaded": 12400,
                            "pending": 5,
                            "dropped": {"queue_full": 3, "buffer_full": 3},
                        }
                    ],
                },
            ),
            OpenApiExample(
                "Next heartbeat in 20 s",
                response_only=True,
                value={"server_time": "2026-01-05T12:00:00Z", "heartbeat_interval_seconds": 20},
            ),
        ],
    )
    def post(self, request: ApiRequest) -> Response:
        serializer = HeartbeatSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        now = timezone.now()
        daemon_heartbeat(
            user=request.user,
            daemon_name=data["daemon_name"],
            version=data["version"],
            project_refs=data["projects"],
            middleware=data["middleware"],
            traffic=data["traffic"],
            now=now,
        )
        return Response({"server_time": now, "heartbeat_interval_seconds": settings.HEARTBEAT_INTERVAL_SECONDS})


class DaemonSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(source="public_id", help_text="dmn_…")
    name = serializers.CharField()
    version = serializers.CharField()
    status = serializers.SerializerMethodField()
    first_seen_at = serializers.DateTimeField()
    last_heartbeat_at = serializers.DateTimeField()
    middleware_clients = serializers.SerializerMethodField()
    traffic = serializers.SerializerMethodField(
        help_text="What became of the project's entries the daemon received, as its latest heartbeat reported it; "
        "null until one did."
    )

    @extend_schema_field(serializers.ChoiceField(choices=[DaemonStatus.HEALTHY, DaemonStatus.UNHEALTHY]))
    def get_status(self, daemon: Daemon) -> str:
        return str(daemon.get_status(self.context["now"]))

    def get_middleware_clients(self, daemon: Daemon) -> list[str]:
        return [client.client_name for client in daemon.middleware_clients.all()]

    @extend_schema_field(DaemonTrafficSerializer(allow_null=True))
    def get_traffic(self, daemon: Daemon) -> dict[str, Any] | None:
        if not daemon.traffic:
            return None
        return {**daemon.traffic, "since": datetime.fromisoformat(daemon.traffic["since"])}


@extend_schema(tags=["daemons"])
class DaemonListApi(ProjectApiView):
    @extend_schema(
        operation_id="project_daemons_list",
        summary="List a project's daemons",
        description="The daemons heard from in the last hour, by name, with their health, middleware clients "
        "and what became of their traffic.",
        parameters=API_PAGE_PARAMETERS,
        responses={200: api_page_of(DaemonSerializer, "DaemonPage"), **errors(400, 401, 403, 404)},
    )
    def get(self, request: ApiRequest) -> Response:
        now = timezone.now()

        def serialize(daemons: list[Daemon]) -> Any:
            return DaemonSerializer(daemons, many=True, context={"now": now}).data

        return api_page(request, daemons_for_project(project=self.project, now=now), serialize)


# The long poll is a plain async view (DRF is sync-only), so idle polls hold no thread.


def parse_poll_body(body: bytes) -> tuple[str, set[str]]:
    """(daemon_name, active_trace_ids) from a poll body; ValueError(field, message) if malformed."""
    try:
        data = json_body(body or b"{}")
    except Invalid as error:
        raise ValueError(error.field, f"{error.field}: {error.message}" if error.field else error.message) from error
    if not isinstance(data, dict):
        raise ValueError(None, "The body must be a JSON object.")
    daemon_name = data.get("daemon_name")
    if not isinstance(daemon_name, str) or not 0 < len(daemon_name) <= 200 or "\x00" in daemon_name:
        raise ValueError("daemon_name", "daemon_name: a string of 1 to 200 characters (no NUL) is required.")
    trace_ids = data.get("active_trace_ids", [])
    if not isinstance(trace_ids, list) or not all(isinstance(item, str) for item in trace_ids):
        raise ValueError("active_trace_ids", "active_trace_ids: must be a list of trace ids.")
    return daemon_name, set(trace_ids)


def poll_reply(active: list[Trace], known: set[str]) -> dict[str, list[Any]]:
    truth = {trace.public_id for trace in active}
    return {
        "activated_traces": [
            {
                "trace_id": trace.public_id,
                "trace_name": trace.name,
                "ends_at": trace.ends_at.isoformat().replace("+00:00", "Z"),
                "sampling_rate": trace.sampling_rate,
            }
            for trace in active
            if trace.public_id not in known
        ],
        "deactivated_traces": sorted(known - truth),
    }


def _touch_polled(polled: list[tuple[int, str]]) -> None:
    """The last contact of the daemons whose polls arrived, as (project pk, daemon name): one UPDATE a project."""
    names_by_project: dict[int, set[str]] = defaultdict(set)
    for project_id, daemon_name in polled:
        names_by_project[project_id].add(daemon_name)
    now = timezone.now()
    for project_id, names in names_by_project.items():
        daemons_touch(project_id=project_id, names=names, now=now)


_polled: LoopBatches[tuple[int, str]] = LoopBatches(_touch_polled, "daemon touches from polls")


def _active_now(project_id: int) -> list[Trace]:
    return active_traces(project_id=project_id, now=timezone.now())


async def daemon_long_poll(request: HttpRequest, project: Project) -> JsonResponse:
    """Reply at once if the daemon's set of active traces is wrong, else when it changes or ~25 s pass.
    Waking reads nothing per poll: the project's active traces are read once per change for the process; the
    daemon's last contact is written with the other polls' (`controlplane.batches`)."""
    try:
        daemon_name, known = parse_poll_body(request.body)
    except ValueError as error:
        field, message = error.args
        return JsonResponse(error_body("invalid", message, field), status=400)
    wait = await run_sync(daemon_poll_throttle, project=project, daemon_name=daemon_name)
    if wait is not None:
        message = "This daemon polls too often; wait and poll again."
        response = JsonResponse(error_body("throttled", message), status=429)
        response["Retry-After"] = str(math.ceil(wait))
        return response
    _polled.add([(project.pk, daemon_name)])

    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.LONG_POLL_SECONDS
    async with project_watch(project.pk) as watch:
        while True:
            read: list[Trace] = await watch.read(_active_now)
            now = timezone.now()
            active = [trace for trace in read if trace.ends_at > now]
            reply = poll_reply(active, known)
            remaining = deadline - loop.time()
            if reply["activated_traces"] or reply["deactivated_traces"] or remaining <= 0:
                reach_acknowledge(project_id=project.pk, daemon_name=daemon_name, reply=reply)
                return JsonResponse(reply)
            if active:  # wake when the first active trace reaches its end time, with no writer needed
                remaining = min(remaining, (active[0].ends_at - now).total_seconds() + 0.001)
            await watch.wait(remaining)


def document_long_poll(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular sees only DRF views; describe the async long poll in the schema by hand."""
    schemas = result["components"]["schemas"]
    schemas["TraceActivation"] = {
        "type": "object",
        "required": ["trace_id", "trace_name", "ends_at", "sampling_rate"],
        "properties": {
            "trace_id": {"type": "string", "description": "trc_…: send it back in `active_trace_ids`."},
            "trace_name": {"type": "string"},
            "ends_at": {"type": "string", "format": "date-time", "description": "When capture ends."},
            "sampling_rate": {"type": "number", "description": "The share of requests to capture (0 to 1)."},
        },
    }
    schemas["LongPoll"] = {
        "type": "object",
        "required": ["daemon_name"],
        "properties": {
            "daemon_name": {"type": "string", "minLength": 1, "maxLength": 200},
            "active_trace_ids": {
                "type": "array",
                "items": {"type": "string"},
                "description": "The traces this daemon is capturing now.",
            },
        },
    }
    schemas["LongPollReply"] = {
        "type": "object",
        "required": ["activated_traces", "deactivated_traces"],
        "properties": {
            "activated_traces": {"type": "array", "items": {"$ref": "#/components/schemas/TraceActivation"}},
            "deactivated_traces": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Trace ids to stop capturing.",
            },
        },
    }
    error = {"$ref": "#/components/schemas/Error"}
    path = unquote(reverse("api:daemon-long-poll", kwargs={"project": "{project}"}))
    result["paths"][path] = {
        "post": {
            "operationId": "daemon_long_poll",
            "security": [{"apiKey": []}],
            "tags": ["daemon"],
            "summary": "Long poll for traces to capture",
            "description": (
                "Send the trace ids the daemon is capturing. The reply comes at once when that set is wrong, "
                f"otherwise when a trace starts, stops or ends, or after ~{settings.LONG_POLL_SECONDS:.0f} s with "
                "empty arrays. Re-poll right away. Takes any API key (ingest scope is enough), not a session."
            ),
            "parameters": [{"name": "project", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/LongPoll"},
                        "examples": {
                            "Capturing nothing yet": {"value": {"daemon_name": "web-1", "active_trace_ids": []}}
                        },
                    }
                },
            },
            "responses": {
                "200": {
                    "description": "What the daemon should start and stop capturing.",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/LongPollReply"},
                            "examples": {
                                "A trace started": {
                                    "value": {
                                        "activated_traces": [
                                            {
                                                "trace_id": "trc_6hTe2AaQmNqP8xRkW1zY3b",
                                                "trace_name": "brisk-teal-heron-482",
                                                "ends_at": "2026-01-05T13:00:00Z",
                                                "sampling_rate": 1.0,
                                            }
                                        ],
                                        "deactivated_traces": [],
                                    }
                                }
                            },
                        }
                    },
                },
                **{
                    str(status): {
                        "description": ERROR_MEANINGS[status],
                        "content": {"application/json": {"schema": error}},
                    }
                    for status in (400, 401, 404, 429)
                },
            },
        }
    }
    return result
