"""Console pages for accounts, projects, members and API keys."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from controlplane.errors import Invalid
from controlplane.forms import add_invalid
from projects.auth import ConsoleRequest
from projects.forms import ApiKeyForm, MemberForm, ProjectForm, SignUpForm
from projects.models import Project
from projects.selectors import api_keys_for_user, project_members, projects_for_user
from projects.services import (
    api_key_create,
    api_key_revoke,
    membership_add,
    membership_remove,
    project_create,
    project_delete,
)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return redirect("project-list")


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("project-list")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("project-list")
    return render(request, "registration/signup.html", {"form": form}, status=400 if form.errors else 200)


def _project_list(request: ConsoleRequest, form: ProjectForm, status: int = 200) -> HttpResponse:
    projects = projects_for_user(user=request.user).order_by("name", "owner__username")
    return render(request, "projects/project_list.html", {"projects": projects, "form": form}, status=status)


@login_required
@require_GET
def project_list(request: ConsoleRequest) -> HttpResponse:
    return _project_list(request, ProjectForm())


@login_required
@require_POST
def project_new(request: ConsoleRequest) -> HttpResponse:
    form = ProjectForm(request.POST)
    if form.is_valid():
        try:
            project = project_create(owner=request.user, name=form.cleaned_data["name"])
        except Invalid as error:
            add_invalid(form, error, default_field="name")
        else:
            return redirect("project-overview", project=project.public_id)
    return _project_list(request, form, status=400)


def project_remove(request: ConsoleRequest, project: Project) -> HttpResponse:
    project_delete(project=project)
    messages.success(request, f"Deleted project {project.name} and all its data.")
    return redirect("project-list")


def _members_page(request: ConsoleRequest, project: Project, form: MemberForm, status: int = 200) -> HttpResponse:
    context = {
        "project": project,
        "section": "members",
        "members": project_members(project=project),
        "is_owner": project.owner_id == request.user.pk,
        "form": form,
    }
    return render(request, "projects/members.html", context, status=status)


def member_list(request: ConsoleRequest, project: Project) -> HttpResponse:
    return _members_page(request, project, MemberForm())


def member_add(request: ConsoleRequest, project: Project) -> HttpResponse:
    form = MemberForm(request.POST)
    if form.is_valid():
        try:
            membership_add(project=project, username=form.cleaned_data["username"])
        except Invalid as error:
            add_invalid(form, error, default_field="username")
        else:
            return redirect("member-list", project=project.public_id)
    return _members_page(request, project, form, status=400)


def member_remove(request: ConsoleRequest, project: Project, username: str) -> HttpResponse:
    membership_remove(project=project, username=username)
    messages.success(request, f"Removed {username} from {project.name}.")
    return redirect("member-list", project=project.public_id)


# The new key's secret waits in the session for the one page that shows it (POST/redirect/GET: a reload
# neither creates a second key nor shows the secret again).
NEW_KEY_SESSION = "new_api_key"


def _api_keys_page(request: ConsoleRequest, form: ApiKeyForm, status: int = 200) -> HttpResponse:
    context = {
        "keys": api_keys_for_user(user=request.user),
        "form": form,
        "new_key": request.session.pop(NEW_KEY_SESSION, None),
        "base_url": request.build_absolute_uri("/").rstrip("/"),
        "section": "api-keys",
    }
    return render(request, "projects/api_keys.html", context, status=status)


@login_required
@require_GET
def api_key_list(request: ConsoleRequest) -> HttpResponse:
    return _api_keys_page(request, ApiKeyForm())


@login_required
@require_http_methods(["GET", "POST"])
def api_key_new(request: ConsoleRequest) -> HttpResponse:
    if request.method == "GET":  # a bookmarked or reloaded form URL: the form is on the list
        return redirect("api-key-list")
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _api_keys_page(request, form, status=400)
    try:
        key, secret = api_key_create(user=request.user, **form.cleaned_data)
    except Invalid as error:
        add_invalid(form, error, default_field="name")
        return _api_keys_page(request, form, status=400)
    request.session[NEW_KEY_SESSION] = f"{key.public_id}:{secret}"
    return redirect("api-key-list")


@login_required
@require_POST
def api_key_remove(request: ConsoleRequest, key_id: str) -> HttpResponse:
    key = api_key_revoke(user=request.user, key_id=key_id)
    messages.success(request, f"Revoked key {key.name or key.public_id}; requests with it are refused from now on.")
    return redirect("api-key-list")
