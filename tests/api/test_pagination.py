"""Every API list pages the same way: `?page`/`?limit`, `{count, next, previous, results}`, 400 on bad values."""

import pytest
import yaml
from django.utils import timezone
from rest_framework.test import APIClient

from controlplane.pagination import API_PAGE_SIZE_MAX
from daemons.services import daemon_heartbeat
from projects.models import Project, User
from traces.services import trace_start

LISTS = {"traces": "/api/v1/projects/shop/traces", "daemons": "/api/v1/projects/shop/daemons"}


@pytest.fixture
def five_of_each(alice: User, project: Project) -> None:
    for index in range(5):
        trace_start(project=project, user=alice, duration_minutes=15, name=f"trace-{index}")
        daemon_heartbeat(user=alice, daemon_name=f"d{index}", now=timezone.now(), project_refs=["shop"], middleware=[])


@pytest.mark.parametrize("url", LISTS.values())
def test_a_list_walks_page_by_page_by_its_next_links(alice, key_client, five_of_each: None, url: str) -> None:
    client = key_client(alice)
    first = client.get(url, {"limit": 2}).json()
    assert first["count"] == 5 and len(first["results"]) == 2 and first["previous"] is None
    seen, link = [row["id"] for row in first["results"]], first["next"]
    while link:
        assert link.startswith("http://testserver" + url) and "limit=2" in link
        page = client.get(link).json()
        assert page["count"] == 5 and page["previous"] is not None
        seen += [row["id"] for row in page["results"]]
        link = page["next"]
    assert len(seen) == len(set(seen)) == 5
    assert seen == [row["id"] for row in client.get(url).json()["results"]]  # one page of 100 by default


def test_traces_come_newest_first_and_daemons_by_name(alice, key_client, five_of_each: None) -> None:
    client = key_client(alice)
    assert [t["name"] for t in client.get(LISTS["traces"]).json()["results"]] == [
        f"trace-{i}" for i in range(4, -1, -1)
    ]
    assert [d["name"] for d in client.get(LISTS["daemons"]).json()["results"]] == [f"d{i}" for i in range(5)]


@pytest.mark.parametrize("url", LISTS.values())
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"page": "0"}, "page"),
        ({"page": "x"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "4", "limit": "2"}, "page"),  # 5 rows make 3 pages of 2
        ({"page": "9" * 40}, "page"),
        ({"limit": "0"}, "limit"),
        ({"limit": str(API_PAGE_SIZE_MAX + 1)}, "limit"),
        ({"limit": "1.5"}, "limit"),
    ],
)
def test_a_bad_page_or_limit_is_a_400_naming_it(alice, key_client, five_of_each: None, url: str, query, field) -> None:
    response = key_client(alice).get(url, query)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field


@pytest.mark.parametrize("url", LISTS.values())
def test_an_empty_list_is_one_empty_page(alice, project, key_client, url: str) -> None:
    assert key_client(alice).get(url).json() == {"count": 0, "next": None, "previous": None, "results": []}


@pytest.mark.parametrize(("path", "page"), [("/traces", "TracePage"), ("/daemons", "DaemonPage")])
def test_the_schema_documents_the_page_parameters_and_envelope(path: str, page: str) -> None:
    schema = yaml.safe_load(APIClient().get("/api/schema/").content)
    operation = schema["paths"]["/api/v1/projects/{project}" + path]["get"]
    assert {p["name"] for p in operation["parameters"] if p["in"] == "query"} == {"page", "limit"}
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": f"#/components/schemas/{page}"
    }
    assert set(schema["components"]["schemas"][page]["properties"]) == {"count", "next", "previous", "results"}
    assert "400" in operation["responses"]
