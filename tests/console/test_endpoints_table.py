"""Console: the endpoints table of a model sorts, pages, groups and filters on the server, with its state in the
URL; the Errors and Latency tabs rank endpoints; the endpoint page draws its traffic over time."""

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from projects.models import Project, User
from tests.conftest import har_entry, har_upload
from traces.models import Trace

from .conftest import htmx

Login = Callable[[User], Client]


@pytest.fixture
def wide(project: Project, django_capture_on_commit_callbacks: Any) -> Trace:
    """A trace of 60 endpoints on 3 hosts: /svcN/items/{id} answers N times; every 10th also answers 503 and is
    slow; /svc7 takes an email address in its body (sensitive)."""
    entries = []
    for n in range(60):
        host = f"api{n % 3}.shop.test"
        for call in range(n + 1):
            url = f"https://{host}/svc{n:02d}/items/{1000 + call}"
            status = 503 if n % 10 == 0 and call == 0 else 200
            body = {"id": call, "email": "a@b.example"} if n == 7 else None
            minute = f"{call % 60:02d}"
            entries.append(
                har_entry(url=url, status=status, body=body, started=f"2026-01-05T12:{minute}:00.000Z", time_ms=10 + n)
            )
    content = json.dumps({"log": {"version": "1.2", "entries": entries}}).encode()
    with django_capture_on_commit_callbacks(execute=True):
        return har_upload(project=project, user=project.owner, content=content)


def page_of(login: Login, trace: Trace, **query: str) -> str:
    response = login(trace.project.owner).get(f"/projects/{trace.project.public_id}/traces/{trace.name}/", query)
    assert response.status_code == 200
    return response.text.replace("<wbr>", "")


def paths(page: str) -> list[str]:
    return re.findall(r'class="path" href="[^"]+"[^>]*>([^<]+)</a>', page)


def test_the_table_shows_50_endpoints_a_page_with_page_links(login: Login, wide: Trace) -> None:
    first = page_of(login, wide)
    assert first.count('class="endpoint-row"') == 50
    assert '<span id="endpoint-count">60</span> endpoints' in first
    assert 'aria-label="Pages of endpoints"' in first
    assert '<a href="?page=2">2</a>' in first
    second = page_of(login, wide, page="2")
    assert second.count('class="endpoint-row"') == 10
    assert not set(paths(first)) & set(paths(second))
    assert page_of(login, wide, page="999").count('class="endpoint-row"') == 10  # past the end: the last page
    assert page_of(login, wide, page="x").count('class="endpoint-row"') == 50


def test_a_header_sorts_by_its_column_and_a_second_click_reverses(login: Login, wide: Trace) -> None:
    by_path = paths(page_of(login, wide))
    assert by_path[:2] == ["/svc00/items/{item_id}", "/svc03/items/{item_id}"]  # host api0 first, then path
    page = page_of(login, wide, sort="count")
    assert paths(page)[:2] == ["/svc59/items/{item_id}", "/svc58/items/{item_id}"]
    assert 'aria-sort="descending"' in page
    assert '<a href="?sort=count&amp;dir=asc">Count' in page  # the sorted header flips
    ascending = page_of(login, wide, sort="count", dir="asc")
    assert paths(ascending)[:2] == ["/svc00/items/{item_id}", "/svc01/items/{item_id}"]
    assert paths(page_of(login, wide, sort="p99"))[0] == "/svc59/items/{item_id}"
    assert paths(page_of(login, wide, sort="bogus")) == by_path  # unknown: the default order


def test_grouping_by_host_heads_each_group_with_its_size(login: Login, wide: Trace) -> None:
    page = page_of(login, wide, group="host")
    heads = re.findall(r'<tr class="group-row"><th[^>]*><span class="mono">([^<]+)</span> <span[^>]*>· (\d+)', page)
    assert heads == [("api0.shop.test", "20"), ("api1.shop.test", "20"), ("api2.shop.test", "20")][: len(heads)]
    assert len(heads) == 3  # 50 rows of three groups of 20: the third starts on page 1
    assert '<option value="host" selected>Host</option>' in page
    by_prefix = page_of(login, wide, group="prefix", sort="count")
    assert '<span class="mono">/svc00/items</span> <span class="muted small">· 1 endpoint</span>' in by_prefix


def test_filters_combine_in_the_url_and_clear_keeps_the_sort(login: Login, wide: Trace) -> None:
    page = page_of(login, wide, host="api1.shop.test", q="svc1", sort="count")
    assert paths(page) == [
        "/svc19/items/{item_id}",
        "/svc16/items/{item_id}",
        "/svc13/items/{item_id}",
        "/svc10/items/{item_id}",
    ]
    assert "<option selected>api1.shop.test</option>" in page
    assert 'value="svc1"' in page
    assert '<input type="hidden" name="sort" value="count">' in page  # a filter change keeps the sort
    assert 'id="filters-clear"' in page
    assert '<a href="?sort=count" class="small" id="filters-clear" hx-boost="false">Clear</a>' in page
    assert 'id="filters-clear"' not in page_of(login, wide, sort="count")


def test_the_sensitive_filter_keeps_endpoints_handling_personal_data(login: Login, wide: Trace) -> None:
    page = page_of(login, wide, sensitive="1")
    assert paths(page) == ["/svc07/items/{item_id}"]
    assert 'id="filter-sensitive" checked' in page
    assert '<span class="tag sensitive" title="handles email data">email</span>' in page


def test_the_errors_tab_ranks_endpoints_by_5xx_rate_and_latency_by_p99(login: Login, wide: Trace) -> None:
    errors = page_of(login, wide, tab="errors")
    assert paths(errors) == [f"/svc{n:02d}/items/{{item_id}}" for n in (0, 10, 20, 30, 40, 50)]
    assert '<a href="?tab=errors" aria-current="page">Errors</a>' in errors
    assert '1 <span class="muted small">(9.1%)</span>' in errors  # 1 of svc10's 11 requests
    latency = page_of(login, wide, tab="latency")
    assert paths(latency)[:3] == [f"/svc{n}/items/{{item_id}}" for n in (59, 58, 57)]


def test_an_htmx_request_gets_the_table_block_and_a_history_restore_the_page(login: Login, wide: Trace) -> None:
    client = login(wide.project.owner)
    url = f"/projects/{wide.project.public_id}/traces/{wide.name}/"
    block = client.get(url, {"method": "GET", "sort": "count"}, **htmx("endpoints"))
    assert block.text.lstrip().startswith('<div id="endpoints"')
    assert '<option value="GET" selected>GET</option>' in block.text  # the filters as the URL has them
    assert "HX-Request" in block["Vary"]
    restore = client.get(url, {"method": "GET"}, **htmx("endpoints"), HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in restore.text


def test_auth_schemes_read_in_words(login: Login, project: Project, built: Trace) -> None:
    page = login(project.owner).get(f"/projects/{project.public_id}/traces/{built.name}/").text
    assert '<span class="tag">Bearer token (JWT)</span>' in page or '<span class="tag">Bearer token</span>' in page
    assert "No auth" in page


@pytest.mark.parametrize(
    ("scheme", "words"),
    [
        ("apikey_header:x-api-key", "API key in header X-Api-Key"),
        ("apikey_query:api_key", "API key in query parameter api_key"),
        ("bearer", "Bearer token"),
        ("basic", "Basic auth"),
        ("cookie:sessionid", "Cookie session (sessionid)"),
        ("none", "No auth"),
    ],
)
def test_auth_labels(scheme: str, words: str) -> None:
    from apimodels.templatetags.endpoints import auth_label

    assert auth_label(scheme) == words


def test_the_endpoint_page_draws_requests_errors_and_p99_over_time(login: Login, wide: Trace) -> None:
    page = page_of(login, wide, sort="count")
    link = re.search(r'class="path" href="([^"]+)"', page)
    assert link is not None
    detail = login(wide.project.owner).get(link.group(1)).text
    assert '<svg class="timeline" id="timeline"' in detail
    assert 'role="img" aria-labelledby="timeline-title timeline-desc"' in detail
    assert "60 requests and 0 with a 5xx status from 2026-01-05" in detail
    assert detail.count('<rect class="bar"') >= 2
    assert '<polyline class="p99"' in detail
