from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from apimodels.models import ModelVersion
from apimodels.views import schema_node
from projects.models import Project, User
from traces.models import Trace
from traces.services import trace_start, trace_stop

from ..conftest import har_upload
from .conftest import SMALL_HAR, htmx

Login = Callable[[User], Client]


def traces_url(project: Project) -> str:
    return f"/projects/{project.public_id}/traces/"


def test_traces_page_for_owner_and_member(login: Login, project: Project, bob: User) -> None:
    trace_start(project=project, user=bob, duration_minutes=15, name="morning-run")
    for user in (project.owner, bob):
        page = login(user).get(traces_url(project)).text
        assert "morning-run" in page
        assert '<option value="1440">24 h</option>' in page
        assert '<option value="15">15 min</option>' in page


def test_it_starts_a_trace_with_a_preset_duration(login: Login, project: Project, bob: User) -> None:
    response = login(bob).post(traces_url(project), {"duration_minutes": 30, "name": ""})
    assert response["Location"] == traces_url(project)
    trace = Trace.objects.get(project=project)
    assert trace.ends_at - trace.started_at == timedelta(minutes=30)
    assert trace.get_status(timezone.now()) == "active"
    page = login(bob).get(traces_url(project)).text
    assert trace.name in page
    assert '<span class="badge active">active</span>' in page


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"duration_minutes": 7}, "Select a valid choice. 7 is not one of the available choices."),
        ({"duration_minutes": 15, "name": "Bad Name"}, "Use 2 to 100 lowercase letters, digits and dashes."),
        ({"duration_minutes": 15, "name": "taken"}, "A trace named &#x27;taken&#x27; exists in this project."),
    ],
)
def test_start_form_errors_are_shown(login: Login, project: Project, data: dict[str, object], error: str) -> None:
    trace_start(project=project, user=project.owner, duration_minutes=15, name="taken")
    response = login(project.owner).post(traces_url(project), data)
    assert response.status_code == 400
    assert error in response.text
    assert Trace.objects.filter(project=project).count() == 1


def test_the_trace_table_polls_while_a_trace_is_active(login: Login, project: Project) -> None:
    trace_start(project=project, user=project.owner, duration_minutes=15)
    client = login(project.owner)
    assert 'hx-trigger="every 3s"' in client.get(traces_url(project)).text
    response = client.get(traces_url(project), **htmx("trace-table"))
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="trace-table"')
    assert 'hx-trigger="every 3s"' in response.text


def test_the_trace_table_answers_286_when_nothing_can_change(login: Login, project: Project, built: Trace) -> None:
    client = login(project.owner)
    assert "hx-trigger" not in client.get(traces_url(project)).text.split('id="trace-table"')[1].split(">")[0]
    response = client.get(traces_url(project), **htmx("trace-table"))
    assert response.status_code == 286
    assert "model v1 ready" in response.text
    assert "hx-trigger" not in response.text


def test_a_queued_build_keeps_the_table_polling(login: Login, project: Project) -> None:
    trace = trace_start(project=project, user=project.owner, duration_minutes=15)
    trace_stop(trace=trace)  # the build is queued on commit, which this test never reaches
    response = login(project.owner).get(traces_url(project), **htmx("trace-table"))
    assert response.status_code == 200
    assert '<span class="badge stopped">stopped</span>' in response.text
    assert "queued" in response.text


def test_a_member_stops_a_trace_and_returns_to_the_list(login: Login, project: Project, bob: User) -> None:
    trace = trace_start(project=project, user=project.owner, duration_minutes=60)
    response = login(bob).post(f"{traces_url(project)}{trace.name}/stop/", {"next": traces_url(project)})
    assert response["Location"] == traces_url(project)
    trace.refresh_from_db()
    assert trace.get_status(timezone.now()) == "stopped"


def test_stop_ignores_a_foreign_next_url(login: Login, project: Project) -> None:
    trace = trace_start(project=project, user=project.owner, duration_minutes=60)
    response = login(project.owner).post(
        f"{traces_url(project)}{trace.public_id}/stop/", {"next": "https://evil.test/"}
    )
    assert response["Location"] == f"{traces_url(project)}{trace.name}/"


def test_it_uploads_a_har_file(login: Login, project: Project, django_capture_on_commit_callbacks) -> None:
    upload = SimpleUploadedFile("small.har", SMALL_HAR.read_bytes(), content_type="application/json")
    with django_capture_on_commit_callbacks(execute=True):
        response = login(project.owner).post(f"/projects/{project.public_id}/har-uploads/", {"file": upload})
    trace = Trace.objects.get(project=project)
    assert trace.source == "har"
    assert response["Location"] == f"{traces_url(project)}{trace.name}/"
    page = login(project.owner).get(response["Location"]).text
    assert page.count('class="endpoint-row"') == 7


@pytest.mark.parametrize(
    ("content", "error"),
    [(b"not json", "Not a JSON HAR file"), (b'{"log": {}}', "The HAR file has no HTTP requests with responses.")],
)
def test_a_bad_har_file_shows_its_error_on_the_trace_page(
    login: Login, project: Project, content: bytes, error: str, django_capture_on_commit_callbacks
) -> None:
    client = login(project.owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/projects/{project.public_id}/har-uploads/", {"file": SimpleUploadedFile("x", content)}
        )
    page = client.get(response["Location"]).text
    assert 'id="import-errors"' in page and error in page


def test_a_har_file_over_the_limit_is_refused_next_to_the_field(login: Login, project: Project, settings) -> None:
    settings.HAR_UPLOAD_MAX_BYTES = 100
    upload = SimpleUploadedFile("big.har", SMALL_HAR.read_bytes())
    response = login(project.owner).post(f"/projects/{project.public_id}/har-uploads/", {"file": upload})
    assert response.status_code == 400
    assert "HAR files are limited to 100 bytes" in response.text
    assert not Trace.objects.exists()


def test_the_har_upload_form_checks_the_csrf_token(project: Project) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(project.owner)
    upload = SimpleUploadedFile("small.har", SMALL_HAR.read_bytes())
    response = client.post(f"/projects/{project.public_id}/har-uploads/", {"file": upload})
    assert response.status_code == 403
    assert not Trace.objects.exists()


def test_trace_page_shows_the_endpoints_and_the_openapi_link(
    login: Login, project: Project, built: Trace, bob: User
) -> None:
    for user in (project.owner, bob):
        page = login(user).get(f"{traces_url(project)}{built.name}/").text
        assert page.count('class="endpoint-row"') == 7
        assert "/v1/users/{user_id}" in page
        assert f"/api/v1/projects/{project.public_id}/traces/{built.public_id}/openapi?format=yaml" in page


def test_endpoint_filters_work_as_a_plain_get(login: Login, project: Project, built: Trace) -> None:
    page = login(project.owner).get(f"{traces_url(project)}{built.name}/", {"method": "DELETE"}).text
    assert page.count('class="endpoint-row"') == 1
    assert '<option value="DELETE" selected>' in page
    assert "matching the filters" in page


def test_endpoint_filters_by_htmx_render_only_the_table(login: Login, project: Project, built: Trace) -> None:
    response = login(project.owner).get(
        f"{traces_url(project)}{built.name}/", {"q": "users", "method": "GET"}, **htmx("endpoints")
    )
    assert response.text.lstrip().startswith('<div id="endpoints">')
    assert "<form" not in response.text
    assert response.text.count('class="endpoint-row"') == 3


def test_the_openapi_link_downloads_yaml(login: Login, project: Project, built: Trace) -> None:
    response = login(project.owner).get(
        f"/api/v1/projects/{project.public_id}/traces/{built.public_id}/openapi", {"format": "yaml"}
    )
    assert response.status_code == 200
    assert b"openapi: 3.1" in response.getvalue()


def test_build_polling_continues_while_queued(login: Login, project: Project) -> None:
    trace = har_upload(project=project, user=project.owner, content=SMALL_HAR.read_bytes())  # build never runs
    client = login(project.owner)
    page = client.get(f"{traces_url(project)}{trace.name}/").text
    assert "The model is being built" in page
    assert 'hx-trigger="every 1s"' in page
    response = client.get(f"{traces_url(project)}{trace.name}/live/", {"shown": ""}, **htmx("trace-live"))
    assert response.status_code == 200
    assert "queued" in response.text


def test_build_polling_reloads_the_page_when_a_new_model_is_ready(login: Login, project: Project, built: Trace) -> None:
    response = login(project.owner).get(f"{traces_url(project)}{built.name}/live/", {"shown": ""}, **htmx("trace-live"))
    assert response.status_code == 200
    assert response["HX-Refresh"] == "true"


def test_build_polling_stops_with_286_once_the_shown_model_is_ready(
    login: Login, project: Project, built: Trace
) -> None:
    model = built.model_versions.get()
    client = login(project.owner)
    assert 'hx-trigger="every 1s"' not in client.get(f"{traces_url(project)}{built.name}/").text
    response = client.get(f"{traces_url(project)}{built.name}/live/", {"shown": model.public_id}, **htmx("trace-live"))
    assert response.status_code == 286
    assert "model v1 ready" in response.text
    assert "hx-trigger" not in response.text


def test_a_failed_build_stops_polling_and_shows_the_error(login: Login, project: Project) -> None:
    trace = har_upload(project=project, user=project.owner, content=SMALL_HAR.read_bytes())
    trace.model_versions.update(status=ModelVersion.BuildStatus.FAILED, error="ValueError: boom")
    response = login(project.owner).get(f"{traces_url(project)}{trace.name}/live/", {"shown": ""}, **htmx("trace-live"))
    assert response.status_code == 286
    assert "ValueError: boom" in response.text


def test_an_active_trace_page_polls_and_offers_stop(login: Login, project: Project) -> None:
    trace = trace_start(project=project, user=project.owner, duration_minutes=15)
    page = login(project.owner).get(f"{traces_url(project)}{trace.name}/").text
    assert "Stop trace" in page
    assert "Endpoints appear here within a minute of the first uploaded witnesses" in page
    assert 'hx-trigger="every 1s"' in page


def test_endpoint_page_shows_parameters_bodies_and_latency(
    login: Login, project: Project, built: Trace, bob: User
) -> None:
    endpoint = built.model_versions.get().endpoints.get(method="GET", path="/v1/users/{user_id}")
    url = f"{traces_url(project)}{built.name}/endpoints/{endpoint.public_id}/"
    for user in (project.owner, bob):
        response = login(user).get(url)
        assert response.status_code == 200
        assert '<td class="mono">user_id</td>' in response.text
        assert '<span class="format">(uuid)</span>' in response.text
        assert "p99" in response.text
        assert 'id="responses"' in response.text


def test_unknown_traces_and_endpoints_are_404(login: Login, project: Project, built: Trace) -> None:
    client = login(project.owner)
    assert client.get(f"{traces_url(project)}no-such-trace/").status_code == 404
    assert client.get(f"{traces_url(project)}{built.name}/endpoints/ept_nope/").status_code == 404


def test_schema_node_shows_types_formats_required_and_nullable() -> None:
    node = schema_node(
        {
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "nickname": {"type": ["string", "null"]},
                "tags": {"type": "array", "items": {"type": "string"}},
                "scores": {"type": "object", "additionalProperties": {"type": ["integer", "number"]}},
            },
        }
    )
    by_name = {child["name"]: child for child in node["children"]}
    assert by_name["id"]["required"] and by_name["id"]["format"] == "uuid"
    assert by_name["nickname"]["nullable"] and by_name["nickname"]["types"] == ["string"]
    assert not by_name["nickname"]["required"]
    assert by_name["tags"]["children"][0]["name"] == "[ ]"
    assert by_name["scores"]["children"][0]["types"] == ["integer", "number"]


def test_a_failed_build_stops_the_polling_and_offers_a_rebuild(
    login: Login, project: Project, built: Trace, django_capture_on_commit_callbacks
) -> None:
    built.model_versions.update(status=ModelVersion.BuildStatus.FAILED, error="RuntimeError: boom")
    client = login(project.owner)
    table = client.get(traces_url(project), **htmx("trace-table"))
    assert table.status_code == 286
    rebuild = f'action="/projects/{project.public_id}/traces/{built.name}/rebuild/"'
    assert "build failed" in table.text and rebuild in table.text
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"{traces_url(project)}{built.name}/rebuild/").status_code == 302
    assert built.model_versions.filter(status=ModelVersion.BuildStatus.READY).exists()
