"""A new user in real Chromium: sign-up, the first-run checklist ticking itself, and the ways in."""

import base64
import json
import re
import subprocess
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .conftest import shot

pytestmark = pytest.mark.browser

SMALL_HAR = Path(__file__).resolve().parent.parent / "fixtures" / "small.har"
BUILD_TIMEOUT_MS = 60_000


def heartbeat(
    base: str, key: str, project: str, daemon_name: str = "web-1", traffic: list[dict[str, object]] | None = None
) -> None:
    """What pawprint-agent sends every 20 s (with what became of each project's entries, once it has any)."""
    sent = {"daemon_name": daemon_name, "version": "1.0.0", "projects": [project]}
    body = json.dumps(sent if traffic is None else {**sent, "traffic": traffic}).encode()
    request = urllib.request.Request(f"{base}/api/v1/daemon/heartbeat", data=body, method="POST")  # noqa: S310
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", "Basic " + base64.b64encode(key.encode()).decode())
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (the live server's http URL)
        assert response.status == 200


def test_a_new_user_is_walked_from_sign_up_to_a_first_model(
    page: Page, live_server: object, celery_worker: subprocess.Popen[bytes]
) -> None:
    base = str(live_server)
    page.goto(f"{base}/login/")
    shot(page, "login")
    page.get_by_role("link", name="Sign up").first.click()
    page.get_by_label("Username").fill("erin")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Password confirmation").fill("other")
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator(".errorlist")).to_contain_text("The two password fields didn\u2019t match.")
    shot(page, "signup-error")
    page.get_by_label("Password", exact=True).fill("a-long-passphrase-9")
    page.get_by_label("Password confirmation").fill("a-long-passphrase-9")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_text("No projects yet.")).to_be_visible()
    shot(page, "projects-empty")

    page.get_by_label("Name").fill("bad name!")
    page.get_by_role("button", name="Create project").click()
    expect(page.locator("#new-project .errorlist")).to_contain_text("Use 1 to 64 lowercase letters")
    page.get_by_label("Name").fill("Shop-API")  # lowered, not refused
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="shop-api", exact=True)).to_be_visible()
    steps = page.locator("#first-run-steps")
    expect(steps).to_contain_text("Get started · 0 of 4 done")
    expect(page.locator("#agent-commands")).to_contain_text("--key 'KEY_ID:SECRET'")
    expect(page.locator("#django-settings")).to_contain_text('PAWPRINT_PROJECT = "shop-api"')
    shot(page, "overview-first-run")

    page.locator("#way-agent").get_by_role("link", name="Create an API key").click()
    expect(page.get_by_text("No API keys yet.")).to_be_visible()
    shot(page, "api-keys-empty")
    page.get_by_label("Name").fill("laptop")
    page.get_by_role("button", name="Create key").click()
    key = page.locator("#new-key").inner_text()
    key_id = key.split(":")[0]

    page.goto(f"{base}/projects/shop-api/")
    expect(steps).to_contain_text("Get started · 1 of 4 done")
    expect(page.locator("#agent-commands")).to_contain_text(f"--key '{key_id}:SECRET'")
    # The agent's first heartbeat ticks the step while the page is open.
    heartbeat(base, key, "shop-api")
    expect(steps).to_contain_text("Get started · 2 of 4 done", timeout=10_000)
    expect(steps.locator("li.done")).to_have_count(2)

    page.locator("#way-har").get_by_label("HAR file").set_input_files(SMALL_HAR)
    page.locator("#way-har").get_by_role("button", name="Upload").click()
    expect(page.get_by_role("heading", name="small", exact=True)).to_be_visible()  # named after the file
    expect(page.get_by_role("status")).to_have_text("Uploaded small.har as small; its model is building.")
    expect(page.locator(".endpoint-row")).to_have_count(7, timeout=BUILD_TIMEOUT_MS)
    page.locator(".sidenav").get_by_role("link", name="Overview").click()
    expect(page.locator("#first-run-steps")).to_have_count(0)  # all four done: the checklist is gone
    expect(page.locator("#overview-live")).to_contain_text(re.compile(r"1\s*healthy"))
    shot(page, "overview-after-first-run")
