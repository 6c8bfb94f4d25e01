"""Every project URL, for the owner (alice), a member (bob) and an outsider (charlie)."""

from collections.abc import Callable

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from projects.models import Project, User
from traces.services import trace_start

PROJECT_URLS = [
    ("get", "/api/v1/projects/{project}", None),
    ("get", "/api/v1/projects/{project}/members", None),
    ("get", "/api/v1/projects/{project}/traces", None),
    ("post", "/api/v1/projects/{project}/traces", {"duration_minutes": 15}),
    ("get", "/api/v1/projects/{project}/traces/{trace}", None),
    ("post", "/api/v1/projects/{project}/traces/{trace}/stop", None),
    ("get", "/api/v1/projects/{project}/traces/{trace}/model", None),
    ("get", "/api/v1/projects/{project}/traces/{trace}/openapi", None),
    (
        "post",
        "/api/v1/projects/{project}/traces/{trace}/witnesses",
        {"daemon_name": "d", "batch_id": "b", "entries": []},
    ),
    ("post", "/api/v1/projects/{project}/traces/har", None),
    ("post", "/api/v1/projects/{project}/traces/{trace}/rebuild", None),
    ("get", "/api/v1/projects/{project}/model", None),
    ("post", "/api/v1/projects/{project}/model/rebuild", None),
    ("get", "/api/v1/projects/{project}/openapi", None),
    ("get", "/api/v1/projects/{project}/path-hints", None),
    ("put", "/api/v1/projects/{project}/path-hints", {"static": ["/users/me"]}),
    ("get", "/api/v1/projects/{project}/diff", None),
    ("get", "/api/v1/projects/{project}/daemons", None),
    ("post", "/api/v1/projects/{project}/daemon", {"daemon_name": "d", "active_trace_ids": []}),
    ("delete", "/api/v1/projects/{project}", None),
]


# The view was reached (project and trace found) and refused for a reason of its own.
REACHED_BUT_REFUSED = {
    ("get", "/api/v1/projects/{project}/traces/{trace}/model"): (404, "no ready model"),
    ("get", "/api/v1/projects/{project}/traces/{trace}/openapi"): (404, "no ready model"),
    ("get", "/api/v1/projects/{project}/model"): (404, "no merged model"),
    ("get", "/api/v1/projects/{project}/openapi"): (404, "no merged model"),
    ("post", "/api/v1/projects/{project}/traces/{trace}/rebuild"): (409, "no stored witnesses"),
    ("post", "/api/v1/projects/{project}/traces/har"): (400, "file"),
    ("get", "/api/v1/projects/{project}/diff"): (400, "base"),
}


def call(client: APIClient, method: str, template: str, body: dict | None, project: Project, trace_id: str):
    url = template.format(project=project.name, trace=trace_id)
    return getattr(client, method)(url, body, format="json")


@pytest.mark.parametrize(("method", "template", "body"), PROJECT_URLS)
def test_an_outsider_gets_404_on_every_project_url(
    method: str,
    template: str,
    body: dict | None,
    project: Project,
    charlie: User,
    key_client: Callable[..., APIClient],
) -> None:
    trace = trace_start(project=project, user=project.owner, duration_minutes=15)
    response = call(key_client(charlie), method, template, body, project, trace.public_id)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert Project.objects.filter(pk=project.pk).exists()


@pytest.mark.parametrize(("method", "template", "body"), PROJECT_URLS)
@pytest.mark.parametrize("who", ["alice", "bob"])
def test_the_owner_and_a_member_reach_every_project_url(
    who: str,
    method: str,
    template: str,
    body: dict | None,
    project: Project,
    key_client: Callable[..., APIClient],
    request: pytest.FixtureRequest,
) -> None:
    user = request.getfixturevalue(who)
    trace = trace_start(project=project, user=project.owner, duration_minutes=15, now=timezone.now())
    response = call(key_client(user), method, template, body, project, trace.public_id)
    if method == "delete" and who == "bob":
        assert response.status_code == 403
    elif (method, template) in REACHED_BUT_REFUSED:
        status, message = REACHED_BUT_REFUSED[(method, template)]
        assert response.status_code == status, response.content
        assert message in response.json()["error"]["message"]
    else:
        assert response.status_code in (200, 201, 202, 204), response.content


def test_a_project_can_be_addressed_by_id_or_name(project: Project, alice: User, key_client) -> None:
    client = key_client(alice)
    by_name = client.get(f"/api/v1/projects/{project.name}").json()
    by_id = client.get(f"/api/v1/projects/{project.public_id}").json()
    assert by_name == by_id
    assert by_id["id"].startswith("prj_") and len(by_id["id"]) == 4 + 22
