"""Console page Diagnostics → Daemons."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from daemons.selectors import daemons_for_project
from projects.selectors import project_for_user

DAEMON_REFRESH_SECONDS = 10


@login_required
@require_GET
def daemon_list(request: HttpRequest, project: str) -> HttpResponse:
    found = project_for_user(user=request.user, project_ref=project)
    now = timezone.now()
    daemons = daemons_for_project(project=found, now=now)
    context = {
        "project": found,
        "section": "daemons",
        "rows": [
            {
                "daemon": daemon,
                "status": daemon.get_status(now),
                "age_seconds": int((now - daemon.last_heartbeat_at).total_seconds()),
            }
            for daemon in daemons
        ],
        "now": now,
        "refresh_seconds": DAEMON_REFRESH_SECONDS,
        "heartbeat_interval": settings.HEARTBEAT_INTERVAL_SECONDS,
        "base_url": request.build_absolute_uri("/").rstrip("/"),
    }
    if request.htmx and request.htmx.target == "daemon-table":
        return render(request, "daemons/daemon_list.html#daemon-table", context)
    return render(request, "daemons/daemon_list.html", context)
