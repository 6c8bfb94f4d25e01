"""Filters of every console page (`{% load console %}`)."""

from datetime import datetime

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince

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
