import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django_prometheus.exports import ExportToDjangoView
from prometheus_client import REGISTRY

from controlplane.error_handlers import error_body
from controlplane.metrics import WorkCollector

# Registered with the view that serves it (the URLconf imports this module once per process).
REGISTRY.register(WorkCollector())


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics, behind `Authorization: Bearer METRICS_TOKEN` (or loopback only when no token is set)."""
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        allowed = hmac.compare_digest(given.encode(), token.encode())
    else:
        allowed = request.META.get("REMOTE_ADDR") in {"127.0.0.1", "::1"}
    if not allowed:
        return JsonResponse(error_body("forbidden", "Metrics need the metrics token."), status=403)
    response: HttpResponse = ExportToDjangoView(request)
    return response
