"""Alert channels, monitors and the alert history of a project (REST API)."""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from alerts.models import Alert, AlertChannel, Delivery, DeliveryAttempt, Event, Monitor
from alerts.selectors import (
    HISTORY_LIMIT,
    alert_history,
    channel_for_project,
    channels_for_project,
    delivery_log,
    monitor_for_project,
    monitors_for_project,
)
from alerts.services import channel_create, channel_delete, channel_test, monitor_create, monitor_delete
from controlplane.errors import Invalid
from projects.gate import ProjectApiView

TAGS = ["alerts"]
PAYLOAD_DOC = (
    "Every notification carries the same JSON: `event` (" + ", ".join(f"`{event}`" for event in Event.values) + "), "
    "`project` (`id`, `name`), `occurred_at`, `idempotency_key` (the same for a repeated delivery: drop repeats), "
    "`summary` (one sentence), `url` (the console page) and `details`. Webhooks receive it as the POST body, with "
    "`X-Pawprint-Signature`: the hex HMAC-SHA256 of the body keyed with the channel's secret. Slack-compatible "
    "channels receive an incoming-webhook message (`text`, `blocks`); email channels a mail."
)


class AlertChannelOutput(serializers.Serializer[AlertChannel]):
    id = serializers.CharField(source="public_id")
    kind = serializers.ChoiceField(choices=AlertChannel.Kind.choices)
    name = serializers.CharField()
    target = serializers.CharField(help_text="The URL or address it sends to; a Slack URL's token is hidden.")
    created_at = serializers.DateTimeField()


class AlertChannelCreatedOutput(AlertChannelOutput):
    secret = serializers.CharField(
        help_text="Webhooks only: the key of `X-Pawprint-Signature`, shown in this reply only (empty otherwise)."
    )


class AlertChannelInput(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=AlertChannel.Kind.choices)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    url = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default="", help_text="Webhook and Slack channels."
    )
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="", help_text="Email.")


class DeliveryAttemptOutput(serializers.Serializer[DeliveryAttempt]):
    number = serializers.IntegerField()
    attempted_at = serializers.DateTimeField()
    status_code = serializers.IntegerField(allow_null=True, help_text="The receiver's HTTP status; null for mail.")
    response_excerpt = serializers.CharField(help_text="The start of the receiver's reply, at most 1 KB.")
    error = serializers.CharField()
    retry_in_seconds = serializers.FloatField(allow_null=True, help_text="The backoff before the next attempt.")


class DeliveryOutput(serializers.Serializer[Delivery]):
    channel_id = serializers.CharField(source="channel.public_id")
    status = serializers.ChoiceField(choices=Delivery.Status.choices)
    attempts = DeliveryAttemptOutput(many=True, source="attempt_log.all")
    created_at = serializers.DateTimeField()


class AlertOutput(serializers.Serializer[Alert]):
    id = serializers.CharField(source="public_id")
    event = serializers.ChoiceField(choices=Event.choices)
    occurred_at = serializers.DateTimeField()
    idempotency_key = serializers.CharField()
    summary = serializers.CharField()
    url = serializers.CharField()
    details = serializers.JSONField()
    deliveries = DeliveryOutput(many=True, source="deliveries.all")


class ChannelDeliveryOutput(DeliveryOutput):
    alert_id = serializers.CharField(source="alert.public_id")
    event = serializers.CharField(source="alert.event")
    summary = serializers.CharField(source="alert.summary")


class AlertChannelDetailOutput(AlertChannelOutput):
    deliveries = serializers.SerializerMethodField()

    @extend_schema(responses=ChannelDeliveryOutput(many=True))  # type: ignore[misc]
    def get_deliveries(self, channel: AlertChannel) -> list[dict[str, Any]]:
        return list(ChannelDeliveryOutput(delivery_log(channel=channel), many=True).data)


class MonitorOutput(serializers.Serializer[Monitor]):
    id = serializers.CharField(source="public_id")
    kind = serializers.ChoiceField(choices=Monitor.Kind.choices)
    threshold = serializers.FloatField()
    min_requests = serializers.IntegerField()
    endpoint = serializers.CharField()
    condition = serializers.CharField()
    created_at = serializers.DateTimeField()


class MonitorInput(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(
        choices=Monitor.Kind.choices,
        help_text="`errors`: the share of requests answered 5xx; `latency`: the p99 latency.",
    )
    threshold = serializers.FloatField(help_text="Alert above this: percent for `errors`, milliseconds for `latency`.")
    min_requests = serializers.IntegerField(default=20, help_text="Only endpoints with at least this many requests.")
    endpoint = serializers.CharField(
        max_length=2100,
        required=False,
        allow_blank=True,
        default="",
        help_text="One endpoint, as `GET /v1/users/{id}` (parameter names aside); blank: every endpoint.",
    )


class AlertChannelListCreateApi(ProjectApiView):
    @extend_schema(
        responses=AlertChannelOutput(many=True),
        operation_id="alert_channels_list",
        summary="List the project's alert channels",
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        return Response(AlertChannelOutput(channels_for_project(project=self.project), many=True).data)

    @extend_schema(
        request=AlertChannelInput,
        responses={201: AlertChannelCreatedOutput},
        operation_id="alert_channels_create",
        summary="Add an alert channel (owner only)",
        description="A `webhook` or `slack` channel needs a `url`, an `email` channel an `email`. Webhook and Slack "
        "URLs that resolve to private, loopback or link-local addresses are refused. A webhook's signing `secret` "
        "is in this reply only.\n\n" + PAYLOAD_DOC,
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        serializer = AlertChannelInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        channel, secret = channel_create(project=self.project, **serializer.validated_data)
        return Response({**AlertChannelOutput(channel).data, "secret": secret}, status=status.HTTP_201_CREATED)


class AlertChannelDetailApi(ProjectApiView):
    @extend_schema(
        responses=AlertChannelDetailOutput,
        operation_id="alert_channels_retrieve",
        summary="An alert channel with its delivery log",
        description="The channel's newest deliveries: the alert, its status and every attempt.",
        tags=TAGS,
    )
    def get(self, request: Request, channel: str) -> Response:
        found = channel_for_project(project=self.project, channel_id=channel)
        return Response(AlertChannelDetailOutput(found).data)

    @extend_schema(
        responses={204: None},
        operation_id="alert_channels_delete",
        summary="Delete an alert channel (owner only)",
        tags=TAGS,
    )
    def delete(self, request: Request, channel: str) -> Response:
        channel_delete(channel=channel_for_project(project=self.project, channel_id=channel))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AlertChannelTestApi(ProjectApiView):
    @extend_schema(
        request=None,
        responses={202: DeliveryOutput},
        operation_id="alert_channels_test",
        summary="Send a test notification to a channel",
        description="Queues an alert of event `test` for this channel only; see its delivery log for how it went.",
        tags=TAGS,
    )
    def post(self, request: Request, channel: str) -> Response:
        delivery = channel_test(channel=channel_for_project(project=self.project, channel_id=channel))
        return Response(DeliveryOutput(delivery).data, status=status.HTTP_202_ACCEPTED)


class MonitorListCreateApi(ProjectApiView):
    @extend_schema(
        responses=MonitorOutput(many=True),
        operation_id="monitors_list",
        summary="List the project's monitors",
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        return Response(MonitorOutput(monitors_for_project(project=self.project), many=True).data)

    @extend_schema(
        request=MonitorInput,
        responses={201: MonitorOutput},
        operation_id="monitors_create",
        summary="Add a monitor",
        description="Checked on every model of a trace, live ones included: an endpoint with at least `min_requests` "
        "requests whose 5xx share (`errors`, percent) or p99 latency (`latency`, ms) is over `threshold` raises "
        "`endpoint.errors` or `endpoint.latency`, once per monitor, trace and endpoint.",
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        serializer = MonitorInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        monitor = monitor_create(project=self.project, **serializer.validated_data)
        return Response(MonitorOutput(monitor).data, status=status.HTTP_201_CREATED)


class MonitorDeleteApi(ProjectApiView):
    @extend_schema(
        responses={204: None}, operation_id="monitors_delete", summary="Delete a monitor (owner only)", tags=TAGS
    )
    def delete(self, request: Request, monitor: str) -> Response:
        monitor_delete(monitor=monitor_for_project(project=self.project, monitor_id=monitor))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AlertListApi(ProjectApiView):
    @extend_schema(
        parameters=[OpenApiParameter("limit", int, required=False, description=f"At most {HISTORY_LIMIT}.")],
        responses=AlertOutput(many=True),
        operation_id="alerts_list",
        summary="The project's alert history, newest first, with deliveries",
        description=PAYLOAD_DOC,
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        limit = request.query_params.get("limit", str(HISTORY_LIMIT))
        if not limit.isdigit() or not 1 <= int(limit) <= HISTORY_LIMIT:
            raise Invalid(f"A number from 1 to {HISTORY_LIMIT}.", field="limit")
        return Response(AlertOutput(alert_history(project=self.project, limit=int(limit)), many=True).data)
