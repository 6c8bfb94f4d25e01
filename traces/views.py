"""Console pages for traces: the list with Start and HAR upload; Stop, rename and delete."""

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from controlplane.errors import Conflict, Invalid
from controlplane.forms import add_invalid
from controlplane.pagination import page_links
from controlplane.polling import polled
from projects.auth import ConsoleRequest
from projects.models import Project
from traces.forms import HarUploadForm, TraceRenameForm, TraceStartForm
from traces.names import duration_label
from traces.selectors import trace_for_project, trace_rows, traces_for_project
from traces.services import trace_delete, trace_rename, trace_start, trace_stop
from traces.uploads import HarUploadHandler, har_upload

TRACES_PER_PAGE = 50
# Why the last HAR upload failed, shown once by the list it redirected to.
HAR_ERRORS_SESSION = "har_upload_errors"


def _trace_list_page(
    request: ConsoleRequest, project: Project, start_form: TraceStartForm, har_form: HarUploadForm, status: int = 200
) -> HttpResponse:
    page = Paginator(traces_for_project(project=project), TRACES_PER_PAGE).get_page(request.GET.get("page"))
    rows = trace_rows(traces=page, now=timezone.now())
    poll = any(row.can_change for row in rows)
    context = {
        "project": project,
        "section": "traces",
        "rows": rows,
        "page": page,
        "page_links": page_links(page, request.GET),
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
        har_errors = request.session.pop(HAR_ERRORS_SESSION, None)
        har_form = HarUploadForm.failed(har_errors) if har_errors else HarUploadForm()
        return _trace_list_page(request, project, TraceStartForm(), har_form)
    form = TraceStartForm(request.POST)
    if form.is_valid():
        try:
            trace = trace_start(project=project, user=request.user, **form.cleaned_data)
        except Invalid as error:
            add_invalid(form, error, default_field="duration_minutes")
        except Conflict as error:
            form.add_error("name", error.message)
        else:
            duration = duration_label(form.cleaned_data["duration_minutes"])
            messages.success(request, f"Started {trace.name} for {duration}; daemons begin capturing within a second.")
            return redirect("trace-list", project=project.public_id)
    return _trace_list_page(request, project, form, HarUploadForm(), status=400)


@csrf_exempt  # checked below, once the upload handler is in place: the check reads the form
def trace_har_upload(request: ConsoleRequest, project: Project) -> HttpResponse:
    handler = HarUploadHandler(request)
    request.upload_handlers = [handler]  # the file streams to disk, never whole in memory
    return csrf_protect(_har_upload)(request, project, handler)


def _har_upload(request: ConsoleRequest, project: Project, handler: HarUploadHandler) -> HttpResponse:
    """Upload, then redirect either way (POST/redirect/GET): to the new trace, or back to the list showing
    why the file was refused."""
    form = HarUploadForm(request.POST, request.FILES)
    if handler.too_large:
        form.add_error("file", f"HAR files are limited to {settings.HAR_UPLOAD_MAX_BYTES} bytes as sent.")
    elif form.is_valid():
        upload = form.cleaned_data["file"]
        trace = har_upload(project=project, user=request.user, stored=upload)
        messages.success(request, f"Uploaded {upload.name} as {trace.name}; its model is building.")
        return redirect("trace-detail", project=project.public_id, trace=trace.name)
    request.session[HAR_ERRORS_SESSION] = [str(error) for errors in form.errors.values() for error in errors]
    return redirect(reverse("trace-list", kwargs={"project": project.public_id}) + "#har-form")


def trace_end(request: ConsoleRequest, project: Project, trace: str) -> HttpResponse:
    found = trace_for_project(project=project, trace_ref=trace)
    trace_stop(trace=found)
    messages.success(request, f"Stopped {found.name}; its final model is building.")
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(back)
    return redirect("trace-detail", project=found.project.public_id, trace=found.name)


def trace_edit(request: ConsoleRequest, project: Project, trace: str) -> HttpResponse:
    """Rename the trace (GET shows the form, POST renames); deleting it (the owner's) is a button on the same page."""
    found = trace_for_project(project=project, trace_ref=trace)
    form = TraceRenameForm(request.POST if request.method == "POST" else None, initial={"name": found.name})
    if request.method == "POST" and form.is_valid():
        old_name = found.name
        try:
            trace_rename(trace=found, name=form.cleaned_data["name"])
        except (Invalid, Conflict) as error:
            form.add_error("name", error.message)
        else:
            messages.success(request, f"Renamed {old_name} to {found.name}.")
            return redirect("trace-detail", project=project.public_id, trace=found.name)
    (row,) = trace_rows(traces=[found], now=timezone.now())
    context = {
        "project": project,
        "section": "traces",
        "row": row,
        "form": form,
        "is_owner": project.owner_id == request.user.pk,
    }
    return render(request, "traces/trace_edit.html", context, status=400 if form.errors else 200)


def trace_remove(request: ConsoleRequest, project: Project, trace: str) -> HttpResponse:
    found = trace_for_project(project=project, trace_ref=trace)
    trace_delete(trace=found)
    messages.success(request, f"Deleted {found.name}; the project model is rebuilding without its traffic.")
    return redirect("trace-list", project=project.public_id)
