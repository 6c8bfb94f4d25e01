"""Console pages for traces: the list with Start and HAR upload, and Stop."""

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from controlplane.errors import Conflict, Invalid
from controlplane.forms import add_invalid
from controlplane.polling import polled
from projects.auth import ConsoleRequest
from projects.models import Project
from traces.forms import HarUploadForm, TraceStartForm
from traces.selectors import trace_for_project, trace_rows, traces_for_project
from traces.services import trace_start, trace_stop
from traces.uploads import HarUploadHandler, har_upload

TRACE_LIST_LIMIT = 200


def _trace_list_page(
    request: ConsoleRequest, project: Project, start_form: TraceStartForm, har_form: HarUploadForm, status: int = 200
) -> HttpResponse:
    rows = trace_rows(traces=traces_for_project(project=project)[:TRACE_LIST_LIMIT], now=timezone.now())
    poll = any(row.can_change for row in rows)
    context = {
        "project": project,
        "section": "traces",
        "rows": rows,
        "poll": poll,
        "start_form": start_form,
        "har_form": har_form,
    }
    if request.htmx and request.htmx.target == "trace-table":
        return polled(request, "traces/trace_list.html#trace-table", context, poll)
    return render(request, "traces/trace_list.html", context, status=status)


def trace_list(request: ConsoleRequest, project: Project) -> HttpResponse:
    """The traces; POST starts one (on the list URL, so no action word can clash with a trace's name)."""
    if request.method == "GET":
        return _trace_list_page(request, project, TraceStartForm(), HarUploadForm())
    form = TraceStartForm(request.POST)
    if form.is_valid():
        try:
            trace_start(project=project, user=request.user, **form.cleaned_data)
        except Invalid as error:
            add_invalid(form, error, default_field="duration_minutes")
        except Conflict as error:
            form.add_error("name", error.message)
        else:
            return redirect("trace-list", project=project.public_id)
    return _trace_list_page(request, project, form, HarUploadForm(), status=400)


@csrf_exempt  # checked below, once the upload handler is in place: the check reads the form
def trace_har_upload(request: ConsoleRequest, project: Project) -> HttpResponse:
    handler = HarUploadHandler(request)
    request.upload_handlers = [handler]  # the file streams to disk, never whole in memory
    return csrf_protect(_har_upload)(request, project, handler)


def _har_upload(request: ConsoleRequest, project: Project, handler: HarUploadHandler) -> HttpResponse:
    form = HarUploadForm(request.POST, request.FILES)
    if handler.too_large:
        form.add_error("file", f"HAR files are limited to {settings.HAR_UPLOAD_MAX_BYTES} bytes as sent.")
    elif form.is_valid():
        trace = har_upload(project=project, user=request.user, stored=form.cleaned_data["file"])
        return redirect("trace-detail", project=project.public_id, trace=trace.name)
    return _trace_list_page(request, project, TraceStartForm(), form, status=400)


def trace_end(request: ConsoleRequest, project: Project, trace: str) -> HttpResponse:
    found = trace_for_project(project=project, trace_ref=trace)
    trace_stop(trace=found)
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(back)
    return redirect("trace-detail", project=found.project.public_id, trace=found.name)
