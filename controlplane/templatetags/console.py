"""Filters of every console page (`{% load console %}`)."""

from collections.abc import Mapping
from datetime import datetime

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince

from controlplane.drops import drops_explained, drops_text

register = template.Library()


@register.filter(expects_localtime=True)
def ago(when: datetime) -> SafeString:
    """A past moment as a `<time>`: relative ("5 minutes ago", "just now"), exact in its title. A filter, not an
    include: tables show one or two a row, and the include (three template filters) cost half of rendering a
    page of 100 daemons."""
    relative = timesince(when)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        when.isoformat(),
        f"{when:%Y-%m-%d %H:%M:%S} {when.tzname() or ''}".rstrip(),
        "just now" if relative == "0\xa0minutes" else f"{relative} ago",
    )


@register.filter
def thousands(number: int) -> str:
    """12408 → "12,408"."""
    return f"{number:,}"


@register.filter
def drops(dropped: Mapping[str, int]) -> SafeString | str:
    """A `dropped` map as "3 dropped: queue full" (`controlplane.drops.drops_text`), what each reason means in its
    title; empty if nothing was."""
    text = drops_text(dropped)
    return format_html('<strong class="drops" title="{}">{}</strong>', drops_explained(dropped), text) if text else ""


@register.filter
def total(counts: Mapping[str, int]) -> int:
    """The sum of a map of counts by reason (`clamped`, `dropped`)."""
    return sum(counts.values())
