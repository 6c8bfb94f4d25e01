"""Path hints, rebuilds from stored witnesses, the merged project model, model diffs and stored exports."""

import gzip
import json

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile

from apimodel import ModelBuilder
from apimodels.exports import export_title, export_written
from apimodels.models import ModelExport, ModelVersion
from apimodels.selectors import model_document, path_hints_of
from traces.models import WitnessBatch

from ..conftest import FIXTURES, har_upload

PROJECT = "/api/v1/projects/shop"


def upload(client, entries: list[dict]) -> dict:
    content = json.dumps({"log": {"version": "1.2", "entries": entries}}).encode()
    response = client.post(f"{PROJECT}/traces/har", {"file": SimpleUploadedFile("t.har", content)}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()


def paths(client, url: str) -> set[tuple[str, str]]:
    response = client.get(url)
    assert response.status_code == 200, response.content
    return {(e["method"], e["path"]) for e in response.json()["endpoints"]}


class CommittingClient:
    """Runs each request's on-commit callbacks (the queued builds) right after it, as a real commit would."""

    def __init__(self, client, capture) -> None:
        self.client = client
        self.capture = capture

    def __getattr__(self, method: str):
        def call(*args, **kwargs):
            with self.capture(execute=True):
                return getattr(self.client, method)(*args, **kwargs)

        return call


@pytest.fixture
def client(alice, project, key_client, django_capture_on_commit_callbacks) -> CommittingClient:
    return CommittingClient(key_client(alice), django_capture_on_commit_callbacks)


def account_traffic(entry) -> list[dict]:
    accounts = [entry(url=f"https://api.shop.test/v1/accounts/{name}") for name in ("alpha", "beta")]
    return [*accounts, entry(url="https://api.shop.test/health"), entry(url="https://api.shop.test/v1/users/me")]


def test_path_hints_start_empty(client) -> None:
    assert client.get(f"{PROJECT}/path-hints").json() == {
        "force": [],
        "static": [],
        "hidden": [],
        "show_default_hidden": False,
    }


def test_new_path_hints_apply_to_past_traffic_on_rebuild(client, entry) -> None:
    trace = upload(client, account_traffic(entry))
    model_url = f"{PROJECT}/traces/{trace['id']}/model"
    assert paths(client, model_url) == {
        ("GET", "/v1/accounts/alpha"),
        ("GET", "/v1/accounts/beta"),
        ("GET", "/v1/users/me"),
    }
    hints = {"force": ["/v1/accounts/{account}"], "hidden": ["/v1/users"], "show_default_hidden": True}
    response = client.put(f"{PROJECT}/path-hints", hints, format="json")
    assert response.status_code == 200
    assert response.json()["rebuilds_queued"] == 1
    assert paths(client, model_url) == {("GET", "/v1/accounts/{account}"), ("GET", "/health")}
    model = client.get(model_url).json()
    assert model["version"] == 2
    assert model["path_hints"]["force"] == ["/v1/accounts/{account}"]


def test_path_hints_without_rebuild_wait_for_the_next_build(client, entry) -> None:
    trace = upload(client, account_traffic(entry))
    response = client.put(f"{PROJECT}/path-hints", {"hidden": ["/v1"], "rebuild": False}, format="json")
    assert "rebuilds_queued" not in response.json()
    assert len(paths(client, f"{PROJECT}/traces/{trace['id']}/model")) == 3
    rebuilt = client.post(f"{PROJECT}/traces/{trace['id']}/rebuild")
    assert rebuilt.status_code == 202
    assert rebuilt.json()["version"] == 2
    assert paths(client, f"{PROJECT}/traces/{trace['id']}/model") == set()


@pytest.mark.parametrize(
    ("body", "field"),
    [({"force": ["users/me"]}, "force[0]"), ({"static": ["/a", "/b//c"]}, "static[1]"), ({"hidden": "/x"}, "hidden")],
)
def test_a_bad_path_hint_names_the_field_and_keeps_the_old_hints(client, project, body: dict, field: str) -> None:
    client.put(f"{PROJECT}/path-hints", {"static": ["/users/me"], "rebuild": False}, format="json")
    response = client.put(f"{PROJECT}/path-hints", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert path_hints_of(project).static == ["/users/me"]


def test_a_rebuild_without_stored_witnesses_is_a_conflict(client, entry) -> None:
    trace = upload(client, [entry()])
    WitnessBatch.objects.all().delete()
    response = client.post(f"{PROJECT}/traces/{trace['id']}/rebuild")
    assert response.status_code == 409
    assert "no stored witnesses" in response.json()["error"]["message"]
    assert ModelVersion.objects.filter(trace__public_id=trace["id"]).count() == 1


def test_the_project_model_merges_its_traces(client, entry) -> None:
    assert client.get(f"{PROJECT}/model").status_code == 404
    upload(client, [entry(url="https://api.shop.test/v1/products")])
    upload(client, [entry(method="POST", url="https://api.shop.test/v1/orders", status=201)])
    assert paths(client, f"{PROJECT}/model") == {("GET", "/v1/products"), ("POST", "/v1/orders")}
    assert paths(client, f"{PROJECT}/model?method=POST") == {("POST", "/v1/orders")}
    spec = json.loads(client.get(f"{PROJECT}/openapi").getvalue())
    assert set(spec["paths"]) == {"/v1/products", "/v1/orders"}
    rebuilt = client.post(f"{PROJECT}/model/rebuild")
    assert rebuilt.status_code == 202


def test_a_diff_shows_added_and_removed_endpoints_and_changed_fields(client, entry) -> None:
    before = upload(
        client,
        [entry(url="https://api.shop.test/v1/products", body={"id": 1}), entry(url="https://api.shop.test/v1/old")],
    )
    after = upload(
        client,
        [
            entry(url="https://api.shop.test/v1/products", body={"id": "p-1", "price": 3.5}),
            entry(url="https://api.shop.test/v1/new", status=201),
        ],
    )
    response = client.get(f"{PROJECT}/diff?base={before['name']}&head={after['id']}")
    assert response.status_code == 200
    diff = response.json()
    assert [e["path"] for e in diff["endpoints_added"]] == ["/v1/new"]
    assert [e["path"] for e in diff["endpoints_removed"]] == ["/v1/old"]
    [changed] = diff["endpoints_changed"]
    assert changed["path"] == "/v1/products"
    assert diff["base"]["trace_id"] == before["id"]
    against_project = client.get(f"{PROJECT}/diff?base={before['id']}&head=project").json()
    assert [e["path"] for e in against_project["endpoints_added"]] == ["/v1/new"]


def test_a_diff_marks_each_change_breaking_or_not_and_why(client) -> None:
    before, after = (
        upload(client, json.loads((FIXTURES / name).read_text())["log"]["entries"])
        for name in ("orders.har", "orders-breaking.har")
    )
    diff = client.get(f"{PROJECT}/diff?base={before['id']}&head={after['id']}").json()
    assert diff["breaking"] is True
    post, get = diff["endpoints_changed"]
    assert post["breaking"] and post["path"] == "/v1/orders"
    (note,) = post["fields_changed"]
    assert note == {
        "in": "request application/json",
        "field": "$.note",
        "old_type": "string",
        "new_type": "string",
        "old_required": False,
        "new_required": True,
        "breaking": True,
        "reason": "request field became required",
    }
    assert [(f["field"], f["breaking"], f["reason"]) for f in get["fields_removed"]] == [
        ("$.status", True, "response field removed")
    ]
    compatible = client.get(f"{PROJECT}/diff?base={after['id']}&head={before['id']}").json()
    assert compatible["breaking"] is False
    more = upload(client, json.loads((FIXTURES / "orders-new-endpoint.har").read_text())["log"]["entries"])
    added = client.get(f"{PROJECT}/diff?base={before['id']}&head={more['id']}").json()["endpoints_added"]
    assert added == [
        {"method": "GET", "host": "api.shop.test", "path": "/v1/customers", "breaking": False, "reason": "new endpoint"}
    ]


@pytest.mark.parametrize(("query", "field"), [("head=project", "base"), ("base=project", "head")])
def test_a_diff_needs_both_sides(client, query: str, field: str) -> None:
    response = client.get(f"{PROJECT}/diff?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field


def test_a_diff_of_an_unknown_model_is_404(client, entry) -> None:
    trace = upload(client, [entry()])
    assert client.get(f"{PROJECT}/diff?base={trace['id']}&head=mdl_nope").status_code == 404


def test_a_stored_model_reads_back_as_the_builder_made_it(project, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        trace = har_upload(project=project, user=project.owner, content=(FIXTURES / "small.har").read_bytes())
    builder = ModelBuilder(path_hints_of(project))
    for batch in trace.witness_batches.order_by("pk"):
        for witness in batch.witnesses:
            builder.add(witness)
    expected = json.loads(json.dumps(builder.result()))
    assert model_document(trace.model_versions.get()) == expected
    assert len(expected["endpoints"]) == 7


def test_the_model_json_is_what_its_serializers_document(client, project, entry) -> None:
    from apimodels.api import ModelEndpointSerializer
    from apimodels.exports import ModelVersionSerializer

    upload(client, [entry(url="https://api.shop.test/v1/products"), entry(method="POST", status=201)])
    version = ModelVersion.objects.select_related("trace").get(project=project, trace__isnull=False, status="ready")
    assert version.trace is not None
    documented = {
        **ModelVersionSerializer(version).data,
        "endpoints": ModelEndpointSerializer(version.endpoints.all(), many=True).data,
    }
    written = client.get(f"{PROJECT}/traces/{version.trace.public_id}/model").json()
    assert written == json.loads(json.dumps(documented))


def stored_exports(version: ModelVersion) -> dict[str, bytes]:
    return {row.format: gzip.decompress(row.gzipped) for row in ModelExport.objects.filter(model_version=version)}


def test_a_build_stores_the_exports_as_they_are_written_afresh(client, project, entry) -> None:
    upload(client, [entry(url="https://api.shop.test/v1/products"), entry(method="POST", status=201)])
    versions = ModelVersion.objects.filter(project=project, status="ready").select_related("project", "trace")
    assert {version.trace is None for version in versions} == {True, False}  # the trace's and the merged model
    for version in versions:
        title = export_title(version)
        fresh = {export.value: b"".join(export_written(version, export, title)) for export in ModelExport.Format}
        assert stored_exports(version) == fresh
    trace = versions.get(trace__isnull=False).trace
    assert trace is not None
    openapi = json.loads(stored_exports(versions.get(trace=trace))["openapi.json"])
    assert openapi["info"]["title"] == f"shop {trace.name}"


@pytest.mark.parametrize(
    ("url", "export"),
    [("/model", "model.json"), ("/openapi", "openapi.json"), ("/openapi?format=yaml", "openapi.yaml")],
)
def test_an_export_is_served_as_stored_gzipped_when_the_client_accepts_gzip(client, entry, url, export) -> None:
    trace = upload(client, [entry()])
    stored = ModelExport.objects.get(model_version__trace__public_id=trace["id"], format=export)
    as_gzip = client.get(f"{PROJECT}/traces/{trace['id']}{url}", HTTP_ACCEPT_ENCODING="br, gzip;q=0.8")
    assert as_gzip["Content-Encoding"] == "gzip" and as_gzip["Vary"] == "Accept-Encoding"
    assert as_gzip.content == bytes(stored.gzipped)
    for refused in ("", "identity", "gzip;q=0, br"):
        plain = client.get(f"{PROJECT}/traces/{trace['id']}{url}", HTTP_ACCEPT_ENCODING=refused)
        assert not plain.has_header("Content-Encoding")
        assert plain.content == gzip.decompress(stored.gzipped)


def test_an_export_missing_is_written_and_stored_when_asked_for(client, entry) -> None:
    trace = upload(client, [entry()])
    ModelExport.objects.all().delete()  # as for a version built before exports were stored
    served = client.get(f"{PROJECT}/traces/{trace['id']}/openapi").content
    assert json.loads(served)["paths"]
    version = ModelVersion.objects.get(trace__public_id=trace["id"])
    assert stored_exports(version) == {"openapi.json": served}


def test_a_renamed_trace_exports_under_its_new_name(client, entry) -> None:
    trace = upload(client, [entry()])
    assert client.patch(f"{PROJECT}/traces/{trace['id']}", {"name": "checkout"}, format="json").status_code == 200
    response = client.get(f"{PROJECT}/traces/{trace['id']}/openapi?format=yaml")
    assert yaml.safe_load(response.content)["info"]["title"] == "shop checkout"
    assert response["Content-Disposition"] == 'attachment; filename="shop-checkout.openapi.yaml"'
    version = ModelVersion.objects.get(trace__public_id=trace["id"])
    assert ModelExport.objects.get(model_version=version, format="openapi.yaml").title == "shop checkout"


def test_new_path_hints_make_a_new_version_whose_exports_follow_them(client, project, entry) -> None:
    trace = upload(client, account_traffic(entry))
    openapi_url = f"{PROJECT}/traces/{trace['id']}/openapi"
    assert "/v1/users/me" in json.loads(client.get(openapi_url).content)["paths"]
    client.put(f"{PROJECT}/path-hints", {"hidden": ["/v1/users"]}, format="json")
    assert "/v1/users/me" not in json.loads(client.get(openapi_url).content)["paths"]
    assert client.post(f"{PROJECT}/traces/{trace['id']}/rebuild").json()["version"] == 3
    # the version it superseded (same hints) went, and its exports with it: three for each version left
    ready = ModelVersion.objects.filter(project=project, status="ready")
    assert sorted(ready.exclude(trace=None).values_list("version", flat=True)) == [1, 3]
    assert ModelExport.objects.count() == 3 * ready.count()
