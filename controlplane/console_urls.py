"""The web console: server-rendered pages; htmx partials come from the same URLs."""

from django.contrib.auth import views as auth_views
from django.urls import path

from alerts import views as alert_views
from apimodels import views as model_views
from controlplane import overview
from daemons import views as daemon_views
from projects import views as project_views
from projects.forms import LoginForm
from projects.gate import Access, project_page
from traces import views as trace_views

project = "projects/<str:project>"
trace = f"{project}/traces/<str:trace>"
model = f"{project}/models/<str:model>"
channel = f"{project}/alerts/channels/<str:channel>"
MEMBER, OWNER = Access.MEMBER, Access.OWNER

# Every page with a project goes through the gate (projects.gate), which names the access of each method.
urlpatterns = [
    path("", project_views.home, name="home"),
    path("signup/", project_views.signup, name="signup"),
    path(
        "login/",
        auth_views.LoginView.as_view(authentication_form=LoginForm, redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("projects/", project_views.project_list, name="project-list"),
    path("projects/new/", project_views.project_new, name="project-new"),
    project_page(f"{project}/", overview.project_overview, name="project-overview", GET=MEMBER),
    project_page(f"{project}/delete/", project_views.project_remove, name="project-delete", POST=OWNER),
    project_page(f"{project}/members/", project_views.member_list, name="member-list", GET=MEMBER),
    project_page(f"{project}/members/add/", project_views.member_add, name="member-add", POST=OWNER),
    project_page(
        f"{project}/members/<str:username>/remove/", project_views.member_remove, name="member-remove", POST=OWNER
    ),
    project_page(f"{project}/settings/path-hints/", model_views.path_hints, name="path-hints", GET=MEMBER, POST=MEMBER),
    project_page(f"{project}/daemons/", daemon_views.daemon_list, name="daemon-list", GET=MEMBER),
    # GET lists, POST starts a trace; nothing else sits beside the trace names under traces/.
    project_page(f"{project}/traces/", trace_views.trace_list, name="trace-list", GET=MEMBER, POST=MEMBER),
    project_page(f"{project}/har-uploads/", trace_views.trace_har_upload, name="trace-har-upload", POST=MEMBER),
    project_page(f"{trace}/", model_views.trace_detail, name="trace-detail", GET=MEMBER),
    project_page(f"{trace}/live/", model_views.trace_live, name="trace-live", GET=MEMBER),
    project_page(f"{trace}/reach/", daemon_views.trace_reach_part, name="trace-reach", GET=MEMBER),
    project_page(f"{trace}/stop/", trace_views.trace_end, name="trace-stop", POST=MEMBER),
    project_page(f"{trace}/edit/", trace_views.trace_edit, name="trace-edit", GET=MEMBER, POST=MEMBER),
    project_page(f"{trace}/delete/", trace_views.trace_remove, name="trace-delete", POST=OWNER),
    project_page(f"{trace}/rebuild/", model_views.trace_model_rebuild, name="trace-rebuild", POST=MEMBER),
    project_page(
        f"{trace}/endpoints/<str:endpoint>/", model_views.endpoint_detail, name="trace-endpoint-detail", GET=MEMBER
    ),
    project_page(f"{project}/model/", model_views.project_model, name="project-model", GET=MEMBER),
    project_page(f"{project}/model/live/", model_views.project_model_live, name="project-model-live", GET=MEMBER),
    project_page(
        f"{project}/model/rebuild/", model_views.project_model_rebuild, name="project-model-rebuild", POST=MEMBER
    ),
    project_page(f"{model}/endpoints/<str:endpoint>/", model_views.endpoint_detail, name="endpoint-detail", GET=MEMBER),
    project_page(f"{project}/diff/", model_views.model_diff, name="model-diff", GET=MEMBER),
    project_page(f"{project}/alerts/", alert_views.alert_list, name="alert-list", GET=MEMBER),
    project_page(
        f"{project}/alerts/channels/", alert_views.channel_list, name="alert-channel-list", GET=MEMBER, POST=OWNER
    ),
    project_page(f"{channel}/", alert_views.channel_detail, name="alert-channel-detail", GET=MEMBER),
    project_page(f"{channel}/test/", alert_views.channel_send_test, name="alert-channel-test", POST=MEMBER),
    project_page(f"{channel}/delete/", alert_views.channel_remove, name="alert-channel-delete", POST=OWNER),
    project_page(f"{project}/alerts/monitors/", alert_views.monitor_list, name="monitor-list", GET=MEMBER, POST=MEMBER),
    project_page(
        f"{project}/alerts/monitors/<str:monitor>/delete/",
        alert_views.monitor_remove,
        name="monitor-delete",
        POST=OWNER,
    ),
    path("settings/api-keys/", project_views.api_key_list, name="api-key-list"),
    path("settings/api-keys/new/", project_views.api_key_new, name="api-key-new"),
    path("settings/api-keys/<str:key_id>/revoke/", project_views.api_key_remove, name="api-key-revoke"),
]
