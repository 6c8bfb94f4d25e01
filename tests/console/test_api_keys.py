import base64
import re
from collections.abc import Callable

import pytest
from django.test import Client

from projects.auth import authenticate_api_key
from projects.models import ApiKey, User
from projects.services import api_key_create

Login = Callable[[User], Client]
pytestmark = pytest.mark.django_db


def test_it_creates_a_key_and_shows_the_secret_once_after_a_redirect(login: Login, alice: User) -> None:
    client = login(alice)
    response = client.post("/settings/api-keys/new/", {"name": "prod daemon", "scope": "ingest"})
    assert response.status_code == 302
    assert response["Location"] == "/settings/api-keys/"
    page = client.get("/settings/api-keys/").text
    shown = re.search(r'<code id="new-key">([^<]+)</code>', page)
    assert shown is not None
    key_id, secret = shown.group(1).split(":", 1)
    assert f"pawprint-agent --url http://testserver --key '{key_id}:{secret}'" in page
    key = ApiKey.objects.get(public_id=key_id)
    assert (key.name, key.scope, key.user) == ("prod daemon", "ingest", alice)
    assert authenticate_api_key("Basic " + base64.b64encode(shown.group(1).encode()).decode()) == key
    reloaded = client.get("/settings/api-keys/").text  # F5 on the page after the redirect: a GET, no new key
    assert key_id in reloaded
    assert secret not in reloaded
    assert ApiKey.objects.count() == 1


def test_the_form_url_sends_a_get_to_the_list(login: Login, alice: User) -> None:
    response = login(alice).get("/settings/api-keys/new/")
    assert response.status_code == 302
    assert response["Location"] == "/settings/api-keys/"


def test_a_bad_scope_is_shown_next_to_the_field(login: Login, alice: User) -> None:
    response = login(alice).post("/settings/api-keys/new/", {"name": "x", "scope": "root"})
    assert response.status_code == 400
    assert "Select a valid choice." in response.text
    assert not ApiKey.objects.exists()


def test_it_lists_only_my_live_keys_with_last_use(login: Login, alice: User, bob: User) -> None:
    mine, _ = api_key_create(user=alice, name="mine")
    theirs, _ = api_key_create(user=bob, name="theirs")
    page = login(alice).get("/settings/api-keys/").text
    assert mine.public_id in page
    assert theirs.public_id not in page
    assert "never" in page


def test_it_revokes_a_key(login: Login, alice: User) -> None:
    key, _ = api_key_create(user=alice, name="old")
    response = login(alice).post(f"/settings/api-keys/{key.public_id}/revoke/")
    assert response["Location"] == "/settings/api-keys/"
    key.refresh_from_db()
    assert key.is_revoked
    page = login(alice).get("/settings/api-keys/").text
    assert key.public_id not in page
    assert "Revoked key old; requests with it are refused from now on." in page


def test_nobody_revokes_another_users_key(login: Login, alice: User, charlie: User) -> None:
    key, _ = api_key_create(user=alice, name="alice's")
    assert login(charlie).post(f"/settings/api-keys/{key.public_id}/revoke/").status_code == 404
    key.refresh_from_db()
    assert not key.is_revoked
