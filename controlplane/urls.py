from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from health_check.views import HealthCheckView

from alerts.api import (
    AlertChannelDetailApi,
    AlertChannelListCreateApi,
    AlertChannelTestApi,
    AlertListApi,
    MonitorDeleteApi,
    MonitorListCreateApi,
)
from apimodels.api import (
    ModelDiffApi,
    PathHintsApi,
    ProjectModelApi,
    ProjectModelRebuildApi,
    ProjectOpenApiApi,
    TraceModelApi,
    TraceOpenApiApi,
    TraceRebuildApi,
)
from controlplane.health import health_checks
from controlplane.operability import metrics_view
from daemons.api import DaemonListApi, HeartbeatApi, daemon_long_poll
from projects.api import ApiKeyListCreateApi, ApiKeyRevokeApi, ProjectDetailApi, ProjectListCreateApi, ProjectMembersApi
from projects.gate import Access, project_api
from traces.api import HarUploadApi, TraceDetailApi, TraceListStartApi, TraceStopApi, WitnessUploadApi

project = "projects/<str:project>"
trace = f"{project}/traces/<str:trace>"
channel = f"{project}/alert-channels/<str:channel>"
MEMBER, OWNER, DAEMON = Access.MEMBER, Access.OWNER, Access.DAEMON

# Every route with a project goes through the gate (projects.gate), which names the access of each method.
api_v1 = [
    path("projects", ProjectListCreateApi.as_view(), name="projects"),
    project_api(project, ProjectDetailApi, name="project", GET=MEMBER, DELETE=OWNER),
    project_api(f"{project}/members", ProjectMembersApi, name="project-members", GET=MEMBER, POST=OWNER),
    project_api(f"{project}/traces", TraceListStartApi, name="traces", GET=MEMBER, POST=MEMBER),
    project_api(f"{project}/traces/har", HarUploadApi, name="trace-har-upload", POST=MEMBER),
    project_api(trace, TraceDetailApi, name="trace", GET=MEMBER, PATCH=MEMBER, DELETE=OWNER),
    project_api(f"{trace}/stop", TraceStopApi, name="trace-stop", POST=MEMBER),
    project_api(f"{trace}/model", TraceModelApi, name="trace-model", GET=MEMBER),
    project_api(f"{trace}/openapi", TraceOpenApiApi, name="trace-openapi", GET=MEMBER),
    project_api(f"{trace}/rebuild", TraceRebuildApi, name="trace-rebuild", POST=MEMBER),
    project_api(f"{trace}/witnesses", WitnessUploadApi, name="trace-witnesses", POST=DAEMON),
    project_api(f"{project}/model", ProjectModelApi, name="project-model", GET=MEMBER),
    project_api(f"{project}/model/rebuild", ProjectModelRebuildApi, name="project-model-rebuild", POST=MEMBER),
    project_api(f"{project}/openapi", ProjectOpenApiApi, name="project-openapi", GET=MEMBER),
    project_api(f"{project}/path-hints", PathHintsApi, name="path-hints", GET=MEMBER, PUT=MEMBER),
    project_api(f"{project}/diff", ModelDiffApi, name="model-diff", GET=MEMBER),
    project_api(f"{project}/daemons", DaemonListApi, name="daemons", GET=MEMBER),
    project_api(f"{project}/daemon", daemon_long_poll, name="daemon-long-poll", POST=DAEMON),
    project_api(f"{project}/alert-channels", AlertChannelListCreateApi, name="alert-channels", GET=MEMBER, POST=OWNER),
    project_api(channel, AlertChannelDetailApi, name="alert-channel", GET=MEMBER, DELETE=OWNER),
    project_api(f"{channel}/test", AlertChannelTestApi, name="alert-channel-test", POST=MEMBER),
    project_api(f"{project}/monitors", MonitorListCreateApi, name="monitors", GET=MEMBER, POST=MEMBER),
    project_api(f"{project}/monitors/<str:monitor>", MonitorDeleteApi, name="monitor", DELETE=OWNER),
    project_api(f"{project}/alerts", AlertListApi, name="alerts", GET=MEMBER),
    path("daemon/heartbeat", HeartbeatApi.as_view(), name="daemon-heartbeat"),
    path("api-keys", ApiKeyListCreateApi.as_view(), name="api-keys"),
    path("api-keys/<str:key_id>", ApiKeyRevokeApi.as_view(), name="api-key"),
]

urlpatterns = [
    path("api/v1/", include((api_v1, "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("health/", HealthCheckView.as_view(checks=health_checks()), name="health"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("", include("controlplane.console_urls")),
]

handler400 = "controlplane.error_handlers.bad_request"
handler403 = "controlplane.error_handlers.permission_denied"
handler404 = "controlplane.error_handlers.not_found"
handler500 = "controlplane.error_handlers.server_error"
