import base64
import inspect

import pytest
import yaml
from rest_framework.test import APIClient
from rest_framework.views import APIView

from projects.gate import ProjectApiView
from projects.models import ApiKey, Project
from projects.services import project_create


def test_it_rejects_a_request_without_a_key_with_www_authenticate(db) -> None:
    response = APIClient().get("/api/v1/projects")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="pawprint"'
    assert response.json()["error"]["code"] == "not_authenticated"


def test_it_rejects_a_wrong_secret(alice, key_client) -> None:
    client = key_client(alice)
    key = ApiKey.objects.get(user=alice)
    client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{key.public_id}:nope".encode()).decode())
    response = client.get("/api/v1/projects")
    assert response.status_code == 401
    assert "WWW-Authenticate" in response


def test_it_rejects_a_revoked_key_on_the_next_request(alice, key_client) -> None:
    client = key_client(alice)
    assert client.get("/api/v1/projects").status_code == 200
    key = ApiKey.objects.get(user=alice)
    assert client.delete(f"/api/v1/api-keys/{key.public_id}").status_code == 204
    assert client.get("/api/v1/projects").status_code == 401


def test_an_ingest_key_cannot_use_user_endpoints(alice, project, key_client) -> None:
    client = key_client(alice, scope="ingest")
    for response in (
        client.get("/api/v1/projects"),
        client.post(f"/api/v1/projects/{project.name}/traces", {"duration_minutes": 15}, format="json"),
        client.get("/api/v1/api-keys"),
    ):
        assert response.status_code == 403
        assert "ingest scope" in response.json()["error"]["message"]


def test_it_creates_a_project_and_names_the_field_of_a_bad_name(alice, key_client) -> None:
    client = key_client(alice)
    created = client.post("/api/v1/projects", {"name": "billing-api"}, format="json")
    assert created.status_code == 201
    assert created.json()["name"] == "billing-api"
    for bad in ({"name": "Not A Slug"}, {}, {"name": "billing-api"}):
        response = client.post("/api/v1/projects", bad, format="json")
        assert response.status_code == 400
        assert response.json()["error"]["field"] == "name"
    assert Project.objects.filter(owner=alice).count() == 1


def test_only_the_owner_deletes_a_project(alice, bob, project, key_client) -> None:
    assert key_client(bob).delete(f"/api/v1/projects/{project.name}").status_code == 403
    assert key_client(alice).delete(f"/api/v1/projects/{project.name}").status_code == 204
    assert not Project.objects.filter(pk=project.pk).exists()


def test_the_owner_adds_a_member_who_then_sees_the_project(alice, charlie, project, key_client) -> None:
    assert key_client(charlie).get(f"/api/v1/projects/{project.name}").status_code == 404
    added = key_client(alice).post(f"/api/v1/projects/{project.name}/members", {"username": "charlie"}, format="json")
    assert added.status_code == 201
    assert key_client(charlie).get(f"/api/v1/projects/{project.name}").status_code == 200
    unknown = key_client(alice).post(f"/api/v1/projects/{project.name}/members", {"username": "zed"}, format="json")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["field"] == "username"


def test_a_key_secret_is_shown_once_and_stored_hashed(alice, session_client) -> None:
    client = session_client(alice)
    created = client.post("/api/v1/api-keys", {"name": "laptop", "scope": "ingest"}, format="json").json()
    key_id, secret = created["credentials"].split(":")
    assert key_id == created["id"] and key_id.startswith("apk_")
    stored = ApiKey.objects.get(public_id=key_id)
    assert secret not in stored.secret_hash
    listed = client.get("/api/v1/api-keys").json()
    assert [item["id"] for item in listed] == [key_id]
    assert "secret" not in listed[0]


def test_a_key_records_last_use(alice, key_client) -> None:
    client = key_client(alice)
    assert ApiKey.objects.get(user=alice).last_used_at is None
    client.get("/api/v1/projects")
    assert ApiKey.objects.get(user=alice).last_used_at is not None


def test_bad_scope_names_the_field(alice, session_client) -> None:
    response = session_client(alice).post("/api/v1/api-keys", {"scope": "admin"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "scope"


def test_revoking_someone_elses_key_is_404(alice, bob, key_client) -> None:
    key_client(bob)
    bobs_key = ApiKey.objects.get(user=bob)
    assert key_client(alice).delete(f"/api/v1/api-keys/{bobs_key.public_id}").status_code == 404
    assert ApiKey.objects.get(pk=bobs_key.pk).revoked_at is None


def test_the_schema_documents_every_endpoint_including_the_long_poll(db) -> None:
    schema = yaml.safe_load(APIClient().get("/api/schema/").content)
    assert "/api/v1/projects/{project}/daemon" in schema["paths"]
    assert "/api/v1/projects/{project}/traces/{trace}/witnesses" in schema["paths"]
    assert APIClient().get("/api/docs/").status_code == 200


def operations(schema: dict) -> list[tuple[str, dict]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]


def test_every_operation_says_what_it_does_and_takes_its_own_body(db) -> None:
    schema = yaml.safe_load(APIClient().get("/api/schema/").content)
    docstrings = {inspect.getdoc(view) for view in (ProjectApiView, APIView)}
    bodies = []
    for name, operation in operations(schema):
        assert operation.get("summary") and operation.get("description"), name
        assert operation["description"] not in docstrings, name
        assert {"apiKey": []} in operation["security"], name
        assert "401" in operation["responses"], name
        if "requestBody" in operation:
            content = next(iter(operation["requestBody"]["content"].values()))
            bodies.append(content["schema"]["$ref"])
    assert len(bodies) == len(set(bodies)), "operations share a request schema"
    assert schema["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "basic",
        "description": schema["components"]["securitySchemes"]["apiKey"]["description"],
    }


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/daemon/heartbeat",
        "/api/v1/projects/{project}/daemon",
        "/api/v1/projects/{project}/traces/{trace}/witnesses",
    ],
)
def test_the_daemon_endpoints_show_examples(db, path: str) -> None:
    operation = yaml.safe_load(APIClient().get("/api/schema/").content)["paths"][path]["post"]
    assert operation["requestBody"]["content"]["application/json"]["examples"]
    success = next(response for status, response in operation["responses"].items() if status.startswith("2"))
    assert success["content"]["application/json"]["examples"]


def test_a_name_means_the_users_own_project_before_one_they_are_a_member_of(bob, project, key_client) -> None:
    own = project_create(owner=bob, name=project.name)
    assert key_client(bob).get(f"/api/v1/projects/{project.name}").json()["id"] == own.public_id
    assert key_client(bob).get(f"/api/v1/projects/{project.public_id}").json()["id"] == project.public_id
