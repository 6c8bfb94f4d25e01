"""Console pages: Alerts → History, Channels (with each channel's delivery log) and Monitors."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from alerts.forms import ChannelForm, MonitorForm
from alerts.models import AlertChannel
from alerts.selectors import (
    HISTORY_LIMIT,
    alert_history,
    channel_for_project,
    channels_for_project,
    delivery_log,
    monitor_for_project,
    monitors_for_project,
)
from alerts.services import channel_create, channel_delete, channel_test, monitor_create, monitor_delete
from controlplane.errors import Invalid
from controlplane.forms import add_invalid
from projects.auth import ConsoleRequest
from projects.models import Project

HISTORY_REFRESH_SECONDS = 10


def alert_list(request: ConsoleRequest, project: Project) -> HttpResponse:
    """What happened and where it was sent; refreshes while the page is open."""
    context = {
        "project": project,
        "section": "alerts",
        "alerts": alert_history(project=project)[:HISTORY_LIMIT],
        "refresh_seconds": HISTORY_REFRESH_SECONDS,
    }
    if request.htmx and request.htmx.target == "alert-table":
        return render(request, "alerts/alert_list.html#alert-table", context)
    return render(request, "alerts/alert_list.html", context)


def _channels_page(
    request: ConsoleRequest,
    project: Project,
    form: ChannelForm,
    status: int = 200,
    created: tuple[AlertChannel, str] | None = None,
) -> HttpResponse:
    context = {
        "project": project,
        "section": "channels",
        "channels": channels_for_project(project=project),
        "is_owner": project.owner_id == request.user.pk,
        "form": form,
        "created": created,
        "private_urls_allowed": settings.ALERTS_ALLOW_PRIVATE_URLS,
    }
    return render(request, "alerts/channel_list.html", context, status=status)


def channel_list(request: ConsoleRequest, project: Project) -> HttpResponse:
    """GET lists the channels; POST (the owner) adds one, showing a webhook's secret in this reply only."""
    if request.method != "POST":
        return _channels_page(request, project, ChannelForm())
    form = ChannelForm(request.POST)
    if form.is_valid():
        try:
            created = channel_create(project=project, **form.cleaned_data)
        except Invalid as error:
            add_invalid(form, error, default_field="kind")
        else:
            return _channels_page(request, project, ChannelForm(), status=201, created=created)
    return _channels_page(request, project, form, status=400)


def channel_detail(request: ConsoleRequest, project: Project, channel: str) -> HttpResponse:
    found = channel_for_project(project=project, channel_id=channel)
    context = {
        "project": project,
        "section": "channels",
        "channel": found,
        "deliveries": delivery_log(channel=found),
        "is_owner": project.owner_id == request.user.pk,
        "refresh_seconds": HISTORY_REFRESH_SECONDS,
    }
    if request.htmx and request.htmx.target == "delivery-log":
        return render(request, "alerts/channel_detail.html#delivery-log", context)
    return render(request, "alerts/channel_detail.html", context)


def channel_send_test(request: ConsoleRequest, project: Project, channel: str) -> HttpResponse:
    found = channel_for_project(project=project, channel_id=channel)
    channel_test(channel=found)
    messages.success(request, "Test notification queued; its delivery appears below.")
    return redirect("alert-channel-detail", project=project.public_id, channel=found.public_id)


def channel_remove(request: ConsoleRequest, project: Project, channel: str) -> HttpResponse:
    channel_delete(channel=channel_for_project(project=project, channel_id=channel))
    return redirect("alert-channel-list", project=project.public_id)


def _monitors_page(request: ConsoleRequest, project: Project, form: MonitorForm, status: int = 200) -> HttpResponse:
    context = {
        "project": project,
        "section": "monitors",
        "monitors": monitors_for_project(project=project),
        "is_owner": project.owner_id == request.user.pk,
        "form": form,
    }
    return render(request, "alerts/monitor_list.html", context, status=status)


def monitor_list(request: ConsoleRequest, project: Project) -> HttpResponse:
    if request.method != "POST":
        return _monitors_page(request, project, MonitorForm())
    form = MonitorForm(request.POST)
    if form.is_valid():
        try:
            monitor_create(project=project, **form.cleaned_data)
        except Invalid as error:
            add_invalid(form, error, default_field="kind")
        else:
            return redirect("monitor-list", project=project.public_id)
    return _monitors_page(request, project, form, status=400)


def monitor_remove(request: ConsoleRequest, project: Project, monitor: str) -> HttpResponse:
    monitor_delete(monitor=monitor_for_project(project=project, monitor_id=monitor))
    return redirect("monitor-list", project=project.public_id)
