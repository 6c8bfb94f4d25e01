"""Production settings: `check --deploy` is clean with the environment the README documents, a weak SECRET_KEY
stops start-up outside the embedded mode; console sign-in is throttled; console words are not project names."""

import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache

from controlplane import console_urls
from projects.services import RESERVED_PROJECT_NAMES

from ..conftest import PASSWORD, make_user

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "PAWPRINT_EMBEDDED": "0",
    "ALLOWED_HOSTS": "pawprint.example",
    "SECURE_COOKIES": "1",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_PRELOAD": "1",
}


def manage(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": "/usr/bin:/bin", "PAWPRINT_VAR_DIR": str(tmp_path), **env}
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], env=environment, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_the_documented_environment(tmp_path) -> None:
    done = manage(
        tmp_path, "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, SECRET_KEY=secrets.token_urlsafe(50)
    )
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout


@pytest.mark.parametrize("key", [None, "change-me-in-production", "short", "x" * 60])
def test_a_missing_or_weak_secret_key_stops_start_up_outside_the_embedded_mode(tmp_path, key: str | None) -> None:
    done = manage(tmp_path, "check", **PRODUCTION, **({} if key is None else {"SECRET_KEY": key}))
    assert done.returncode != 0
    assert "SECRET_KEY must be set" in done.stderr


def test_the_embedded_mode_needs_no_secret_key(tmp_path) -> None:
    assert manage(tmp_path, "check").returncode == 0


@pytest.fixture
def clean_cache() -> Iterator[None]:
    """Sign-in failures are counted in the cache, which outlives a test: no lock is left to other tests."""
    cache.clear()
    yield
    cache.clear()


def test_wrong_passwords_lock_one_username_from_one_address_for_a_while(client, db, settings, clean_cache) -> None:
    make_user("alice")
    make_user("bob")
    for _ in range(settings.LOGIN_MAX_FAILURES):
        assert "Please enter a correct username" in client.post("/login/", {"username": "alice", "password": "no"}).text
    locked = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert "try again in 15 minutes" in locked.text
    assert "_auth_user_id" not in client.session
    other_address = client.post("/login/", {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="10.0.0.9")
    assert other_address.status_code == 302
    assert client.post("/login/", {"username": "bob", "password": PASSWORD}).status_code == 302


def test_every_console_word_after_projects_is_reserved() -> None:
    words = {
        match.group(1)
        for pattern in console_urls.urlpatterns
        if (match := re.fullmatch(r"projects/([a-z0-9-]+)/.*", str(pattern.pattern)))
    }
    assert words and words <= RESERVED_PROJECT_NAMES


def test_a_reserved_name_is_a_form_error_in_the_console(alice, client) -> None:
    client.force_login(alice)
    response = client.post("/projects/new/", {"name": "new"})
    assert response.status_code == 400
    assert "is reserved" in response.text
