"""Console: Alerts → History, Channels (secret once, test button, delivery log) and Monitors; the diff page marks
breaking changes."""

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from alerts import tasks
from alerts.models import AlertChannel, Monitor
from alerts.services import channel_create, monitor_create
from projects.models import Project, User
from traces.models import Trace

from ..conftest import FIXTURES, Receiver, har_upload
from .conftest import htmx

Login = Callable[[User], Client]
Capture = Callable[..., Any]


def url(project: Project, rest: str) -> str:
    return f"/projects/{project.public_id}/{rest}"


def upload(project: Project, capture: Capture, name: str) -> Trace:
    with capture(execute=True):
        return har_upload(project=project, user=project.owner, content=(FIXTURES / name).read_bytes())


@pytest.mark.parametrize(
    ("page", "label"), [("alerts/", "History"), ("alerts/channels/", "Channels"), ("alerts/monitors/", "Monitors")]
)
def test_owner_and_member_open_the_alert_pages_from_the_nav(
    login: Login, project: Project, bob: User, page: str, label: str
) -> None:
    for user in (project.owner, bob):
        response = login(user).get(url(project, page))
        assert response.status_code == 200
        assert f'href="{url(project, page)}" aria-current="page">{label}</a>' in response.text


def test_the_owner_adds_a_webhook_and_sees_its_secret_once(login: Login, project: Project) -> None:
    client = login(project.owner)
    response = client.post(
        url(project, "alerts/channels/"), {"kind": "webhook", "name": "ops", "url": "https://93.184.215.14/h"}
    )
    assert response.status_code == 201
    channel = AlertChannel.objects.get()
    assert f'<code id="new-secret">{channel.secret}</code>' in response.text
    page = client.get(url(project, "alerts/channels/")).text
    assert channel.secret not in page
    assert "https://93.184.215.14/h" in page and "ops" in page


def test_a_refused_webhook_url_is_shown_next_to_the_field(login: Login, project: Project) -> None:
    response = login(project.owner).post(
        url(project, "alerts/channels/"), {"kind": "webhook", "url": "http://10.0.0.5/"}
    )
    assert response.status_code == 400
    assert "private, loopback or link-local" in response.text
    assert not AlertChannel.objects.exists()


def test_a_member_sees_channels_without_the_add_form_or_delete_buttons(
    login: Login, project: Project, bob: User
) -> None:
    channel_create(project=project, kind="email", email="ops@example.com")
    page = login(bob).get(url(project, "alerts/channels/")).text
    assert "ops@example.com" in page and "Send test" in page
    assert 'id="channel-form"' not in page and ">Delete</button>" not in page
    assert "Only the owner, alice, can add or delete channels." in page


def test_the_test_button_sends_and_the_delivery_log_shows_each_attempt(
    login: Login,
    project: Project,
    bob: User,
    receiver: Receiver,
    settings: Any,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    settings.ALERTS_ALLOW_PRIVATE_URLS = True
    settings.ALERTS_RETRY_BASE_SECONDS = 0
    receiver.statuses = [503]
    receiver.reply = b"try later"
    channel, _ = channel_create(project=project, kind="webhook", url=receiver.url, name="ops")
    client = login(bob)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(project, f"alerts/channels/{channel.public_id}/test/"))
    assert response.status_code == 302
    assert response["Location"] == url(project, f"alerts/channels/{channel.public_id}/")
    assert len(receiver.wait_for(2)) == 2
    page = client.get(response["Location"]).text
    assert "Test notification queued" in page
    assert '<span class="badge delivery-delivered">delivered</span>' in page
    assert page.count('<li class="attempt">') == 2
    assert '<span class="badge s5">503</span>' in page and '<pre class="excerpt">try later</pre>' in page
    assert '<span class="badge s2">200</span>' in page
    partial = client.get(response["Location"], **htmx("delivery-log")).text
    assert partial.lstrip().startswith('<div id="delivery-log"')


def test_the_owner_deletes_a_channel(login: Login, project: Project) -> None:
    channel, _ = channel_create(project=project, kind="email", email="ops@example.com")
    response = login(project.owner).post(url(project, f"alerts/channels/{channel.public_id}/delete/"))
    assert (response.status_code, response["Location"]) == (302, url(project, "alerts/channels/"))
    assert not AlertChannel.objects.exists()


def test_a_member_adds_a_monitor_and_the_owner_deletes_it(login: Login, project: Project, bob: User) -> None:
    response = login(bob).post(
        url(project, "alerts/monitors/"), {"kind": "latency", "threshold": "800", "min_requests": "30", "endpoint": ""}
    )
    assert (response.status_code, response["Location"]) == (302, url(project, "alerts/monitors/"))
    page = login(bob).get(url(project, "alerts/monitors/")).text
    assert "p99 over 800 ms among at least 30 requests" in page and "every endpoint" in page
    assert ">Delete</button>" not in page
    monitor = Monitor.objects.get()
    login(project.owner).post(url(project, f"alerts/monitors/{monitor.public_id}/delete/"))
    assert not Monitor.objects.exists()


def test_a_bad_monitor_is_shown_next_to_its_field(login: Login, project: Project) -> None:
    response = login(project.owner).post(
        url(project, "alerts/monitors/"), {"kind": "errors", "threshold": "5", "min_requests": "20", "endpoint": "/v1"}
    )
    assert response.status_code == 400
    assert "A method and a path template" in response.text
    assert not Monitor.objects.exists()


def test_the_history_shows_a_breaking_model_change_and_links_the_diff_which_marks_it(
    login: Login, project: Project, django_capture_on_commit_callbacks: Capture
) -> None:
    monitor_create(project=project, kind="errors", threshold=50)
    channel_create(project=project, kind="email", email="ops@example.com")
    upload(project, django_capture_on_commit_callbacks, "orders.har")
    upload(project, django_capture_on_commit_callbacks, "orders-breaking.har")
    with django_capture_on_commit_callbacks(execute=True):
        tasks.models_watch()
    client = login(project.owner)
    page = client.get(url(project, "alerts/")).text
    assert '<span class="tag event">model.changed</span> <span class="badge breaking">breaking</span>' in page
    assert "breaks clients" in page
    assert '<span class="badge delivery-delivered">delivered</span>' in page
    diff_url = page.split('<td><a href="http://127.0.0.1:8000')[1].split('"')[0].replace("&amp;", "&")
    diff = client.get(diff_url).text
    assert 'changed · <span class="badge breaking">breaking</span>' in diff
    removed = diff.split("field <code>$.status</code>")[1].split("</li>")[0]
    assert (
        '<span class="badge breaking">breaking</span> <span class="muted small reason">response field removed'
        in removed
    )
    required = diff.split("field <code>$.note</code>")[1].split("</li>")[0]
    assert 'class="muted small reason">request field became required' in required
    assert client.get(url(project, "alerts/"), **htmx("alert-table")).text.lstrip().startswith('<div id="alert-table"')


def test_the_diff_marks_a_new_endpoint_compatible(
    login: Login, project: Project, django_capture_on_commit_callbacks: Capture
) -> None:
    before = upload(project, django_capture_on_commit_callbacks, "orders.har")
    after = upload(project, django_capture_on_commit_callbacks, "orders-new-endpoint.har")
    page = login(project.owner).get(url(project, "diff/"), {"base": before.public_id, "head": after.public_id}).text
    added = page.split('<tr class="diff-added">')[1].split("</tr>")[0]
    assert "/v1/customers" in added
    assert '<span class="badge compatible">compatible</span> <span class="muted small reason">new endpoint' in added
    assert 'changed · <span class="badge compatible">compatible</span>' in page
