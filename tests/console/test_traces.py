from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from apimodels.models import ModelVersion
from apimodels.views import schema_node
from projects.models import Project, User
from traces.models import HarUpload, Trace, WitnessBatch
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
        ({"duration_minutes": 15, "name": "bad name"}, "Use 2 to 100 lowercase letters, digits and dashes."),
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
    assert (trace.source, trace.name) == ("har", "small")
    assert not HarUpload.objects.exists()  # imported, then deleted
    assert response["Location"] == f"{traces_url(project)}small/"
    page = login(project.owner).get(response["Location"]).text
    assert page.count('class="endpoint-row"') == 7
    assert "Uploaded small.har as small; its model is building." in page
    assert '"Last seen" is in the HAR\'s time' in page


def test_an_upload_of_the_same_file_again_gets_the_next_free_name(login: Login, project: Project) -> None:
    for _ in range(2):
        upload = SimpleUploadedFile("Checkout Flow.har", SMALL_HAR.read_bytes())
        login(project.owner).post(f"/projects/{project.public_id}/har-uploads/", {"file": upload})
    assert sorted(Trace.objects.values_list("name", flat=True)) == ["checkout-flow", "checkout-flow-2"]


def test_uppercase_trace_names_are_lowered(login: Login, project: Project) -> None:
    login(project.owner).post(traces_url(project), {"duration_minutes": 15, "name": "Checkout-Flow"})
    assert Trace.objects.get().name == "checkout-flow"


def test_a_started_trace_is_confirmed_and_ends_in_its_full_duration(login: Login, project: Project) -> None:
    client = login(project.owner)
    client.post(traces_url(project), {"duration_minutes": 15, "name": "quick"})
    page = client.get(traces_url(project)).text
    assert "Started quick for 15 min; daemons begin capturing within a second." in page
    assert ">in 15\xa0minutes</time>" in page  # not 14 minutes and 59 seconds truncated to 14
    assert 'data-confirm="Stop quick?' in page


def test_the_trace_list_shows_duration_witnesses_endpoints_and_model(
    login: Login, project: Project, built: Trace
) -> None:
    trace_stop(trace=trace_start(project=project, user=project.owner, duration_minutes=90, name="long"))
    page = login(project.owner).get(traces_url(project)).text
    row = page.split(f'id="trace-{built.public_id}"')[1].split("</tr>")[0]
    assert '<td class="num">7</td>' in row  # endpoints of its ready model
    assert "model v1 ready" in row
    long_row = page.split('<tr id="trace-')[1].split("</tr>")[0]
    assert "&lt; 1 min" in long_row  # stopped right after it started


def test_the_trace_list_pages_newest_first_and_polls_and_stops_on_its_page(
    login: Login, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("traces.views.TRACES_PER_PAGE", 2)
    for index in range(5):
        trace_start(project=project, user=project.owner, duration_minutes=15, name=f"run-{index}")
    client = login(project.owner)
    first = client.get(traces_url(project)).text
    assert "run-4" in first and "run-3" in first and "run-2" not in first
    assert '<a href="?page=3">3</a>' in first and "1\u20132 of 5 traces, newest first." in first
    last = client.get(traces_url(project), {"page": "3"}).text
    assert "run-0" in last and "run-1" not in last
    assert f'hx-get="{traces_url(project)}?page=3"' in last  # the poll refreshes the page shown
    assert f'name="next" value="{traces_url(project)}?page=3"' in last  # Stop comes back to it
    for bad in ("x", "0", "99", "9" * 40):  # not a page: the first or the last, never an error
        assert client.get(traces_url(project), {"page": bad}).status_code == 200


def test_the_edit_page_renames_a_trace(login: Login, project: Project, bob: User) -> None:
    trace = trace_start(project=project, user=project.owner, duration_minutes=15, name="old-name")
    client = login(bob)
    assert 'value="old-name"' in client.get(f"{traces_url(project)}old-name/edit/").text
    response = client.post(f"{traces_url(project)}old-name/edit/", {"name": "New-Name"})
    assert response["Location"] == f"{traces_url(project)}new-name/"
    trace.refresh_from_db()
    assert trace.name == "new-name"
    assert "Renamed old-name to new-name." in client.get(response["Location"]).text


def test_only_the_owner_deletes_a_trace(login: Login, project: Project, bob: User) -> None:
    trace_start(project=project, user=bob, duration_minutes=15, name="kept")
    client = login(bob)
    page = client.get(f"{traces_url(project)}kept/edit/").text
    assert "Delete trace" not in page
    assert "Only the project's owner, alice, can delete traces." in page
    assert client.post(f"{traces_url(project)}kept/delete/").status_code == 403
    assert Trace.objects.filter(name="kept").exists()


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", "This field is required."),
        ("a b", "Use 2 to 100 lowercase letters, digits and dashes."),
        ("har", "&#x27;har&#x27; is reserved; choose another name."),
        ("taken", "A trace named &#x27;taken&#x27; exists in this project."),
    ],
)
def test_rename_errors_are_shown_next_to_the_field(login: Login, project: Project, name: str, error: str) -> None:
    trace_start(project=project, user=project.owner, duration_minutes=15, name="taken")
    trace = trace_start(project=project, user=project.owner, duration_minutes=15, name="mine")
    response = login(project.owner).post(f"{traces_url(project)}mine/edit/", {"name": name})
    assert response.status_code == 400
    assert error in response.text
    trace.refresh_from_db()
    assert trace.name == "mine"


def test_deleting_a_trace_removes_its_witnesses_and_models_and_rebuilds_the_project_model(
    login: Login, project: Project, built: Trace, django_capture_on_commit_callbacks
) -> None:
    project_model_before = ModelVersion.objects.filter(project=project, trace=None).get().version
    client = login(project.owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{traces_url(project)}{built.name}/delete/")
    assert response["Location"] == traces_url(project)
    assert not Trace.objects.exists()
    assert not WitnessBatch.objects.exists()
    assert not ModelVersion.objects.filter(trace__isnull=False).exists()
    merged = ModelVersion.objects.filter(project=project, trace=None)
    assert list(merged.values_list("version", flat=True)) == [project_model_before + 1]  # the old one superseded
    newest = merged.get()
    assert newest.status == ModelVersion.BuildStatus.READY
    assert not newest.endpoints.exists()
    page = client.get(traces_url(project)).text
    assert f"Deleted {built.name}; the project model is rebuilding without its traffic." in page


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
    client = login(project.owner)
    response = client.post(f"/projects/{project.public_id}/har-uploads/", {"file": upload})
    assert response["Location"] == f"/projects/{project.public_id}/traces/#har-form"
    field = client.get(traces_url(project)).text.split('id="har-form"')[1].split("</form>")[0]
    assert "HAR files are limited to 100 bytes" in field
    assert "HAR files are limited" not in client.get(traces_url(project)).text  # a reload shows a clean form
    assert not Trace.objects.exists() and not HarUpload.objects.exists()


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
        page = login(user).get(f"{traces_url(project)}{built.name}/").text.replace("<wbr>", "")
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
    assert response.text.lstrip().startswith('<div id="endpoints"')
    assert "<html" not in response.text
    assert 'value="users"' in response.text  # the filters come along, as the URL has them
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


def test_a_trace_page_counts_the_entries_dropped_and_cut_to_fit(login: Login, project: Project) -> None:
    trace = trace_start(project=project, user=project.owner, duration_minutes=15)
    url = f"{traces_url(project)}{trace.name}/"
    assert 'id="trace-losses"' not in login(project.owner).get(url).text
    Trace.objects.filter(pk=trace.pk).update(
        witness_count=12408, dropped={"queue_full": 3}, clamped={"path_truncated": 2}
    )
    page = login(project.owner).get(url).text
    assert '12,408 witnesses · <strong class="drops" title="queue full: ' in page
    assert ">3 dropped: queue full</strong> · 2 cut to fit</p>" in page
