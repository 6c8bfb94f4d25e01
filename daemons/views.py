"""Console page Diagnostics → Daemons."""

from django.conf import settings
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from controlplane.pagination import page_links
from controlplane.polling import polled
from daemons.selectors import daemons_for_project, trace_reach
from projects.auth import ConsoleRequest
from projects.models import Project
from traces.selectors import trace_for_project

DAEMON_REFRESH_SECONDS = 10
DAEMONS_PER_PAGE = 100


def daemon_list(request: ConsoleRequest, project: Project) -> HttpResponse:
    now = timezone.now()
    page = Paginator(daemons_for_project(project=project, now=now), DAEMONS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "project": project,
        "section": "daemons",
        "rows": [
            {
                "daemon": daemon,
                "status": daemon.get_status(now),
                "age_seconds": int((now - daemon.last_heartbeat_at).total_seconds()),
            }
            for daemon in page
        ],
        "page": page,
        "page_links": page_links(page, request.GET),
        "now": now,
        "refresh_seconds": DAEMON_REFRESH_SECONDS,
        "heartbeat_interval": settings.HEARTBEAT_INTERVAL_SECONDS,
        "base_url": request.build_absolute_uri("/").rstrip("/"),
        "heartbeat_url": request.build_absolute_uri(reverse("api:daemon-heartbeat")),
        "poll_url": request.build_absolute_uri(reverse("api:daemon-long-poll", kwargs={"project": project.name})),
    }
    if request.htmx and request.htmx.target == "daemon-table":
        return render(request, "daemons/daemon_list.html#daemon-table", context)
    return render(request, "daemons/daemon_list.html", context)


def trace_reach_part(request: ConsoleRequest, project: Project, trace: str) -> HttpResponse:
    """ "Reached 3 of 3 daemons" for a trace page (templates/traces/_reach.html), polled while it can change."""
    found = trace_for_project(project=project, trace_ref=trace)
    reach = trace_reach(trace=found, now=timezone.now())
    context = {"project": project, "trace": found, "reach": reach}
    return polled(request, "traces/_reach.html", context, reach is not None and reach.can_change)
