"""Polled console parts: htmx stops polling an element when it is answered with 286."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

STOP_POLLING = 286


def polled(request: HttpRequest, template: str, context: dict[str, Any], can_change: bool) -> HttpResponse:
    """Render a polled part; while it can change it keeps polling, after that it answers 286 once."""
    return render(request, template, {**context, "poll": can_change}, status=200 if can_change else STOP_POLLING)
