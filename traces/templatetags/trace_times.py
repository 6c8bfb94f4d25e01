"""How trace times read: `ends in 15 minutes` right after starting a 15-minute trace, not `14 minutes`."""

import math
from datetime import datetime, timedelta

from django import template
from django.utils.timesince import timeuntil

from traces.names import duration_label

register = template.Library()


@register.filter
def until_rounded(when: datetime, now: datetime) -> str:
    """The time from `now` until `when`, rounded up to the minute (timeuntil truncates 14:59 to 14 minutes)."""
    minutes = max(1, math.ceil((when - now).total_seconds() / 60))
    return timeuntil(now + timedelta(minutes=minutes), now)


@register.filter
def duration(span: timedelta | None) -> str:
    """A trace's length as the Start form names it; `—` for an upload, which has none."""
    return "—" if span is None else duration_label(round(span.total_seconds() / 60))
