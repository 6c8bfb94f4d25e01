"""The console in real Chromium: sign up, project, key, live trace, HAR upload, model, endpoints, path hints, diff,
alert channels and monitors."""

import hmac
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from projects.models import Project

from ..conftest import PASSWORD, Receiver
from .conftest import answer_next_confirm, shot

pytestmark = pytest.mark.browser

SMALL_HAR = Path(__file__).resolve().parent.parent / "fixtures" / "small.har"
BUILD_TIMEOUT_MS = 60_000


def test_a_user_goes_from_sign_up_to_an_endpoint(
    page: Page, live_server: object, celery_worker: subprocess.Popen[bytes]
) -> None:
    base = str(live_server)
    page.goto(f"{base}/signup/")
    page.get_by_label("Username").fill("dora")
    page.get_by_label("Password", exact=True).fill("a-long-passphrase-9")
    page.get_by_label("Password confirmation").fill("a-long-passphrase-9")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    expect(page.get_by_text("No projects yet.")).to_be_visible()

    page.get_by_label("Name").fill("shop")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="shop", exact=True)).to_be_visible()
    expect(page.get_by_text("No trace is capturing traffic.")).to_be_visible()

    page.locator(".sidenav").get_by_role("link", name="Daemons").click()
    expect(page.locator("#curl-commands")).to_contain_text("/api/v1/projects/shop/daemon")
    shot(page, "daemons-empty")

    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("laptop daemon")
    page.get_by_label("Scope").select_option("full")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#new-key")).to_have_text(re.compile(r"^apk_[0-9A-Za-z]{22}:\S{40,}$"))
    expect(page).to_have_url(f"{base}/settings/api-keys/")  # redirected after the POST
    key_id = page.locator("#new-key").inner_text().split(":")[0]
    shot(page, "api-key-created")
    page.reload()  # F5 repeats the GET: no second key, and the secret is gone
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text(key_id)
    expect(page.locator("#new-key")).to_have_count(0)
    page.goto(f"{base}/settings/api-keys/new/")  # the form's URL lands on the list, not on a bare 405
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()

    page.goto(f"{base}/projects/shop/")
    page.locator(".sidenav").get_by_role("link", name="Traces").click()
    page.get_by_label("Duration").select_option(label="15 min")
    page.get_by_label("Name").fill("first-look")
    page.get_by_role("button", name="Start trace").click()
    row = page.locator("#trace-table tbody tr", has_text="first-look")
    expect(row.locator(".badge")).to_have_text("active")
    expect(row).to_contain_text("ends in 15 minutes")
    expect(page.get_by_role("status")).to_have_text(
        "Started first-look for 15 min; daemons begin capturing within a second."
    )
    shot(page, "traces-active")
    answer_next_confirm(page, accept=True)
    row.get_by_role("button", name="Stop").click()
    expect(row.locator(".badge")).to_have_text("stopped")
    expect(row).to_contain_text("model v1 ready", timeout=BUILD_TIMEOUT_MS)  # the table polls until the build ends

    page.get_by_label("HAR file").set_input_files(SMALL_HAR)
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#trace-live .badge")).to_have_text("finished")
    # The build progress polls; the page reloads itself when the model is ready.
    expect(page.locator(".endpoint-row")).to_have_count(7, timeout=BUILD_TIMEOUT_MS)
    expect(page.locator("#trace-live")).to_contain_text("model v1 ready")
    expect(page.get_by_role("link", name="Download OpenAPI (YAML)")).to_have_attribute(
        "href", re.compile(r"format=yaml$")
    )
    shot(page, "trace-endpoints")

    page.get_by_label("Method").select_option("DELETE")
    expect(page.locator(".endpoint-row")).to_have_count(1)
    expect(page.locator(".endpoint-row .method")).to_have_text("DELETE")
    expect(page).to_have_url(re.compile(r"method=DELETE"))
    shot(page, "trace-endpoints-delete")
    page.reload()  # the pushed URL works without htmx too
    expect(page.locator(".endpoint-row")).to_have_count(1)

    page.get_by_label("Method").select_option("")
    page.get_by_label("Path").fill("users/{user_id}")
    expect(page.locator(".endpoint-row")).to_have_count(2)
    page.get_by_role("link", name="/v1/users/{user_id}", exact=True).click()
    expect(page.locator("h1")).to_have_text(re.compile(r"^GET\s+/v1/users/\{user_id\}$"))
    parameters = page.locator("#parameters")
    expect(parameters).to_contain_text("user_id")
    expect(parameters).to_contain_text("(uuid)")
    expect(page.locator("#responses")).to_contain_text("200")
    expect(page.locator("#latency")).to_contain_text("ms")
    shot(page, "endpoint-detail")

    page.locator(".sidenav").get_by_role("link", name="Overview").click()
    expect(page.get_by_text("Latest model")).to_be_visible()
    shot(page, "overview")

    page.locator(".sidenav").get_by_role("link", name="Traces").click()
    expect(page.locator("#trace-table tbody tr")).to_have_count(2)
    expect(page.locator("#trace-table")).not_to_have_attribute("hx-trigger", re.compile("every"))  # nothing can change
    shot(page, "traces-list")
    page.locator(".sidenav").get_by_role("link", name="Members").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("owner")
    shot(page, "members")

    # Path hints apply to past traffic: the stored witnesses are rebuilt, nothing is captured again.
    page.locator(".sidenav").get_by_role("link", name="Path hints").click()
    page.get_by_label("Hide").fill("/v1/orders")
    page.get_by_label("Force templates").fill("files")
    page.get_by_role("button", name="Save and rebuild").click()
    expect(page.locator("#path-hints-form .field", has_text="Force templates")).to_contain_text("Line 1 (files)")
    shot(page, "path-hints-error")
    page.get_by_label("Force templates").fill("")
    page.get_by_role("button", name="Save and rebuild").click()
    expect(page.get_by_role("status")).to_have_text("Saved; rebuilding 1 trace from stored traffic.")
    expect(page.get_by_label("Hide")).to_have_value("/v1/orders")
    shot(page, "path-hints")

    page.locator(".sidenav").get_by_role("link", name="Traces").click()
    page.locator("#trace-table tbody tr").nth(0).get_by_role("link").first.click()
    expect(page.locator("#trace-live")).to_contain_text("model v2 ready", timeout=BUILD_TIMEOUT_MS)
    expect(page.locator(".endpoint-row")).to_have_count(6)
    expect(page.locator("#endpoints")).not_to_contain_text("/v1/orders")
    shot(page, "trace-endpoints-rebuilt")
    page.get_by_role("button", name="Rebuild model").click()
    expect(page.locator("#trace-live")).to_contain_text("model v3 ready", timeout=BUILD_TIMEOUT_MS)
    expect(page.locator(".endpoint-row")).to_have_count(6)

    # The merged model follows the trace builds; its page refreshes itself when a new version is ready.
    page.locator(".sidenav").get_by_role("link", name="API model").click()
    expect(page.locator("#model-live")).not_to_have_attribute(
        "hx-trigger", re.compile("every"), timeout=BUILD_TIMEOUT_MS
    )
    expect(page.locator(".endpoint-row")).to_have_count(6)
    expect(page.get_by_role("link", name="Download OpenAPI (YAML)")).to_have_attribute(
        "href", re.compile(r"/api/v1/projects/[^/]+/openapi\?format=yaml$")
    )
    shot(page, "project-model")
    page.get_by_role("link", name="/v1/users/{user_id}", exact=True).first.click()
    expect(page.locator("#parameters")).to_contain_text("user_id")
    expect(page.get_by_role("link", name="← API model")).to_be_visible()

    page.go_back()
    page.locator(".sidenav").get_by_role("link", name="Traces").click()
    page.locator("#trace-table tbody tr").nth(0).get_by_role("link").first.click()
    page.get_by_role("link", name="Compare with project model").click()
    expect(page.locator("#no-differences")).to_have_text("No differences.")
    shot(page, "diff-none")
    page.get_by_label("Base").select_option(label="first-look")
    page.get_by_role("button", name="Compare").click()
    expect(page.locator("tr.diff-added")).to_have_count(6)
    expect(page.locator("#diff-summary")).to_contain_text("6 added, 0 removed, 0 changed")
    shot(page, "diff-added")


@pytest.fixture
def worker_env() -> dict[str, str]:
    return {"ALERTS_ALLOW_PRIVATE_URLS": "1"}  # the test's webhook receiver listens on 127.0.0.1


def test_an_owner_adds_a_webhook_sends_it_a_test_and_adds_a_monitor(
    project: Project,  # made before Playwright starts its event loop in this thread
    settings: Any,
    receiver: Receiver,
    live_server: object,
    celery_worker: subprocess.Popen[bytes],
    page: Page,
) -> None:
    settings.ALERTS_ALLOW_PRIVATE_URLS = True
    base = str(live_server)
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{base}/projects/shop/")
    page.locator(".sidenav").get_by_role("link", name="Channels").click()
    expect(page.get_by_text("No channels yet")).to_be_visible()
    page.get_by_label("Kind").select_option("webhook")
    page.get_by_label("Name").fill("ops")
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_role("button", name="Add channel").click()
    expect(page.locator("#new-secret")).to_have_text(re.compile(r"^whsec_\S{40,}$"))
    secret = page.locator("#new-secret").inner_text()
    shot(page, "alert-channel-created")

    page.get_by_role("link", name="ops").click()
    page.get_by_role("button", name="Send test notification").click()
    expect(page.get_by_role("status")).to_contain_text("Test notification queued")
    # The delivery log refreshes itself until the worker has sent it.
    expect(page.locator(".delivery-row .badge.delivery-delivered")).to_have_count(1, timeout=30_000)
    expect(page.locator(".delivery-row .attempt")).to_contain_text("200")
    shot(page, "alert-channel-delivered")
    (received,) = receiver.wait_for(1)
    assert received.headers["X-Pawprint-Signature"] == hmac.new(secret.encode(), received.body, "sha256").hexdigest()

    page.locator(".sidenav").get_by_role("link", name="Monitors").click()
    page.get_by_label("Kind").select_option("errors")
    page.get_by_label("Threshold").fill("5")
    page.get_by_role("button", name="Add monitor").click()
    expect(page.locator("tbody tr")).to_contain_text("5xx rate over 5% among at least 20 requests")
    shot(page, "monitors")
    page.locator(".sidenav").get_by_role("link", name="History").click()
    expect(page.locator(".alert-row")).to_have_count(1)
    expect(page.locator(".alert-row")).to_contain_text("test")
    shot(page, "alert-history")
