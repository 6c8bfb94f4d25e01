from collections.abc import Callable

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.utils import timezone

from daemons.services import daemons_touch
from projects.models import Membership, Project, User
from projects.services import api_key_create
from traces.services import trace_start

from ..conftest import har_upload
from .conftest import SMALL_HAR, htmx

Login = Callable[[User], Client]


def test_the_list_shows_owned_and_shared_projects(login: Login, project: Project, charlie: User) -> None:
    assert "shop" in login(project.owner).get("/projects/").text
    bob = User.objects.get(username="bob")
    assert project.public_id in login(bob).get("/projects/").text
    assert project.public_id not in login(charlie).get("/projects/").text


def test_it_creates_a_project_and_opens_it(login: Login, alice: User) -> None:
    response = login(alice).post("/projects/new/", {"name": "billing-api"})
    created = Project.objects.get(owner=alice, name="billing-api")
    assert response.status_code == 302
    assert response["Location"] == f"/projects/{created.public_id}/"


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("not a slug", "Use 1 to 64 lowercase letters"),
        ("shop", "You already have a project with this name."),
        ("SHOP", "You already have a project with this name."),  # lowered, then taken
    ],
)
def test_project_form_errors_are_shown_next_to_the_name(login: Login, project: Project, name: str, error: str) -> None:
    response = login(project.owner).post("/projects/new/", {"name": name})
    assert response.status_code == 400
    assert error in response.text
    assert 'class="errorlist"' in response.text


@pytest.mark.parametrize("ref", ["name", "public_id"])
def test_overview_by_name_or_id_for_owner_and_member(login: Login, project: Project, bob: User, ref: str) -> None:
    url = f"/projects/{getattr(project, ref)}/"
    for user in (project.owner, bob):
        response = login(user).get(url)
        assert response.status_code == 200
        assert "Active traces" in response.text
        assert "Latest model" in response.text


def test_only_the_owner_sees_the_delete_button(login: Login, project: Project, bob: User) -> None:
    assert "Delete project" in login(project.owner).get(f"/projects/{project.public_id}/").text
    assert "Delete project" not in login(bob).get(f"/projects/{project.public_id}/").text


def test_the_overview_polls_while_something_moves_and_then_stops(login: Login, project: Project) -> None:
    client, url = login(project.owner), f"/projects/{project.public_id}/"
    quiet = client.get(url, HTTP_HX_REQUEST="true")
    assert quiet.status_code == 286  # nothing capturing, building or heartbeating: htmx stops polling
    assert "hx-trigger" not in client.get(url).text.split('id="overview-live"')[1].split(">")[0]
    trace_start(project=project, user=project.owner, duration_minutes=60)
    live = client.get(url, HTTP_HX_REQUEST="true")
    assert live.status_code == 200
    assert live.text.lstrip().startswith('<div id="overview-live" hx-get=')
    assert "<html" not in live.text


def test_the_owner_deletes_a_project(login: Login, project: Project) -> None:
    client = login(project.owner)
    response = client.post(f"/projects/{project.public_id}/delete/")
    assert response["Location"] == "/projects/"
    assert not Project.objects.filter(pk=project.pk).exists()
    assert "Deleted project shop and all its data." in client.get("/projects/").text


def test_uppercase_project_names_are_lowered(login: Login, alice: User) -> None:
    login(alice).post("/projects/new/", {"name": "Billing-API"})
    assert Project.objects.get(owner=alice).name == "billing-api"


def test_a_new_project_walks_through_the_three_ways_in(login: Login, project: Project) -> None:
    page = login(project.owner).get(f"/projects/{project.public_id}/").text
    assert "Get started · 0 of 4 done" in page
    for way in ('id="way-har"', 'id="way-agent"', 'id="way-django"'):
        assert way in page
    assert "--key 'KEY_ID:SECRET' \\\n  --project shop</pre>" in page
    assert 'PAWPRINT_PROJECT = "shop"' in page
    assert "hx-target" not in page.split('id="first-run-steps"')[1].split(">")[0]
    assert 'hx-trigger="every 3s"' in page.split('id="first-run-steps"')[1].split(">")[0]


def test_the_checklist_ticks_the_key_the_daemon_the_trace_and_the_model(
    login: Login, project: Project, django_capture_on_commit_callbacks
) -> None:
    client, url = login(project.owner), f"/projects/{project.public_id}/"
    key, _ = api_key_create(user=project.owner, name="laptop")
    page = client.get(url).text
    assert "Get started · 1 of 4 done" in page
    assert f"--key '{key.public_id}:SECRET'" in page
    daemons_touch(project_id=project.pk, names=["web-1"], now=timezone.now())
    steps = client.get(url, **htmx("first-run-steps"))
    assert steps.status_code == 200
    assert steps.text.lstrip().startswith('<div id="first-run-steps"')
    assert "Get started · 2 of 4 done" in steps.text
    with django_capture_on_commit_callbacks(execute=True):
        har_upload(project=project, user=project.owner, content=SMALL_HAR.read_bytes())
    done = client.get(url, **htmx("first-run-steps"))
    assert done.status_code == 286  # complete: the checklist stops polling
    assert "Get started · 4 of 4 done" in done.text
    assert "Get started" not in client.get(url).text


def test_members_page_for_owner_and_member(login: Login, project: Project, bob: User) -> None:
    owner_page = login(project.owner).get(f"/projects/{project.public_id}/members/").text
    assert "Add a member" in owner_page
    assert "bob" in owner_page
    member_page = login(bob).get(f"/projects/{project.public_id}/members/").text
    assert "bob" in member_page
    assert "Add a member" not in member_page
    assert "Only the owner, alice, can add or remove members." in member_page


def test_the_owner_adds_and_removes_a_member(login: Login, project: Project, charlie: User) -> None:
    client = login(project.owner)
    response = client.post(f"/projects/{project.public_id}/members/add/", {"username": "charlie"})
    assert response["Location"] == f"/projects/{project.public_id}/members/"
    assert Membership.objects.filter(project=project, user=charlie).exists()
    client.post(f"/projects/{project.public_id}/members/charlie/remove/")
    assert not Membership.objects.filter(project=project, user=charlie).exists()


def test_adding_an_unknown_user_shows_the_error(login: Login, project: Project) -> None:
    response = login(project.owner).post(f"/projects/{project.public_id}/members/add/", {"username": "nobody"})
    assert response.status_code == 400
    assert "No user with this username." in response.text


def test_the_overview_shows_active_traces_and_the_latest_model(login: Login, project: Project) -> None:
    trace_start(project=project, user=project.owner, duration_minutes=60, name="live-one")
    page = login(project.owner).get(f"/projects/{project.public_id}/").text
    assert "live-one" in page
    assert ">in 1\xa0hour</time>" in page  # 59:59 left reads as the hour it was started for
    assert "No model yet." in page
    assert "just now" not in page  # started times are on the traces page


def test_recent_times_read_just_now(login: Login, project: Project) -> None:
    assert "just now" in login(project.owner).get("/projects/").text


def test_every_page_has_a_favicon(login: Login, project: Project) -> None:
    page = login(project.owner).get(f"/projects/{project.public_id}/").text
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    assert finders.find("favicon.svg")
