from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from health_check.views import HealthCheckView

from controlplane.health import health_checks
from controlplane.operability import metrics_view
from daemons.api import DaemonListApi, HeartbeatApi, daemon_long_poll
from projects.api import ApiKeyListCreateApi, ApiKeyRevokeApi, ProjectDetailApi, ProjectListCreateApi, ProjectMembersApi
from traces.api import (
    HarUploadApi,
    ModelDiffApi,
    PathHintsApi,
    ProjectModelApi,
    ProjectModelRebuildApi,
    ProjectOpenApiApi,
    TraceDetailApi,
    TraceListStartApi,
    TraceModelApi,
    TraceOpenApiApi,
    TraceRebuildApi,
    TraceStopApi,
    WitnessUploadApi,
)

project = "projects/<str:project>"
trace = f"{project}/traces/<str:trace>"

api_v1 = [
    path("projects", ProjectListCreateApi.as_view()),
    path(project, ProjectDetailApi.as_view()),
    path(f"{project}/members", ProjectMembersApi.as_view()),
    path(f"{project}/traces", TraceListStartApi.as_view()),
    path(f"{project}/traces/har", HarUploadApi.as_view()),
    path(trace, TraceDetailApi.as_view()),
    path(f"{trace}/stop", TraceStopApi.as_view()),
    path(f"{trace}/model", TraceModelApi.as_view()),
    path(f"{trace}/openapi", TraceOpenApiApi.as_view()),
    path(f"{trace}/rebuild", TraceRebuildApi.as_view()),
    path(f"{project}/model", ProjectModelApi.as_view()),
    path(f"{project}/model/rebuild", ProjectModelRebuildApi.as_view()),
    path(f"{project}/openapi", ProjectOpenApiApi.as_view()),
    path(f"{project}/path-hints", PathHintsApi.as_view()),
    path(f"{project}/diff", ModelDiffApi.as_view()),
    path(f"{trace}/witnesses", WitnessUploadApi.as_view()),
    path(f"{project}/daemons", DaemonListApi.as_view()),
    path(f"{project}/daemon", daemon_long_poll),
    path("daemon/heartbeat", HeartbeatApi.as_view()),
    path("api-keys", ApiKeyListCreateApi.as_view()),
    path("api-keys/<str:key_id>", ApiKeyRevokeApi.as_view()),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("health/", HealthCheckView.as_view(checks=health_checks()), name="health"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("", include("controlplane.console_urls")),
]

handler404 = "controlplane.errors.not_found"
handler500 = "controlplane.errors.server_error"
