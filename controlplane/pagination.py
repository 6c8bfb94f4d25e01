"""Pages of long console tables: links that keep the rest of the query (filters, sort) and change the page."""

from typing import Any

from django.core.paginator import Page
from django.http import QueryDict


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
