"""Console: path hints, rebuilds, the merged project model, endpoint pages of any model, and model diffs."""

import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from apimodel import PathHints
from apimodels.models import ModelVersion, ProjectPathHints
from apimodels.selectors import path_hints_of
from apimodels.services import model_rebuild
from projects.models import Project, User
from traces.models import Trace, WitnessBatch
from traces.services import trace_start

from ..conftest import har_upload
from .conftest import htmx

Login = Callable[[User], Client]
Capture = Callable[..., Any]


def url(project: Project, rest: str) -> str:
    return f"/projects/{project.public_id}/{rest}"


def upload(project: Project, capture: Capture, entries: list[dict[str, Any]]) -> Trace:
    content = json.dumps({"log": {"version": "1.2", "entries": entries}}).encode()
    with capture(execute=True):
        return har_upload(project=project, user=project.owner, content=content)


def rows(page: str) -> int:
    return page.count('class="endpoint-row"')


@pytest.mark.parametrize("page", ["settings/path-hints/", "model/", "diff/"])
def test_owner_and_member_open_the_new_project_pages(
    login: Login, project: Project, bob: User, built: Trace, page: str
) -> None:
    for user in (project.owner, bob):
        response = login(user).get(url(project, page))
        assert response.status_code == 200
        assert 'aria-current="page"' in response.text


def test_the_nav_links_the_model_the_diff_and_path_hints(login: Login, project: Project) -> None:
    page = login(project.owner).get(url(project, "")).text
    nav = page.split('class="sidenav"')[1].split("</aside>")[0]
    for link, label in (("model/", "API model"), ("diff/", "Compare models"), ("settings/path-hints/", "Path hints")):
        assert f'href="{url(project, link)}"' in nav
        assert label in nav


# Path hints


def test_saving_path_hints_rebuilds_and_changes_the_endpoints_shown(
    login: Login, project: Project, bob: User, built: Trace, django_capture_on_commit_callbacks: Capture
) -> None:
    client = login(bob)
    trace_page = url(project, f"traces/{built.name}/")
    assert rows(client.get(trace_page).text) == 7
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url(project, "settings/path-hints/"),
            {"force": "", "static": "", "hidden": "/v1/orders\n", "show_default_hidden": ""},
            follow=True,
        )
    assert "Saved; rebuilding 1 trace from stored traffic." in response.text
    assert ">\n/v1/orders</textarea>" in response.text
    page = client.get(trace_page).text
    assert rows(page) == 6
    assert "/v1/orders/{" not in page
    assert "model v2 from" in page
    merged = client.get(url(project, "model/")).text
    assert rows(merged) == 6
    assert "/v1/orders/{" not in merged


def test_a_forced_template_merges_static_looking_paths(
    login: Login, project: Project, built: Trace, django_capture_on_commit_callbacks: Capture
) -> None:
    client = login(project.owner)
    assert "/v1/users/me" in client.get(url(project, f"traces/{built.name}/")).text.replace("<wbr>", "")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url(project, "settings/path-hints/"), {"force": "/v1/users/{user_id}"})
    page = client.get(url(project, f"traces/{built.name}/")).text.replace("<wbr>", "")
    assert "/v1/users/me" not in page
    assert rows(page) == 6


def test_a_bad_template_is_shown_under_its_textarea_with_its_line(login: Login, project: Project) -> None:
    response = login(project.owner).post(
        url(project, "settings/path-hints/"), {"force": "/files/{path}\n\nfiles", "hidden": "/internal"}
    )
    assert response.status_code == 400
    force_group = response.text.split('for="id_force"')[1].split('for="id_static"')[0]
    assert "Line 3 (files): A path like /users/me or /files/{path}, starting with /." in force_group
    assert "Line 3" not in response.text.split('for="id_static"')[1]
    assert path_hints_of(project) == PathHints()


def test_every_malformed_template_is_shown_not_only_the_first(login: Login, project: Project) -> None:
    response = login(project.owner).post(
        url(project, "settings/path-hints/"), {"force": "/{unclosed\n/users/{}\n/ok/{id}", "hidden": "/a/b}/c"}
    )
    assert response.status_code == 400
    force_group = response.text.split('for="id_force"')[1].split('for="id_static"')[0]
    assert "Line 1 (/{unclosed): &#x27;{unclosed&#x27; is not a parameter" in force_group
    assert "Line 2 (/users/{}): &#x27;{}&#x27; is not a parameter" in force_group
    assert "Line 3" not in force_group
    assert "Line 1 (/a/b}/c): &#x27;b}&#x27; is not a parameter" in response.text.split('for="id_hidden"')[1]
    assert path_hints_of(project) == PathHints()


def test_path_hints_page_shows_the_saved_hints(login: Login, project: Project) -> None:
    ProjectPathHints.objects.create(project=project, force=["/a/{x}", "/b/{y}"], show_default_hidden=True)
    page = login(project.owner).get(url(project, "settings/path-hints/")).text
    assert ">\n/a/{x}\n/b/{y}</textarea>" in page
    assert re.search(r'<input type="checkbox" name="show_default_hidden"[^>]* checked', page)


# Rebuild on the trace page


def test_rebuild_queues_a_new_version_and_keeps_showing_the_ready_one(
    login: Login, project: Project, built: Trace
) -> None:
    client = login(project.owner)
    assert "Rebuild model" in client.get(url(project, f"traces/{built.name}/")).text
    response = client.post(url(project, f"traces/{built.name}/rebuild/"))  # the build waits for a commit
    assert response["Location"] == url(project, f"traces/{built.name}/")
    page = client.get(response["Location"]).text
    assert rows(page) == 7
    assert "v2 queued" in page
    assert "Showing model v1 while v2 builds" in page
    assert 'hx-trigger="every 1s"' in page
    assert "Rebuild model" not in page


def test_the_progress_bar_follows_the_rebuild_and_reloads_when_ready(
    login: Login, project: Project, built: Trace, django_capture_on_commit_callbacks: Capture
) -> None:
    client = login(project.owner)
    shown = built.model_versions.get().public_id
    live = url(project, f"traces/{built.name}/live/")
    rebuilt = model_rebuild(trace=built)
    ModelVersion.objects.filter(pk=rebuilt.pk).update(status=ModelVersion.BuildStatus.BUILDING, processed=21, total=42)
    response = client.get(live, {"shown": shown}, **htmx("trace-live"))
    assert response.status_code == 200
    assert "v2 building 50% · 21/42" in response.text
    ModelVersion.objects.filter(pk=rebuilt.pk).update(status=ModelVersion.BuildStatus.READY)
    assert client.get(live, {"shown": shown}, **htmx("trace-live"))["HX-Refresh"] == "true"


def test_rebuilding_a_purged_trace_shows_the_conflict(login: Login, project: Project, built: Trace) -> None:
    WitnessBatch.objects.filter(trace=built).delete()
    response = login(project.owner).post(url(project, f"traces/{built.name}/rebuild/"), follow=True)
    assert "no stored witnesses left to rebuild from" in response.text
    assert 'class="callout small danger"' in response.text
    assert built.model_versions.count() == 1


# Polling stops


def test_a_finished_trace_without_beat_stops_polling(login: Login, project: Project) -> None:
    trace = trace_start(
        project=project, user=project.owner, duration_minutes=15, now=timezone.now() - timedelta(minutes=20)
    )
    client = login(project.owner)
    assert 'hx-trigger="every 1s"' not in client.get(url(project, f"traces/{trace.name}/")).text
    response = client.get(url(project, f"traces/{trace.name}/live/"), {"shown": ""}, **htmx("trace-live"))
    assert response.status_code == 286
    assert client.get(url(project, "traces/"), **htmx("trace-table")).status_code == 286


def test_a_just_finished_trace_polls_while_beat_may_queue_its_build(login: Login, project: Project) -> None:
    trace = trace_start(
        project=project, user=project.owner, duration_minutes=15, now=timezone.now() - timedelta(minutes=15, seconds=5)
    )
    response = login(project.owner).get(url(project, f"traces/{trace.name}/live/"), **htmx("trace-live"))
    assert response.status_code == 200
    assert "finished" in response.text


# Action URLs never clash with trace names


@pytest.mark.parametrize("name", ["start", "upload-har", "har-uploads", "new"])
def test_traces_named_like_actions_open(login: Login, project: Project, name: str) -> None:
    trace_start(project=project, user=project.owner, duration_minutes=15, name=name)
    response = login(project.owner).get(url(project, f"traces/{name}/"))
    assert response.status_code == 200
    assert f"<h1>{name}</h1>" in response.text


def test_starting_a_trace_is_a_post_to_the_list(login: Login, project: Project) -> None:
    response = login(project.owner).post(url(project, "traces/"), {"duration_minutes": 15, "name": "start"})
    assert response["Location"] == url(project, "traces/")
    assert Trace.objects.get(project=project).name == "start"


# Project model page


def test_the_project_model_page_before_any_model(login: Login, project: Project) -> None:
    page = login(project.owner).get(url(project, "model/")).text
    assert "No merged model yet." in page
    assert "Download OpenAPI" not in page


def test_the_project_model_page_shows_the_merged_endpoints(login: Login, project: Project, built: Trace) -> None:
    merged = ModelVersion.objects.get(project=project, trace=None)
    page = login(project.owner).get(url(project, "model/")).text
    assert rows(page) == 7
    assert f'href="/api/v1/projects/{project.public_id}/openapi?format=yaml"' in page
    endpoint_link = url(project, f"models/{merged.public_id}/endpoints/ept_")
    assert f'href="{endpoint_link}' in page
    assert 'hx-trigger="every 1s"' not in page
    assert "Rebuild model" in page


def test_project_model_filters_reuse_the_endpoints_partial(login: Login, project: Project, built: Trace) -> None:
    client = login(project.owner)
    response = client.get(url(project, "model/"), {"method": "DELETE"}, **htmx("endpoints"))
    assert response.text.lstrip().startswith('<div id="endpoints"')
    assert rows(response.text) == 1
    page = client.get(url(project, "model/"), {"method": "DELETE"}).text
    assert '<option value="DELETE" selected>' in page
    assert f'action="{url(project, "model/")}"' in page


def test_the_project_model_rebuild_shows_its_progress(login: Login, project: Project, built: Trace) -> None:
    client = login(project.owner)
    shown = ModelVersion.objects.get(project=project, trace=None).public_id
    response = client.post(url(project, "model/rebuild/"))
    assert response["Location"] == url(project, "model/")
    page = client.get(response["Location"]).text
    assert "v2 queued" in page
    assert 'hx-trigger="every 1s"' in page
    live = client.get(url(project, "model/live/"), {"shown": shown}, **htmx("model-live"))
    assert live.status_code == 200
    ModelVersion.objects.filter(project=project, trace=None, version=2).update(status=ModelVersion.BuildStatus.READY)
    assert client.get(url(project, "model/live/"), {"shown": shown}, **htmx("model-live"))["HX-Refresh"] == "true"


def test_project_model_polling_stops_when_nothing_builds(login: Login, project: Project, built: Trace) -> None:
    shown = ModelVersion.objects.get(project=project, trace=None).public_id
    response = login(project.owner).get(url(project, "model/live/"), {"shown": shown}, **htmx("model-live"))
    assert response.status_code == 286
    assert "model v1 ready" in response.text


def test_the_overview_links_the_merged_model(login: Login, project: Project, built: Trace) -> None:
    page = login(project.owner).get(url(project, "")).text
    assert f'<a href="{url(project, "model/")}"><strong>API model</strong></a> · v1 · 7 endpoints' in page


# Endpoint pages of any model


def test_endpoint_pages_of_the_trace_model_and_the_merged_model(
    login: Login, project: Project, bob: User, built: Trace
) -> None:
    for api_model in ModelVersion.objects.filter(project=project):
        endpoint = api_model.endpoints.get(method="GET", path="/v1/users/{user_id}")
        for user in (project.owner, bob):
            response = login(user).get(url(project, f"models/{api_model.public_id}/endpoints/{endpoint.public_id}/"))
            assert response.status_code == 200
            assert '<td class="mono">user_id</td>' in response.text
            assert '<span class="tag">Bearer token (JWT)</span>' in response.text  # the table's words
            back = f"traces/{built.name}/" if api_model.trace else "model/"
            assert f'href="{url(project, back)}"' in response.text


def test_an_endpoint_link_keeps_working_after_a_rebuild(
    login: Login, project: Project, built: Trace, django_capture_on_commit_callbacks: Capture
) -> None:
    old = built.model_versions.get()
    endpoint = old.endpoints.get(method="DELETE")
    link = url(project, f"models/{old.public_id}/endpoints/{endpoint.public_id}/")
    with django_capture_on_commit_callbacks(execute=True):
        login(project.owner).post(url(project, "settings/path-hints/"), {"hidden": "/v1/orders"})
    assert built.model_versions.filter(status=ModelVersion.BuildStatus.READY).count() == 2
    response = login(project.owner).get(link)
    assert response.status_code == 200
    assert "This endpoint is from model v1; v2 is newer and was built with other path hints." in response.text
    old_style = login(project.owner).get(url(project, f"traces/{built.name}/endpoints/{endpoint.public_id}/"))
    assert old_style.status_code == 200


def test_an_endpoint_under_another_model_or_trace_is_404(
    login: Login,
    project: Project,
    built: Trace,
    entry: Callable[..., dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    other = upload(project, django_capture_on_commit_callbacks, [entry()])
    endpoint = built.model_versions.get().endpoints.first()
    assert endpoint is not None
    client = login(project.owner)
    other_model = other.model_versions.get().public_id
    assert client.get(url(project, f"models/{other_model}/endpoints/{endpoint.public_id}/")).status_code == 404
    assert client.get(url(project, f"traces/{other.name}/endpoints/{endpoint.public_id}/")).status_code == 404


# Diff


def two_versions(project: Project, capture: Capture, entry: Callable[..., dict[str, Any]]) -> tuple[Trace, Trace]:
    before = upload(
        project,
        capture,
        [entry(body={"id": 1, "name": "Lamp"}), entry(url="https://api.shop.test/v1/orders")],
    )
    after = upload(
        project,
        capture,
        [
            entry(body={"id": "p1", "name": "Lamp", "price": 3.5}),
            entry(status=404, body={"error": "nope"}),
            entry(method="POST", url="https://api.shop.test/v1/carts", status=201),
        ],
    )
    return before, after


def test_the_diff_page_offers_the_merged_model_and_traces_with_a_ready_model(
    login: Login, project: Project, built: Trace
) -> None:
    trace_start(project=project, user=project.owner, duration_minutes=15, name="no-model-yet")
    page = login(project.owner).get(url(project, "diff/")).text
    assert '<option value="project">Project model (merged)</option>' in page
    assert f'<option value="{built.public_id}">{built.name}</option>' in page
    assert "no-model-yet" not in page
    assert "Pick a base and a head model" in page


def test_the_diff_shows_added_removed_and_changed(
    login: Login, project: Project, entry: Callable[..., dict[str, Any]], django_capture_on_commit_callbacks: Capture
) -> None:
    before, after = two_versions(project, django_capture_on_commit_callbacks, entry)
    response = login(project.owner).get(url(project, "diff/"), {"base": before.name, "head": after.public_id})
    assert response.status_code == 200
    page = response.text
    assert f'<option value="{before.public_id}" selected>' in page  # a name is accepted and shown as its trace
    added = page.split('class="diff-added"><td class="diff-sign">+</td>')[1]
    assert "/v1/carts" in added.split("</tr>")[0]
    removed = page.split('class="diff-removed"><td class="diff-sign">\u2212</td>')[1]
    assert "/v1/orders" in removed.split("</tr>")[0]
    changed = page.split('id="endpoints-changed"')[1]
    assert "field <code>$.price</code>" in changed
    assert '<span class="type">integer</span> → <span class="type">string</span>' in changed
    assert 'status <span class="badge s4">404</span>' in changed
    assert "1 added, 1 removed, 1 changed" in page


def test_the_diff_of_a_model_with_itself_says_no_differences(login: Login, project: Project, built: Trace) -> None:
    page = login(project.owner).get(url(project, "diff/"), {"base": built.public_id, "head": "project"}).text
    assert "No differences." in page
    assert f"{built.name} v1</strong> → <strong>Project model (merged) v1" in page


def test_the_trace_page_links_to_the_diff_with_the_project_model(login: Login, project: Project, built: Trace) -> None:
    page = login(project.owner).get(url(project, f"traces/{built.name}/")).text
    assert f'href="{url(project, "diff/")}?base={built.public_id}&amp;head=project"' in page


def test_a_diff_with_an_unknown_model_says_so(login: Login, project: Project, built: Trace) -> None:
    response = login(project.owner).get(url(project, "diff/"), {"base": "no-such-trace", "head": "project"})
    assert response.status_code == 404
    assert "No such trace." in response.text
