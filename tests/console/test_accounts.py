import pytest
from django.test import Client

from projects.models import User

pytestmark = pytest.mark.django_db


def test_the_root_redirects_to_projects_and_anonymous_users_to_login(client: Client) -> None:
    assert client.get("/")["Location"] == "/projects/"
    response = client.get("/projects/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/projects/"


def test_it_signs_up_and_logs_in(client: Client) -> None:
    response = client.post(
        "/signup/", {"username": "dora", "password1": "a-long-passphrase-9", "password2": "a-long-passphrase-9"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/projects/"
    assert User.objects.filter(username="dora").exists()
    assert "dora" in client.get("/projects/").text


def test_signup_shows_errors_next_to_the_fields(client: Client) -> None:
    response = client.post("/signup/", {"username": "dora", "password1": "a-long-passphrase-9", "password2": "other"})
    assert response.status_code == 400
    assert "The two password fields didn" in response.text
    assert not User.objects.filter(username="dora").exists()


def test_it_rejects_a_taken_username(client: Client, alice: User) -> None:
    response = client.post(
        "/signup/", {"username": "alice", "password1": "a-long-passphrase-9", "password2": "a-long-passphrase-9"}
    )
    assert response.status_code == 400
    assert "already exists" in response.text


def test_it_logs_in_and_out(client: Client, alice: User) -> None:
    assert "Log in to Pawprint" in client.get("/login/").text
    response = client.post("/login/", {"username": "alice", "password": "correct-horse-battery-staple"})
    assert response["Location"] == "/projects/"
    assert client.post("/logout/")["Location"] == "/login/"
    assert client.get("/projects/").status_code == 302


def test_a_wrong_password_is_an_error(client: Client, alice: User) -> None:
    response = client.post("/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.text
