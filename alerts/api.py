"""Alert channels, monitors and the alert history of a project (REST API)."""

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from alerts.models import AlertChannel, Delivery, Event, Monitor
from alerts.selectors import (
    alert_history,
    channel_for_project,
    channels_for_project,
    delivery_log,
    monitor_for_project,
    monitors_for_project,
)
from alerts.services import channel_create, channel_delete, channel_test, monitor_create, monitor_delete
from controlplane.pagination import API_PAGE_PARAMETERS, api_page, api_page_of
from controlplane.schema import errors
from projects.auth import ApiRequest
from projects.gate import ProjectApiView

PAYLOAD_DOC = (
    "Every notification carries the same JSON: `event` (" + ", ".join(f"`{event}`" for event in Event.values) + "), "
    "`project` (`id`, `name`), `occurred_at`, `idempotency_key` (the same on a repeated delivery: drop repeats), "
    "`summary` (one sentence), `url` (the console page) and `details`; for `model.changed`, `details` has "
    "`breaking`, `added`, `removed` and `changed`, each change with `breaking` and a `reason`. Webhooks receive it "
    "as the POST body with `X-Pawprint-Signature`: the hex HMAC-SHA256 of the body keyed with the channel's "
    "secret. Slack-compatible channels receive an incoming-webhook message (`text`, `blocks`); email channels a mail."
)
CHANNEL_PARAMETER = OpenApiParameter(
    "channel", str, OpenApiParameter.PATH, description="An alert channel's id (`chn_…`)."
)
MONITOR_PARAMETER = OpenApiParameter("monitor", str, OpenApiParameter.PATH, description="A monitor's id (`mon_…`).")


class AlertChannelSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(source="public_id", help_text="chn_…")
    kind = serializers.ChoiceField(choices=AlertChannel.Kind.choices)
    name = serializers.CharField()
    target = serializers.CharField(help_text="The URL or address it sends to; a Slack URL's token is hidden.")
    created_at = serializers.DateTimeField()


class AlertChannelCreatedSerializer(AlertChannelSerializer):
    secret = serializers.CharField(
        help_text="Webhooks: the key of `X-Pawprint-Signature`, shown in this reply only; empty for other kinds."
    )


class AlertChannelCreateSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=AlertChannel.Kind.choices)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    url = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default="", help_text="For `webhook` and `slack`."
    )
    email = serializers.CharField(
        max_length=254, required=False, allow_blank=True, default="", help_text="For `email`."
    )


class DeliveryAttemptSerializer(serializers.Serializer[Any]):
    number = serializers.IntegerField()
    attempted_at = serializers.DateTimeField()
    status_code = serializers.IntegerField(allow_null=True, help_text="The receiver's HTTP status; null for mail.")
    response_excerpt = serializers.CharField(help_text="The start of the receiver's reply, at most 1 KB.")
    error = serializers.CharField(help_text="What went wrong when there was no reply, or a redirect.")
    retry_in_seconds = serializers.FloatField(allow_null=True, help_text="The backoff before the next attempt.")


class DeliverySerializer(serializers.Serializer[Any]):
    channel_id = serializers.CharField(source="channel.public_id")
    status = serializers.ChoiceField(choices=Delivery.Status.choices)
    attempts = DeliveryAttemptSerializer(many=True, source="attempt_log.all")
    created_at = serializers.DateTimeField()


class AlertSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(source="public_id", help_text="alr_…")
    event = serializers.ChoiceField(choices=Event.choices)
    occurred_at = serializers.DateTimeField()
    idempotency_key = serializers.CharField()
    summary = serializers.CharField()
    url = serializers.CharField(help_text="The console page about it.")
    details = serializers.JSONField()
    deliveries = DeliverySerializer(many=True, source="deliveries.all")


class ChannelDeliverySerializer(DeliverySerializer):
    alert_id = serializers.CharField(source="alert.public_id")
    event = serializers.CharField(source="alert.event")
    summary = serializers.CharField(source="alert.summary")


class AlertChannelDetailSerializer(AlertChannelSerializer):
    deliveries = serializers.SerializerMethodField(help_text="The newest deliveries, each with every attempt.")

    @extend_schema(responses=ChannelDeliverySerializer(many=True))
    def get_deliveries(self, channel: AlertChannel) -> list[dict[str, Any]]:
        return list(ChannelDeliverySerializer(delivery_log(channel=channel), many=True).data)


class MonitorSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(source="public_id", help_text="mon_…")
    kind = serializers.ChoiceField(choices=Monitor.Kind.choices)
    threshold = serializers.FloatField()
    min_requests = serializers.IntegerField()
    endpoint = serializers.CharField(help_text="`METHOD /path/{param}`, or empty for every endpoint.")
    condition = serializers.CharField(help_text="The monitor in words.")
    created_at = serializers.DateTimeField()


class MonitorCreateSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(
        choices=Monitor.Kind.choices, help_text="`errors`: the share of requests answered 5xx; `latency`: the p99."
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


@extend_schema(tags=["alerts"])
class AlertChannelListCreateApi(ProjectApiView):
    @extend_schema(
        operation_id="alert_channels_list",
        summary="List the project's alert channels",
        description="Where the project's alerts are sent, oldest first. Secrets are never shown again.",
        responses={200: AlertChannelSerializer(many=True), **errors(401, 403, 404)},
    )
    def get(self, request: ApiRequest) -> Response:
        return Response(AlertChannelSerializer(channels_for_project(project=self.project), many=True).data)

    @extend_schema(
        operation_id="alert_channels_create",
        summary="Add an alert channel",
        description="A `webhook` or `slack` channel needs a `url`, an `email` channel an `email`. URLs resolving to "
        "private, loopback or link-local addresses are refused (unless the server allows them). A webhook's "
        "signing `secret` is in this reply only. Owner only.\n\n" + PAYLOAD_DOC,
        request=AlertChannelCreateSerializer,
        responses={201: AlertChannelCreatedSerializer, **errors(400, 401, 403, 404)},
        examples=[
            OpenApiExample(
                "A webhook", value={"kind": "webhook", "url": "https://hooks.example.com/pawprint"}, request_only=True
            ),
            OpenApiExample("A mailbox", value={"kind": "email", "email": "oncall@example.com"}, request_only=True),
        ],
    )
    def post(self, request: ApiRequest) -> Response:
        serializer = AlertChannelCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        channel, secret = channel_create(project=self.project, **serializer.validated_data)
        return Response({**AlertChannelSerializer(channel).data, "secret": secret}, status=status.HTTP_201_CREATED)


@extend_schema(tags=["alerts"], parameters=[CHANNEL_PARAMETER])
class AlertChannelDetailApi(ProjectApiView):
    @extend_schema(
        operation_id="alert_channels_retrieve",
        summary="Read an alert channel and its delivery log",
        description="The channel with its newest deliveries: the alert, the delivery's status and every attempt "
        "(time, status code, the start of the reply, the backoff before the next one).",
        responses={200: AlertChannelDetailSerializer, **errors(401, 403, 404)},
    )
    def get(self, request: ApiRequest, channel: str) -> Response:
        return Response(
            AlertChannelDetailSerializer(channel_for_project(project=self.project, channel_id=channel)).data
        )

    @extend_schema(
        operation_id="alert_channels_delete",
        summary="Delete an alert channel",
        description="Stop sending alerts there; its delivery log goes with it. Owner only.",
        responses={204: None, **errors(401, 403, 404)},
    )
    def delete(self, request: ApiRequest, channel: str) -> Response:
        channel_delete(channel=channel_for_project(project=self.project, channel_id=channel))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["alerts"], parameters=[CHANNEL_PARAMETER])
class AlertChannelTestApi(ProjectApiView):
    @extend_schema(
        operation_id="alert_channels_test",
        summary="Send a test notification",
        description="Queue an alert of event `test` for this channel only; its delivery log shows how it went.",
        request=None,
        responses={202: DeliverySerializer, **errors(401, 403, 404)},
    )
    def post(self, request: ApiRequest, channel: str) -> Response:
        delivery = channel_test(channel=channel_for_project(project=self.project, channel_id=channel))
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["alerts"])
class MonitorListCreateApi(ProjectApiView):
    @extend_schema(
        operation_id="monitors_list",
        summary="List the project's monitors",
        description="The error-rate and latency thresholds checked on every model of the project's traces.",
        responses={200: MonitorSerializer(many=True), **errors(401, 403, 404)},
    )
    def get(self, request: ApiRequest) -> Response:
        return Response(MonitorSerializer(monitors_for_project(project=self.project), many=True).data)

    @extend_schema(
        operation_id="monitors_create",
        summary="Add a monitor",
        description="Checked on every model of a trace, live ones included: an endpoint with at least "
        "`min_requests` requests whose 5xx share (`errors`, percent) or p99 latency (`latency`, ms) is over "
        "`threshold` raises `endpoint.errors` or `endpoint.latency`, once per monitor, trace and endpoint.",
        request=MonitorCreateSerializer,
        responses={201: MonitorSerializer, **errors(400, 401, 403, 404)},
        examples=[
            OpenApiExample(
                "Over 5% of 5xx", value={"kind": "errors", "threshold": 5, "min_requests": 20}, request_only=True
            ),
            OpenApiExample(
                "One slow endpoint",
                value={"kind": "latency", "threshold": 800, "endpoint": "GET /v1/orders/{id}"},
                request_only=True,
            ),
        ],
    )
    def post(self, request: ApiRequest) -> Response:
        serializer = MonitorCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        monitor = monitor_create(project=self.project, **serializer.validated_data)
        return Response(MonitorSerializer(monitor).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["alerts"], parameters=[MONITOR_PARAMETER])
class MonitorDeleteApi(ProjectApiView):
    @extend_schema(
        operation_id="monitors_delete",
        summary="Delete a monitor",
        description="Stop checking this threshold; past alerts stay in the history. Owner only.",
        responses={204: None, **errors(401, 403, 404)},
    )
    def delete(self, request: ApiRequest, monitor: str) -> Response:
        monitor_delete(monitor=monitor_for_project(project=self.project, monitor_id=monitor))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["alerts"])
class AlertListApi(ProjectApiView):
    @extend_schema(
        operation_id="alerts_list",
        summary="List the project's alerts",
        description="What happened, newest first, each with its deliveries and their attempts.\n\n" + PAYLOAD_DOC,
        parameters=API_PAGE_PARAMETERS,
        responses={200: api_page_of(AlertSerializer, "AlertPage"), **errors(400, 401, 403, 404)},
    )
    def get(self, request: ApiRequest) -> Response:
        return api_page(
            request, alert_history(project=self.project), lambda alerts: AlertSerializer(alerts, many=True).data
        )
