"""Managing things in real Chromium: live daemon health, traces (start, stop, rename, delete, uploads that fail),
path hints, API keys and members, form errors, confirmations, long names and a 390 px wide screen."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import FilePayload, Page, expect

from daemons.services import daemons_touch
from projects.models import Project, User
from projects.services import api_key_create, project_create

from ..conftest import PASSWORD
from .conftest import NARROW, answer_next_confirm, overflow_x, shot
from .test_console_first_run import heartbeat

pytestmark = pytest.mark.browser

LONG_NAME = "a-project-name-that-is-sixty-four-characters-long-for-the-layout"


@pytest.fixture
def setup(project: Project, alice: User) -> str:
    """Made before Playwright starts its event loop in this thread: a daemon silent for two minutes, a project
    with a 64-character name, and alice's key."""
    daemons_touch(project_id=project.pk, names=["web-1"], now=timezone.now() - timedelta(minutes=2))
    project_create(owner=alice, name=LONG_NAME)
    key, secret = api_key_create(user=alice, name="laptop")
    return f"{key.public_id}:{secret}"


def log_in(page: Page, base: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_an_owner_manages_daemons_traces_hints_keys_and_members(setup: str, live_server: object, page: Page) -> None:
    base, key = str(live_server), setup
    log_in(page, base)
    shot(page, "projects")

    # A heartbeat turns the daemon's badge healthy while the page is open.
    page.goto(f"{base}/projects/shop/daemons/")
    badge = page.locator("#daemon-table tbody tr", has_text="web-1").locator(".badge")
    expect(badge).to_have_text("unhealthy")
    shot(page, "daemons")
    traffic = {"project": "shop", "since": "2026-11-27T12:00:00Z", "received": 12408, "uploaded": 12400}
    heartbeat(base, key, "shop", traffic=[{**traffic, "pending": 5, "dropped": {"queue_full": 3}}])
    expect(badge).to_have_text("healthy", timeout=15_000)
    expect(page.locator("#daemon-table tbody tr", has_text="web-1")).to_contain_text(
        "12,408 received · 12,400 uploaded · 5 pending · 3 dropped: queue full"
    )
    shot(page, "daemons-traffic")

    # Start: the name is lowered, the start confirmed, the end reads as the full duration.
    page.locator(".sidenav").get_by_role("link", name="Traces").click()
    expect(page.get_by_text("No traces yet.")).to_be_visible()
    page.get_by_label("Duration").select_option(label="15 min")
    page.get_by_label("Name").fill("Checkout-Flow")
    page.get_by_role("button", name="Start trace").click()
    expect(page.get_by_role("status")).to_have_text(
        "Started checkout-flow for 15 min; daemons begin capturing within a second."
    )
    row = page.locator("#trace-table tbody tr", has_text="checkout-flow")
    expect(row).to_contain_text("ends in 15 minutes")
    expect(row.locator("td").nth(4)).to_have_text("15 min")  # duration
    page.locator(".sidenav").get_by_role("link", name="Overview").click()
    active = page.locator("#overview-live .rows li", has_text="checkout-flow")
    expect(active).to_contain_text("ends in 15 minutes")
    shot(page, "overview-active")  # the active trace stays in its card at both widths
    page.locator(".sidenav").get_by_role("link", name="Traces").click()
    # A taken name is a field error, not a 500.
    page.get_by_label("Name").fill("checkout-flow")
    page.get_by_role("button", name="Start trace").click()
    expect(page.locator("#start-form .errorlist")).to_have_text("A trace named 'checkout-flow' exists in this project.")
    shot(page, "traces-start-error")

    # Stop asks first; dismissing keeps it running.
    asked = answer_next_confirm(page, accept=False)
    row.get_by_role("button", name="Stop").click()
    expect(row.locator(".badge").first).to_have_text("active")
    assert asked == ["Stop checkout-flow? Daemons stop capturing at once and the final model builds."]
    answer_next_confirm(page, accept=True)
    row.get_by_role("button", name="Stop").click()
    expect(page.get_by_role("status")).to_have_text("Stopped checkout-flow; its final model is building.")
    expect(row.locator(".badge").first).to_have_text("stopped")

    # Rename (errors under the field first), then delete with a confirmation.
    row.get_by_role("link", name="Edit").click()
    page.get_by_label("Name").fill("har")
    page.get_by_role("button", name="Rename").click()
    expect(page.locator("#rename-form .errorlist")).to_have_text("'har' is reserved; choose another name.")
    shot(page, "trace-edit-error")
    page.get_by_label("Name").fill("Checkout-2")
    page.get_by_role("button", name="Rename").click()
    expect(page.get_by_role("status")).to_have_text("Renamed checkout-flow to checkout-2.")
    expect(page.get_by_role("heading", name="checkout-2", exact=True)).to_be_visible()
    shot(page, "trace-detail-stopped")
    page.get_by_role("link", name="Rename or delete").click()
    shot(page, "trace-edit")
    answer_next_confirm(page, accept=True)
    page.get_by_role("button", name="Delete trace").click()
    expect(page.get_by_role("status")).to_have_text(
        "Deleted checkout-2; the project model is rebuilding without its traffic."
    )
    expect(page.locator("#trace-table tbody tr")).to_have_count(0)
    shot(page, "traces-empty")

    # A file that is not a HAR becomes a trace named after it whose page says why nothing could be read.
    broken: FilePayload = {"name": "broken.har", "mimeType": "application/json", "buffer": b"not json"}
    page.get_by_label("HAR file").set_input_files(files=[broken])
    page.get_by_role("button", name="Upload").click()
    expect(page).to_have_url(re.compile(r"/traces/broken/$"))
    for _ in range(40):  # the worker imports the file in the background
        if page.locator("#import-errors").count():
            break
        page.wait_for_timeout(250)
        page.reload()
    expect(page.locator("#import-errors")).to_contain_text("Not a JSON HAR file")
    shot(page, "traces-har-error")

    # Path hints: every malformed line is named under its field.
    page.locator(".sidenav").get_by_role("link", name="Path hints").click()
    page.get_by_label("Force templates").fill("/{unclosed\n/users/{}")
    page.get_by_role("button", name="Save and rebuild").click()
    errors = page.locator("#path-hints-form .errorlist")
    expect(errors).to_contain_text("Line 1 (/{unclosed)")
    expect(errors).to_contain_text("Line 2 (/users/{})")
    shot(page, "path-hints-errors")

    # Members: an unknown user is a field error.
    page.locator(".sidenav").get_by_role("link", name="Members").click()
    page.get_by_label("Username").fill("nobody")
    page.get_by_role("button", name="Add member").click()
    expect(page.locator(".errorlist")).to_have_text("No user with this username.")
    shot(page, "members-error")

    # API keys: revoke asks, then says it is done.
    page.get_by_role("link", name="API keys").click()
    shot(page, "api-keys")
    answer_next_confirm(page, accept=True)
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("status")).to_have_text("Revoked key laptop; requests with it are refused from now on.")

    # A 64-character project name neither widens the page nor breaks the bars (shot() checks no sideways scroll).
    page.goto(f"{base}/projects/{LONG_NAME}/")
    expect(page.get_by_role("heading", name=LONG_NAME)).to_be_visible()
    shot(page, "overview-long-name")

    # At 390 px every link of the top and side navigation is on screen, and the page does not scroll sideways.
    page.set_viewport_size({"width": NARROW, "height": 800})
    page.goto(f"{base}/projects/shop/")
    for link in page.locator(".topnav a, .topnav button, .sidenav a").all():
        box = link.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= NARROW, link.inner_text()
    assert overflow_x(page) == 0
    # Keyboard: Tab reaches the skip link first, and focus is visible.
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "[document.activeElement.textContent, getComputedStyle(document.activeElement).outlineStyle]"
    )
    assert focused == ["Skip to content", "solid"]
