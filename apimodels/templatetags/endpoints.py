"""Template filters of model pages."""

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.filter
def path_breaks(path: str) -> SafeString:
    """The path with a line-break opportunity after each `/`, so a long path wraps between segments, never
    inside a word."""
    return mark_safe("/<wbr>".join(conditional_escape(part) for part in path.split("/")))  # noqa: S308 - escaped


AUTH_LABELS = {"none": "No auth", "basic": "Basic auth", "bearer": "Bearer token", "jwt": "Bearer token (JWT)"}
AUTH_PLACES = {"apikey_header": "API key in header", "apikey_query": "API key in query parameter"}


@register.filter
def auth_label(scheme: str) -> str:
    """An auth scheme (`apimodel.auth`) in words: `apikey_header:x-api-key` is "API key in header X-Api-Key"."""
    if scheme in AUTH_LABELS:
        return AUTH_LABELS[scheme]
    kind, _, name = scheme.partition(":")
    if kind == "apikey_header":
        return f"{AUTH_PLACES[kind]} {'-'.join(part.capitalize() for part in name.split('-'))}"
    if kind in AUTH_PLACES:
        return f"{AUTH_PLACES[kind]} {name}"
    if kind == "cookie":
        return f"Cookie session ({name})"
    return scheme


@register.filter
def percent(rate: float) -> str:
    """0.034 as "3.4%" (one decimal below 10 %, none above)."""
    value = 100 * rate
    return f"{value:.1f}%" if value < 10 else f"{value:.0f}%"
