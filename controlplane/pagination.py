"""Pages of long lists. Console tables: links that keep the rest of the query (filters, sort) and change the
page. API lists that page (traces, daemons) share one scheme: `?page=` (from 1) and `?limit=` (rows a page),
answered as `{count, next, previous, results}` with absolute `next`/`previous` links (null at either end)."""

from collections.abc import Callable, Sequence
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import QueryDict
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from controlplane.errors import Invalid

API_PAGE_SIZE = 100
API_PAGE_SIZE_MAX = 200


def query_with(params: QueryDict, **changes: str) -> str:
    """`?…` of this query with these changes; an empty value drops the parameter. `page` is dropped too unless
    changed: any other change starts again from page 1."""
    query = params.copy()
    query.pop("page", None)
    for name, value in changes.items():
        query.pop(name, None)
        if value:
            query[name] = value
    return "?" + query.urlencode()


def page_links(page: Page[Any], params: QueryDict) -> list[tuple[int | None, str]]:
    """(number, URL) of the page links: the first, the last and two either side of the current one; (None, "")
    where pages are skipped."""
    current, last = page.number, page.paginator.num_pages
    links: list[tuple[int | None, str]] = []
    for number in sorted({1, last, *range(max(1, current - 2), min(last, current + 2) + 1)}):
        if links and number - (links[-1][0] or 0) > 1:
            links.append((None, ""))
        links.append((number, query_with(params, page=str(number))))
    return links


def _whole_number(params: QueryDict, name: str, default: int, highest: int) -> int:
    text = params.get(name, str(default))
    if not text.isdigit() or not 1 <= int(text) <= highest:
        raise Invalid(f"A whole number from 1 to {highest:,}.", field=name)
    return int(text)


def api_page(
    request: Request, rows: "QuerySet[Any] | Sequence[Any]", serialize: Callable[[list[Any]], Any]
) -> Response:
    """The page of `rows` the query asks for, `serialize`d, in the envelope every API list shares. A page past
    the last (or a bad `page`/`limit`) is a 400 naming the parameter."""
    limit = _whole_number(request.query_params, "limit", API_PAGE_SIZE, API_PAGE_SIZE_MAX)
    paginator = Paginator(rows, limit)
    number = _whole_number(request.query_params, "page", 1, paginator.num_pages)
    page = paginator.page(number)

    def link(to: int) -> str:
        return request.build_absolute_uri(request.path + query_with(request.query_params, page=str(to)))

    return Response(
        {
            "count": paginator.count,
            "next": link(number + 1) if page.has_next() else None,
            "previous": link(number - 1) if page.has_previous() else None,
            "results": serialize(list(page.object_list)),
        }
    )


API_PAGE_PARAMETERS = [
    OpenApiParameter("page", int, required=False, description="Which page, from 1 (the default)."),
    OpenApiParameter(
        "limit", int, required=False, description=f"Rows a page: 1 to {API_PAGE_SIZE_MAX} ({API_PAGE_SIZE} unless set)."
    ),
]


def api_page_of(row: type[serializers.Serializer[Any]], name: str) -> serializers.Serializer[Any]:
    """The schema of a page of `row`s, as `api_page` answers it."""
    return inline_serializer(
        name=name,
        fields={
            "count": serializers.IntegerField(help_text="Rows on every page together."),
            "next": serializers.URLField(allow_null=True, help_text="The next page; null on the last."),
            "previous": serializers.URLField(allow_null=True, help_text="The previous page; null on the first."),
            "results": row(many=True),
        },
    )
