"""Chromium through Playwright (a browser per test: its event loop must not outlive the test, or the next
test's database fixtures run inside it), screenshots at two widths."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page, sync_playwright

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
WIDE, NARROW = 1366, 390


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": WIDE, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def overflow_x(page: Page) -> int:
    """How many pixels the page is wider than the window (0 when nothing spills out)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


# Inputs a screen reader would announce without a name.
UNLABELLED = """[...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
  .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute("aria-label") && !e.getAttribute("aria-labelledby"))
  .map((e) => e.name || e.id || e.outerHTML)"""


def shot(page: Page, name: str) -> None:
    """Screenshots of the page at 1366 and 390 px wide (tests/browser/screenshots/, ignored by git); every input
    has a label, and at both widths nothing makes the page scroll sideways."""
    assert page.evaluate(UNLABELLED) == [], f"{name} has inputs without a label"
    SCREENSHOTS.mkdir(exist_ok=True)
    for width in (WIDE, NARROW):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
        assert overflow_x(page) == 0, f"{name} scrolls sideways at {width} px"
    page.set_viewport_size({"width": WIDE, "height": 900})


def answer_next_confirm(page: Page, *, accept: bool) -> list[str]:
    """Answer the next confirm() dialog; returns the list its message is appended to."""
    messages: list[str] = []

    def answer(dialog: Dialog) -> None:
        messages.append(dialog.message)
        if accept:
            dialog.accept()
        else:
            dialog.dismiss()

    page.once("dialog", answer)
    return messages
