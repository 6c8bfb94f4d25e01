"""Template filters of model pages."""

from html import escape
from typing import Any

from django import template
from django.utils.html import conditional_escape, format_html
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


@register.filter
def change_mark(change: Any) -> SafeString:
    """A diff change's "breaking"/"compatible" badge and its reason (a filter: the diff page marks hundreds)."""
    badge = format_html('<span class="badge {0}">{0}</span>', "breaking" if change.get("breaking") else "compatible")
    reason = change.get("reason")
    return format_html('{} <span class="muted small reason">{}</span>', badge, reason) if reason else badge


@register.simple_tag
def select_options(choices: list[tuple[str, str]], selected: str) -> SafeString:
    """`<option>`s of (value, label) pairs, `selected` marked. Written with `html.escape` (what Django's escape
    does): a template loop, or `format_html`, over a thousand traces took ~20 ms a select."""
    options = (
        f'<option value="{escape(value)}"{" selected" if value == selected else ""}>{escape(label)}</option>'
        for value, label in choices
    )
    return mark_safe("".join(options))  # noqa: S308 - escaped
